"""Colorizer networks, their pretrained parts, presets and checkpoint format."""

# Every input side of every colorizer must divide by this: five stride-2 steps.
SIZE_MULTIPLE = 32
