"""A video's hints, carried from frame to frame: each holds from its time to the end of its shot, moving with what it
was put on.

Runs beside the model, at its working size: the optical flow from one frame to the next (DIS, as the smoother's)
moves every live hint to where its pixel went; the smoother's shot cues (lightness histogram, coarse layout) end
every hint at a cut; a hint that leaves the picture ends. Each frame's hints become its hint planes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..temporal import TemporalSmoother, lightness_levels
from .hints import Hint, hint_planes


@dataclass
class _Live:
    hint: Hint
    x: float  # where it is now, in working-size pixels
    y: float


class HintTrack:
    """``planes(model_input, times)``: the hint planes (B, 3, h, w) of a batch of frames in stream order, at the
    times (seconds) given, or None where no hint holds on any of them."""

    def __init__(self, hints: Sequence[Hint]) -> None:
        self._waiting = sorted(hints, key=lambda hint: hint.time)
        self._live: list[_Live] = []
        self._shots = TemporalSmoother(1.0)  # its cut cues
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._previous: np.ndarray | None = None

    def planes(self, model_input: torch.Tensor, times: Sequence[float]) -> torch.Tensor | None:
        if not self._waiting and not self._live:
            return None
        levels = lightness_levels(model_input)
        frames = [self._frame(frame, time) for frame, time in zip(levels, times, strict=True)]
        if not any(frames):
            return None
        height, width = levels.shape[-2:]
        return torch.stack([hint_planes(live, height, width) for live in frames]).to(model_input.device)

    def _frame(self, levels: np.ndarray, time: float) -> list[Hint]:
        """One frame: move the live hints onto it (or end them at a cut), start those whose time has come."""
        height, width = levels.shape
        if self._previous is not None and self._live:
            if self._shots.same_shot(levels, self._previous):
                self._move(self._previous, levels)
            else:
                self._live.clear()
        self._previous = levels
        while self._waiting and self._waiting[0].time <= time:
            hint = self._waiting.pop(0)
            self._live.append(_Live(hint, hint.x * width, hint.y * height))
        return [_placed(live, width, height) for live in self._live]

    def _move(self, previous: np.ndarray, levels: np.ndarray) -> None:
        flow = self._flow.calc(previous, levels, None)  # a pixel of the previous frame -> where it is in this one
        height, width = levels.shape
        moved = []
        for live in self._live:
            row, col = min(height - 1, int(live.y)), min(width - 1, int(live.x))
            live.x, live.y = live.x + float(flow[row, col, 0]), live.y + float(flow[row, col, 1])
            if 0 <= live.x < width and 0 <= live.y < height:
                moved.append(live)
        self._live = moved


def _placed(live: _Live, width: int, height: int) -> Hint:
    """A live hint at its current place, as fractions of the picture."""
    return Hint(live.x / width, live.y / height, live.hint.a, live.hint.b, live.hint.time)
