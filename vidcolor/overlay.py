"""Text over pictures: the live window's stats, and the fps line that file mode draws with --overlay-fps."""

from __future__ import annotations

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MARGIN = 8
_BOX_DIMMING = 0.35  # the box darkens what is under it, so white text reads on any picture


def draw_lines(image: np.ndarray, lines: list[str], left: int = 0) -> tuple[int, int, int, int]:
    """Draw ``lines`` at the top, from column ``left``, on a dimmed box, in place, on an RGB/BGR (H, W, 3) or
    one-plane (H, W) picture of any integer dtype.

    Returns the box as (left, top, right, bottom), clipped to the picture. Text scales with the picture's
    height, so it is as legible at 1080p as at 240p.
    """
    scale = max(0.35, image.shape[0] / 720 * 0.6)
    thickness = max(1, round(scale * 1.6))
    sizes = [cv2.getTextSize(line, _FONT, scale, thickness) for line in lines]
    line_height = max(height + baseline for (_, height), baseline in sizes) + _MARGIN // 2
    right = min(image.shape[1], left + 2 * _MARGIN + max(width for (width, _), _ in sizes))
    bottom = min(image.shape[0], _MARGIN + line_height * len(lines) + _MARGIN // 2)
    image[:bottom, left:right] = (image[:bottom, left:right] * _BOX_DIMMING).astype(image.dtype)
    white = np.iinfo(image.dtype).max
    for row, line in enumerate(lines):
        baseline_y = _MARGIN + line_height * (row + 1) - _MARGIN // 2
        cv2.putText(image, line, (left + _MARGIN, baseline_y), _FONT, scale, (white,) * 3, thickness, cv2.LINE_AA)
    return left, 0, right, bottom


def draw_lines_yuv(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray, lines: list[str], left: int = 0) -> None:
    """The same on 4:2:0 planes, in place: the text goes on Y', and the box's chroma turns neutral (grey)."""
    left, top, right, bottom = draw_lines(luma, lines, left)
    for chroma in (cb, cr):
        chroma[top // 2 : (bottom + 1) // 2, left // 2 : (right + 1) // 2] = 128
