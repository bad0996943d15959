"""Temporal smoothing of a*b*: blend each new prediction with the previous output, moved along the motion.

At model resolution, per stream: DIS optical flow on L* finds where each new pixel was in the previous frame;
the previous *output* a*b* is warped there and blended with the new prediction, trusted only where the warped
lightness matches the new one (occlusions, new objects and lighting changes keep the new prediction). A jump in
the lightness histogram, a change of the picture's coarse layout, or a flow that explains almost nothing is a
scene cut: the history is dropped.

Why three cues: on the shared clips a cut between two shots of the same room (asl_scene_cuts.mp4 at 3.7 s) moves
the histogram less (0.17) than a busy street does between ordinary frames (0.20), and its flow still explains half
the pixels; the 16x12 thumbnail, brightness and contrast normalised, separates them cleanly (correlation 0.61 at
that cut and at most 0.61 at any real cut, at least 0.81 between frames of one shot).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch

HISTOGRAM_BINS = 32
LAYOUT_SIZE = (16, 12)  # thumbnail (width, height) whose correlation tells one shot from the next
DEFAULT_SMOOTH = 0.9  # best CDC, warping error and PSNR of 0.5/0.7/0.9 on the shared clips (benchmarks/README.md)


@dataclass
class _History:
    lightness: np.ndarray  # (h, w) uint8, L* scaled to 0..255
    ab: np.ndarray  # (h, w, 2) float32, the previous output
    histogram: np.ndarray  # (HISTOGRAM_BINS,) float32, sums to 1
    layout: np.ndarray | None  # zero-mean unit-norm thumbnail; None for a flat picture (no layout to compare)


class TemporalSmoother:
    """Per-stream state; ``strength`` 0 passes predictions through untouched, 1 holds history wherever it fits."""

    def __init__(self, strength: float, *, luma_tolerance: float = 6.0, cut_distance: float = 0.3,
                 min_layout_correlation: float = 0.7, min_trusted: float = 0.25) -> None:  # fmt: skip
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be within 0..1, got {strength}")
        self.strength = strength
        self.luma_tolerance = luma_tolerance  # L* difference (0..255 scale) at which trust falls to 1/e
        self.cut_distance = cut_distance  # histogram total-variation distance that means a new shot
        self.min_layout_correlation = min_layout_correlation  # thumbnail correlation below this: a new shot
        self.min_trusted = min_trusted  # below this mean trust the flow failed: treat as a cut
        self.cuts = 0
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._history: _History | None = None

    def reset(self) -> None:
        self._history = None

    def __call__(self, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """L* (B, 1, h, w) and predicted a*b* (B, 2, h, w), frames in order -> smoothed a*b* (B, 2, h, w). Any
        planes after a*b* (the daylight rendering's L*) are smoothed with them: (B, C, h, w)."""
        if self.strength == 0.0:
            return ab
        levels = (lightness[:, 0] * 2.55).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        predicted = ab.float().permute(0, 2, 3, 1).cpu().numpy()  # (B, h, w, 2)
        smoothed = np.stack([self._step(l8, new) for l8, new in zip(levels, predicted, strict=True)])
        return torch.from_numpy(smoothed).permute(0, 3, 1, 2).to(ab.device, ab.dtype)

    def _step(self, levels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        histogram = np.bincount(levels.ravel() // (256 // HISTOGRAM_BINS), minlength=HISTOGRAM_BINS).astype(np.float32)
        histogram /= histogram.sum()
        current = _History(levels, predicted, histogram, _layout(levels))
        output = predicted
        previous = self._history
        if previous is not None and self._same_shot(current, previous):
            warped_levels, warped_ab, inside = self._warp(levels, previous)
            difference = (levels.astype(np.float32) - warped_levels) / self.luma_tolerance
            trust = np.exp(-(difference**2)) * inside  # (h, w)
            if trust.mean() >= self.min_trusted:
                alpha = (self.strength * trust)[..., None]
                output = predicted + alpha * (warped_ab - predicted)
            else:  # the flow explains almost nothing: a cut the cheaper cues missed
                self.cuts += 1
        elif previous is not None:
            self.cuts += 1
        current.ab = output.astype(np.float32, copy=False)
        self._history = current
        return output

    def _same_shot(self, current: _History, previous: _History) -> bool:
        if 0.5 * np.abs(current.histogram - previous.histogram).sum() > self.cut_distance:
            return False
        if current.layout is None or previous.layout is None:
            return True
        return float(current.layout @ previous.layout) >= self.min_layout_correlation

    def _warp(self, levels: np.ndarray, previous: _History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Previous lightness and output moved onto the new frame's grid, and where that grid fell inside."""
        flow = self._flow.calc(levels, previous.lightness, None)  # new pixel -> where it was before
        height, width = levels.shape
        grid_x, grid_y = pixel_grid(height, width)
        map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
        inside = ((map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)).astype(np.float32)
        warped_levels = cv2.remap(previous.lightness.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        warped_ab = cv2.remap(previous.ab, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return warped_levels, warped_ab, inside


def _layout(levels: np.ndarray) -> np.ndarray | None:
    """The picture shrunk to a thumbnail, zero-mean and unit-norm, so brightness and contrast changes cancel."""
    thumbnail = cv2.resize(levels, LAYOUT_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    thumbnail -= thumbnail.mean()
    norm = float(np.linalg.norm(thumbnail))
    return thumbnail / norm if norm > 1.0 else None


@functools.lru_cache(maxsize=4)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of every pixel, made once per size rather than once per frame."""
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
