"""A frame's colour kept or faded as a whole (issue 34, "do no harm").

The bins head invents colour where it has seen little like the frame: an overhead road, a grey yard. Per pixel its
entropy does not tell a wrong colour from a vivid true one (vidcolor/train/README.md, "Do no harm"), but over a
whole frame it does: where the network is unsure of most of the picture and what it renders is vivid anyway, the
picture's true colour is more often near grey. ``ColourGate`` is a logistic regression on two statistics of the
frame, learnt (``vidcolor train-gate``) to give the factor on its a*b* that minimises the a*b* error, photo by
photo, in decibels; ``lift`` trades that PSNR-best factor for more colour (the factor times ``lift``, at most 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .ab_bins import summed_entropy

STATISTICS = 2  # the frame's mean bin entropy (nats), its mean rendered chroma / CHROMA_UNIT
CHROMA_UNIT = 20.0
GATE_POOL = 4  # the entropy is read from the decoder's features averaged over 4x4 places: a frame's mean needs no
# more, nor does the confidence gate's region (3x3 of them); a softmax over the bins at every place costs more than
# the rest of the rendering (the confidence gate read so doubled the int8 graph's time: 18.3 -> 37.5 ms a 256x448
# frame, one thread)
OPEN_BIAS = 6.0  # an untrained gate: sigmoid(6) = 0.998, the colour kept


def pooled_entropy(features: torch.Tensor, head: nn.Conv2d, bins: torch.Tensor) -> torch.Tensor:
    """The decoder's features (B, C, h, w), the bins head and the rendered bins -> the raw bin distribution's
    entropy (``bin_entropy``) at every GATE_POOL x GATE_POOL place (B, 1, h / 4, w / 4)."""
    pooled = F.avg_pool2d(features, GATE_POOL, ceil_mode=True)
    return summed_entropy(F.conv2d(pooled, head.weight[bins], head.bias[bins]))


def frame_statistics(entropy: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """The raw bin distribution's entropy at the pooled places (``pooled_entropy``) and the rendered a*b* (B, 2, h,
    w) -> (B, 2): the mean entropy and the mean chroma."""
    entropy = entropy.mean(dim=(1, 2, 3))
    chroma = ab.float().norm(dim=1).mean(dim=(1, 2)) / CHROMA_UNIT
    return torch.stack((entropy, chroma), dim=1)


class ColourGate(nn.Module):
    """Frame statistics (B, STATISTICS) -> a factor (B, 1, 1, 1) in [0, 1] for the frame's a*b*."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(STATISTICS, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.constant_(self.linear.bias, OPEN_BIAS)

    def forward(self, statistics: torch.Tensor, lift: float = 1.0) -> torch.Tensor:
        factor = torch.sigmoid(self.linear(statistics))
        return (factor * lift).clamp(max=1.0)[:, :, None, None]
