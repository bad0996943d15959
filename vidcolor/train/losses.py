"""Class-rebalanced smooth-L1 on a*b* (Zhang et al. 2016): colours rare in the data weigh more.

Plain regression on a*b* learns the mean colour of each grey level — brownish and washed out. Weighting each
pixel by the inverse of how common its true colour is (smoothed, mixed with a uniform distribution) pushes the
model toward the rarer, saturated colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.ab_bins import BIN_SIZE, BINS_PER_AXIS, soft_encode
from ..models.ab_bins import bin_index as ab_bin_index


def ab_histogram(ab: torch.Tensor) -> torch.Tensor:
    """Counts of a*b* (B, 2, H, W) per bin, float64 (BINS_PER_AXIS^2,)."""
    return torch.bincount(ab_bin_index(ab).flatten(), minlength=BINS_PER_AXIS**2).double()


@dataclass(frozen=True)
class Rebalancing:
    """Per-bin loss weights w = 1 / ((1 - mix) * p_smooth + mix / Q), scaled so that sum(p * w) = 1.

    ``p`` is the empirical a*b* distribution, smoothed with a Gaussian of ``sigma`` a*b* units; Q is the number
    of bins the data uses. With sum(p * w) = 1 the weighted loss has the same scale as the plain one.
    """

    prior: torch.Tensor  # (BINS_PER_AXIS^2,) float64, sums to 1
    weights: torch.Tensor  # (BINS_PER_AXIS^2,) float32

    @classmethod
    def from_histogram(cls, counts: torch.Tensor, mix: float = 0.5, sigma: float = 5.0) -> Rebalancing:
        if not 0.0 < mix <= 1.0:
            raise ValueError(f"mix must be in (0, 1], got {mix}")
        prior = counts.double() / counts.sum()
        radius = 3
        taps = torch.arange(-radius, radius + 1, dtype=torch.float64) * BIN_SIZE
        kernel = torch.exp(-(taps**2) / (2 * sigma**2))
        kernel = (kernel[:, None] * kernel[None, :]) / kernel.sum() ** 2
        grid = prior.view(1, 1, BINS_PER_AXIS, BINS_PER_AXIS)
        smooth = F.conv2d(grid, kernel[None, None], padding=radius).flatten()
        smooth = smooth / smooth.sum()
        used = int((prior > 0).sum())
        weights = 1.0 / ((1 - mix) * smooth + mix / used)
        weights = weights / (prior * weights).sum()
        return cls(prior=prior, weights=weights.float())

    def pixel_weights(self, ab: torch.Tensor) -> torch.Tensor:
        """The weight of each pixel's true colour: a*b* (B, 2, H, W) -> (B, 1, H, W)."""
        return self.weights.to(ab.device)[ab_bin_index(ab)].unsqueeze(1)


def colour_loss(predicted: torch.Tensor, target: torch.Tensor, rebalancing: Rebalancing | None) -> torch.Tensor:
    """Each pixel weighted by the rarity of its true colour a*b* ``target`` (B, 2, H, W) if rebalancing.

    ``predicted`` a*b* (B, 2, H, W): smooth-L1 (beta 1 a*b* unit). Bin logits (B, Q, H, W): cross-entropy against
    the soft-encoded truth (Zhang et al. 2016's classification loss).
    """
    if predicted.shape[1] == 2:
        per_pixel = F.smooth_l1_loss(predicted, target, beta=1.0, reduction="none").sum(dim=1, keepdim=True)
    else:
        index, weights = soft_encode(target)
        per_pixel = -(weights * F.log_softmax(predicted, dim=1).gather(1, index)).sum(dim=1, keepdim=True)
    if rebalancing is not None:
        per_pixel = per_pixel * rebalancing.pixel_weights(target)
    return per_pixel.mean()


LIGHTNESS_UNIT = 10.0  # L*: an error this large weighs as much as one nat of the bins' cross-entropy


def lightness_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Daylight L* (B, 1, H, W) against the colour frame's: the mean absolute error in ``LIGHTNESS_UNIT``s (L1,
    not L2: a sensor frame leaves some lightness unknowable, and the median of the choices is a plausible one)."""
    return (predicted - target).abs().mean() / LIGHTNESS_UNIT
