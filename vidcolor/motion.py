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
    """Where each pixel of one frame is in another (``points``: (h, w, 2) float32, x then y), and how far the other
    frame's colour, moved there, is to be trusted (``trust``: (h, w), 0..1: its moved lightness matches)."""

    points: np.ndarray
    trust: np.ndarray

    def warp(self, planes: np.ndarray) -> np.ndarray:
        """The other frame's (h, w[, C]) planes moved onto this frame's grid. One interleaved map, OpenCV's own
        layout: two planes of x and y cost a merge and two reads more per call, for the same result."""
        return cv2.remap(planes, self.points, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reversed_points(points: np.ndarray) -> np.ndarray:
    """Where each pixel of one frame is in the other (``points``, (h, w, 2)) -> where each pixel of the other is in
    the first, taken as the same move backward: the flow at the same place, negated. Frame to frame the flow is
    small and smooth, so the flow at the pixel's own place stands for the flow where the pixel went."""
    return cv2.scaleAdd(points, -1.0, doubled_points(*points.shape[:2]))


def host_planes(planes: torch.Tensor) -> np.ndarray:
    """(B, C, h, w) planes -> (B, h, w, C) float32 on the host, contiguous: OpenCV copies a strided array first."""
    return planes.float().permute(0, 2, 3, 1).contiguous().cpu().numpy()


def blend(predicted: np.ndarray, history: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(h, w, C) float32 prediction pulled toward the (moved) history by ``weight`` (h, w), 0..1."""
    toward = scaled_weight(weight)
    return blended(history, predicted, toward, cv2.subtract(BLEND_SCALE, toward))


# OpenCV's ``blendLinear`` weighs two pictures pixel by pixel in one pass, the weight broadcast over the channels
# (half the time of a subtract, a merge of the weight, a multiply and an add), but divides by w1 + w2 + 1e-5: with
# weights that sum to this, the 1e-5 is a 1.5e-10 part of the result, not a 1e-5 shrink toward 0 (which the scene
# memory's running mean would compound frame after frame). A power of two: scaling by it is exact.
BLEND_SCALE = 65536.0


def scaled_weight(weight: np.ndarray) -> np.ndarray:
    """A 0..1 weight (h, w) as ``blended`` takes it: float32, times BLEND_SCALE."""
    return cv2.multiply(weight.astype(np.float32, copy=False), BLEND_SCALE)


def blended(first: np.ndarray, second: np.ndarray, first_weight: np.ndarray, second_weight: np.ndarray) -> np.ndarray:
    """(h, w, C) float32 pictures' mean weighted pixel by pixel, (w1 p1 + w2 p2) / (w1 + w2); the weights (h, w)
    float32 each of order BLEND_SCALE where either counts (``scaled_weight``)."""
    return cv2.blendLinear(first, second, first_weight, second_weight)


def squared_norm(planes: np.ndarray) -> np.ndarray:
    """(h, w, C) float32 -> (h, w) the sum of squares over C: a matrix product, a fifth of einsum's time."""
    squares = cv2.multiply(planes, planes)
    return (squares.reshape(-1, squares.shape[-1]) @ np.ones(squares.shape[-1], np.float32)).reshape(planes.shape[:2])


@functools.lru_cache(maxsize=4)
def pixel_points(height: int, width: int) -> np.ndarray:
    """(h, w, 2) float32: every pixel's x, y."""
    return cv2.merge(pixel_grid(height, width))


@functools.lru_cache(maxsize=4)
def doubled_points(height: int, width: int) -> np.ndarray:
    """(h, w, 2) float32: every pixel's x, y, doubled (x - flow = 2x - (x + flow))."""
    return cv2.multiply(pixel_points(height, width), 2.0)


@functools.lru_cache(maxsize=4)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of every pixel, made once per size rather than once per frame."""
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
