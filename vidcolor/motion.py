"""Moving colour from one frame onto another along the optical flow: where each pixel is, and how far to trust it.

Shared by the smoothers, the scene memory and the reference, below all of them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch


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


def host_planes(planes: torch.Tensor) -> np.ndarray:
    """(B, C, h, w) planes -> (B, h, w, C) float32 on the host, contiguous: OpenCV copies a strided array first."""
    return planes.float().permute(0, 2, 3, 1).contiguous().cpu().numpy()


def blend(predicted: np.ndarray, history: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(h, w, C) float32 prediction pulled toward the (moved) history by ``weight`` (h, w), 0..1."""
    out = cv2.subtract(history, predicted)
    out = weighted(out, weight, out)
    return cv2.add(out, predicted, dst=out)


def weighted(planes: np.ndarray, weight: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(h, w, C) float32 planes times ``weight`` (h, w): OpenCV's, a third of NumPy's time on C = 2 (numpy
    broadcasts over a last axis of 2 elements at a time), and the smoothers do this several times a frame."""
    weight = weight.astype(np.float32, copy=False)
    if planes.ndim == 3:
        weight = cv2.merge([weight] * planes.shape[2])
    return cv2.multiply(planes, weight, dst=out)


def squared_norm(planes: np.ndarray) -> np.ndarray:
    """(h, w, C) float32 -> (h, w) the sum of squares over C: a matrix product, a fifth of einsum's time."""
    squares = cv2.multiply(planes, planes)
    return (squares.reshape(-1, squares.shape[-1]) @ np.ones(squares.shape[-1], np.float32)).reshape(planes.shape[:2])


@functools.lru_cache(maxsize=4)
def pixel_points(height: int, width: int) -> np.ndarray:
    """(h, w, 2) float32: every pixel's x, y."""
    return cv2.merge(pixel_grid(height, width))


@functools.lru_cache(maxsize=4)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of every pixel, made once per size rather than once per frame."""
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
