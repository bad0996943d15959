"""Moving colour from one frame onto another along the optical flow: where each pixel is, and how far to trust it.

Shared by the smoothers, the scene memory and the reference, below all of them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class MotionLink:
    """Where each pixel of one frame is in another (``map_x``, ``map_y``), and how far the other frame's colour,
    moved there, is to be trusted (0..1: its moved lightness matches)."""

    map_x: np.ndarray
    map_y: np.ndarray
    trust: np.ndarray

    def warp(self, planes: np.ndarray) -> np.ndarray:
        """The other frame's (h, w[, C]) planes moved onto this frame's grid."""
        return cv2.remap(planes, self.map_x, self.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def blend(predicted: np.ndarray, history: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(h, w, C) prediction pulled toward the (moved) history by ``weight`` (h, w), 0..1."""
    out = np.subtract(history, predicted, dtype=np.float32)
    out *= weight[..., None]
    out += predicted
    return out


@functools.lru_cache(maxsize=4)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of every pixel, made once per size rather than once per frame."""
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
