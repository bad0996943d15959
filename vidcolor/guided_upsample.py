"""a*b* brought to the output's size along the edges of its luma: the fast guided filter (He & Sun 2015).

Why: the model predicts a*b* at stride 4 (fast) or 2 (quality) of its working size, and plain bilinear upsampling
spreads each colour a few pixels past the object it belongs to (a tint on the white next to a red car). The
output's own luma has those edges sharp. The guided filter fits a*b* = A L* + B in every small window of the
model's colour and the L* the model saw (the guide), at half the working size (the quality model's output grid);
A and B change slowly, so they are upsampled bilinearly and applied to the output's L*: colour then changes where
the luma changes, and where the luma is flat it is the model's, a little smoothed. ``eps`` (L* units squared)
keeps faint luma texture (film grain) out of the colour.

Chosen over joint bilateral upsampling for its cost: a few box filters on a small grid and one resize, against a
range weight per output pixel and tap. Measured against bilinear (scores and milliseconds): benchmarks/README.md,
"Guided upsampling". It does not remove a wrong colour the model spreads over a flat area: there the luma has no
edge to follow.

One implementation per array library: OpenCV on the CPU (one frame at a time, as color.lab_to_chroma), torch on a
GPU; tests/test_guided_upsample.py holds them equal.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

SUBSAMPLE = 2  # the coefficients' grid, in working-size pixels: the quality model's output stride
RADIUS = 2  # window radius on that grid (a 5x5 window: 10 working-size pixels)
EPS = 25.0  # L*^2: a window whose luma varies by less than about 5 L* keeps the model's colour


def guided_upsample(
    ab: torch.Tensor, guide_low: torch.Tensor, guide: torch.Tensor, *, radius: int = RADIUS, eps: float = EPS,
    subsample: int = SUBSAMPLE,
) -> torch.Tensor:  # fmt: skip
    """a*b* (B, 2, h, w) predicted from the L* ``guide_low`` (B, 1, h, w) -> a*b* (B, 2, H, W) following the
    edges of the L* ``guide`` (B, 1, H, W); float32, on the inputs' device. h and w are multiples of
    ``subsample``."""
    if ab.device.type == "cpu":
        frames = [
            guided_upsample_numpy(a.float().numpy(), low[0].float().numpy(), high[0].float().numpy(),
                                  radius=radius, eps=eps, subsample=subsample)
            for a, low, high in zip(ab, guide_low, guide, strict=True)
        ]  # fmt: skip
        return torch.from_numpy(np.stack(frames))
    return guided_upsample_torch(ab, guide_low, guide, radius=radius, eps=eps, subsample=subsample)


def _grid(shape: tuple[int, ...], subsample: int, radius: int) -> tuple[tuple[int, int], int]:
    """The coefficients' grid (h, w) for a working size (…, h, w), and the radius that fits inside it."""
    if shape[-2] % subsample or shape[-1] % subsample:
        raise ValueError(f"the working size {tuple(shape[-2:])} is not a multiple of {subsample}")
    grid = (shape[-2] // subsample, shape[-1] // subsample)
    return grid, min(radius, grid[0] - 1, grid[1] - 1)  # a reflected border needs the window inside the picture


def guided_upsample_numpy(
    ab: np.ndarray, guide_low: np.ndarray, guide: np.ndarray, *, radius: int = RADIUS, eps: float = EPS,
    subsample: int = SUBSAMPLE,
) -> np.ndarray:  # fmt: skip
    """One frame, float32: a*b* (2, h, w) and L* (h, w) at the working size, L* (H, W) at the output's -> a*b*
    (2, H, W). Planes stay apart (numpy is slow on a last axis of 2), and full-size temporaries are few: at 1080p
    each fresh one costs more in page faults than its arithmetic."""
    (h, w), radius = _grid(guide_low.shape, subsample, radius)
    light, *colour = (cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA) for p in (guide_low, *ab))

    def box(x: np.ndarray) -> np.ndarray:  # the window's mean, the border reflected (OpenCV's default)
        return cv2.blur(x, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT_101)

    mean_light = box(light)
    variance = box(light * light) - mean_light * mean_light
    out = np.empty((len(colour), *guide.shape), np.float32)
    for plane, channel in zip(out, colour, strict=True):
        mean = box(channel)
        slope = (box(light * channel) - mean_light * mean) / (variance + eps)
        intercept = cv2.resize(box(mean - slope * mean_light), guide.shape[::-1], interpolation=cv2.INTER_LINEAR)
        slope = cv2.resize(box(slope), guide.shape[::-1], interpolation=cv2.INTER_LINEAR)
        np.add(np.multiply(slope, guide, out=slope), intercept, out=plane)
    return out


def guided_upsample_torch(
    ab: torch.Tensor, guide_low: torch.Tensor, guide: torch.Tensor, *, radius: int = RADIUS, eps: float = EPS,
    subsample: int = SUBSAMPLE,
) -> torch.Tensor:  # fmt: skip
    """``guided_upsample_numpy``'s maths on batches (B, C, H, W), in float32 whatever comes in (L*^2 in fp16
    would lose a window's variance)."""
    grid, radius = _grid(guide_low.shape, subsample, radius)
    light, colour = (F.interpolate(x.float(), size=grid, mode="area") for x in (guide_low, ab))

    def box(x: torch.Tensor) -> torch.Tensor:  # torch's "reflect" is OpenCV's BORDER_REFLECT_101
        return F.avg_pool2d(F.pad(x, (radius,) * 4, mode="reflect"), 2 * radius + 1, stride=1)

    mean_light = box(light)
    variance = box(light * light) - mean_light * mean_light
    mean = box(colour)
    slope = (box(light * colour) - mean_light * mean) / (variance + eps)  # (B, 2, h, w)
    coefficients = box(torch.cat((slope, mean - slope * mean_light), dim=1))  # (B, 4, h, w)
    coefficients = F.interpolate(coefficients, size=guide.shape[-2:], mode="bilinear", align_corners=False)
    return coefficients[:, :2] * guide.float() + coefficients[:, 2:]
