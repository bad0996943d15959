"""What a video's model thread runs instead of the bare model where the user knows colours: the frame's hints
(``track.HintTrack``) go into the model with it, and a reference of the view (``reference.Reference``) takes over
the colour where the frame shows what it shows."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..colorizer import Colorizer
from .hints import Hint
from .reference import Reference
from .track import HintTrack


class VideoGuide:
    """Per stream, frames in order: ``infer`` is ``Colorizer.infer`` with the guidance of each frame's time."""

    def __init__(self, colorizer: Colorizer, hints: Sequence[Hint] = (), reference: Reference | None = None) -> None:
        if hints:
            colorizer.hinted_backend()  # a model without hint attention is refused before the first frame
        self.colorizer, self.reference = colorizer, reference
        self.track = HintTrack(hints) if hints else None

    def infer(self, model_input: torch.Tensor, times: Sequence[float]) -> torch.Tensor:
        """The model's input L* (B, 1, h, w) of frames at ``times`` (seconds) -> the model's planes."""
        planes = self.track.planes(model_input, times) if self.track is not None else None
        return self.colorizer.infer(model_input, planes, self.reference)
