"""A video's hints, carried from frame to frame: each holds from its time to the end of its shot, moving with what it
was put on.

Runs beside the model, at its working size: the optical flow from one frame to the next at the hints' own places
(pyramidal Lucas-Kanade: a few points need no dense field, and cost a tenth of a millisecond where the smoother's
DIS flow over the frame costs milliseconds) moves every live hint to where its pixel went, and one the flow loses
(covered, blurred) stays put; the smoother's shot cues (lightness histogram, coarse layout) end every hint at a
cut; a hint that leaves the picture ends. Each frame's hints become its hint planes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from ..temporal import FrameHistory, TemporalSmoother, frame_history, lightness_levels
from .hints import Hint, batch_planes

FLOW_WINDOW, FLOW_LEVELS = (15, 15), 3  # working-size pixels around a hint that say where it went; pyramid levels


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
        self._previous: FrameHistory | None = None

    def planes(self, model_input: torch.Tensor, times: Sequence[float]) -> torch.Tensor | None:
        if not self.holding:
            return None
        levels = lightness_levels(model_input)
        frames = [self.step(frame, time) for frame, time in zip(levels, times, strict=True)]
        return batch_planes(frames, *levels.shape[-2:], model_input.device)

    @property
    def holding(self) -> bool:
        """Whether a hint holds now or will later."""
        return bool(self._waiting or self._live)

    @property
    def last_frame(self) -> FrameHistory | None:
        """The shot cues of the frame ``step`` was given last (None after ``start`` or ``stop``)."""
        return self._previous

    def start(self, hints: Sequence[Hint]) -> None:
        """Hints put on the frame ``step`` is given next, whatever its time (a reference's matches on it)."""
        self._waiting[:0] = [replace(hint, time=-math.inf) for hint in hints]
        self._previous = None  # the frame they were put on is the first they follow

    def stop(self) -> None:
        """End every hint, live or waiting."""
        self._waiting.clear()
        self._live.clear()
        self._previous = None

    def step(self, levels: np.ndarray, time: float) -> list[Hint]:
        """One frame's L* levels (h, w) at ``time``: move the live hints onto it (or end them at a cut), start
        those whose time has come; the hints that hold on it."""
        height, width = levels.shape
        current = frame_history(levels)
        if self._previous is not None and self._live:
            if self._shots.same_shot(current, self._previous):
                self._move(self._previous.lightness, levels)
            else:
                self._live.clear()
        self._previous = current
        while self._waiting and self._waiting[0].time <= time:
            hint = self._waiting.pop(0)
            self._live.append(_Live(hint, hint.x * width, hint.y * height))
        return [_placed(live, width, height) for live in self._live]

    def _move(self, previous: np.ndarray, levels: np.ndarray) -> None:
        places = np.array([(live.x, live.y) for live in self._live], np.float32)[:, None]
        moved, found, _ = cv2.calcOpticalFlowPyrLK(previous, levels, places, None, winSize=FLOW_WINDOW,
                                                   maxLevel=FLOW_LEVELS)  # fmt: skip
        height, width = levels.shape
        kept = []
        for live, (x, y), tracked in zip(self._live, moved[:, 0], found[:, 0], strict=True):
            if tracked:
                live.x, live.y = float(x), float(y)
            if 0 <= live.x < width and 0 <= live.y < height:
                kept.append(live)
        self._live = kept


def _placed(live: _Live, width: int, height: int) -> Hint:
    """A live hint at its current place, as fractions of the picture."""
    return Hint(live.x / width, live.y / height, live.hint.a, live.hint.b, live.hint.time)
