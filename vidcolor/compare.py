"""``--compare``: the input's grey beside the colour result (``side``) or in its left half (``split``)."""

from __future__ import annotations

from typing import Literal

import numpy as np

CompareMode = Literal["off", "side", "split"]
COMPARE_MODES: tuple[str, ...] = ("off", "side", "split")
LABELS = ("input", "vidcolor")  # drawn on the two halves with --overlay-fps
_LINE_WIDTH = 2  # the split line, drawn on the grey side of the split so the colour half keeps the source's luma


def output_width(mode: CompareMode, width: int) -> int:
    return 2 * width if mode == "side" else width


def colour_left(mode: CompareMode, width: int) -> int:
    """The first column of the colour half in a picture ``width`` wide before composing; even, so that in 4:2:0
    the split falls between chroma samples."""
    return {"off": 0, "side": width, "split": width // 4 * 2}[mode]


def compose(mode: CompareMode, grey: np.ndarray, colour: np.ndarray, at: int) -> np.ndarray:
    """One plane or picture (H, W[, C]) of the two: ``side`` joins them, ``split`` takes the columns before ``at``
    from ``grey``; ``off`` is ``colour`` itself."""
    if mode == "side":
        return np.concatenate((grey, colour), axis=1)
    if mode == "split":
        out = colour.copy()
        out[:, :at] = grey[:, :at]
        return out
    return colour


def compose_yuv(
    mode: CompareMode, grey: np.ndarray, luma: np.ndarray, cb: np.ndarray, cr: np.ndarray, white: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The input's Y' and the 4:2:0 planes of its colour picture (whose Y' is the input's, or its daylight
    relighting) -> the composed picture's planes; the grey half has neutral chroma."""
    if mode == "off":
        return luma, cb, cr
    at = colour_left(mode, luma.shape[1])
    neutral = np.full_like(cb, 128)
    planes = compose(mode, grey, luma, at), compose(mode, neutral, cb, at // 2), compose(mode, neutral, cr, at // 2)
    if mode == "split":
        planes[0][:, max(0, at - _LINE_WIDTH) : at] = white
    return planes


def compose_rgb(mode: CompareMode, grey: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The same for an RGB picture (H, W, 3) and its grey, of any integer dtype."""
    at = colour_left(mode, colour.shape[1])
    out = compose(mode, grey, colour, at)
    if mode == "split":
        out[:, max(0, at - _LINE_WIDTH) : at] = np.iinfo(out.dtype).max
    return out
