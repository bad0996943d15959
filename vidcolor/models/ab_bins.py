"""The quantised a*b* plane shared by the loss weights and the classification head (Zhang et al. 2016)."""

from __future__ import annotations

import torch

AB_LIMIT = 110.0
BIN_SIZE = 10.0
BINS_PER_AXIS = int(2 * AB_LIMIT / BIN_SIZE)  # 22 x 22 grid over a*, b* in [-110, 110)
ANNEALING_TEMPERATURE = 0.38  # Zhang et al.: between the mean (1, sepia) and the mode (0, blotchy)


def bin_index(ab: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, H, W) -> flat bin index (B, H, W) on the BINS_PER_AXIS^2 grid."""
    cells = ((ab + AB_LIMIT) / BIN_SIZE).floor().long().clamp(0, BINS_PER_AXIS - 1)
    return cells[:, 0] * BINS_PER_AXIS + cells[:, 1]


def bin_centres(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(BINS_PER_AXIS^2, 2) a*b* at the centre of each bin, in ``bin_index`` order."""
    axis = torch.arange(BINS_PER_AXIS, dtype=dtype, device=device) * BIN_SIZE - AB_LIMIT + BIN_SIZE / 2
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((a.flatten(), b.flatten()), dim=1)


def annealed_mean(logits: torch.Tensor, temperature: float = ANNEALING_TEMPERATURE) -> torch.Tensor:
    """Bin logits (B, Q, H, W) -> a*b* (B, 2, H, W): the mean of the sharpened distribution."""
    probabilities = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", probabilities, bin_centres(logits.device, logits.dtype))


def soft_encode(ab: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """True a*b* (B, 2, H, W) -> a target distribution over the bins (B, Q, H, W): a Gaussian around it."""
    centres = bin_centres(ab.device, ab.dtype)  # (Q, 2)
    # |ab - c|^2 expanded, so no (B, Q, 2, H, W) difference tensor is ever made
    distance2 = ab.pow(2).sum(dim=1, keepdim=True) - 2 * torch.einsum("bchw,qc->bqhw", ab, centres)
    distance2 = distance2 + centres.pow(2).sum(dim=1)[None, :, None, None]
    return torch.softmax(-distance2 / (2 * sigma**2), dim=1)
