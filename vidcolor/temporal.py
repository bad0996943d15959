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

Frame-to-frame blending cannot hold a still background whose predicted colour drifts over seconds; ``step`` also
keeps the shot's scene memory (``scene_memory``), which does, and the next frame is blended with what it showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import torch

from .motion import MotionLink, blend, host_planes, pixel_points
from .scene_memory import SceneMemory, remember

HISTOGRAM_BINS = 32
LAYOUT_SIZE = (16, 12)  # thumbnail (width, height) whose correlation tells one shot from the next
Payload = TypeVar("Payload")  # what a caller keeps with a batch while it is smoothed
Known = tuple[np.ndarray, np.ndarray]  # a colour (h, w, C) known for a frame, and where it holds (h, w, 0..1)
# L* levels (0..255) of difference between a frame and the one before moved onto it at which trust falls to 1/e:
# 16, as the scene memory's, against 6 before: CDC / truth on the six shared clips fell on every one (traffic
# file 1.97 -> 1.58x, live 3.20 -> 2.21x; pedestrians 4.25 -> 2.76x / 7.46 -> 5.11x), warping error too, PSNR
# within 0.02 dB or up (benchmarks/README.md, issue 33); 24 gained a little more for more risk of trails
LUMA_TOLERANCE = 16.0
DEFAULT_SMOOTH = 0.9  # best CDC, warping error and PSNR of 0.5/0.7/0.9 on the shared clips (benchmarks/README.md)


@dataclass
class FrameHistory:
    lightness: np.ndarray  # (h, w) uint8, L* scaled to 0..255
    ab: np.ndarray | None  # (h, w, 2) float32, the previous output
    histogram: np.ndarray  # (HISTOGRAM_BINS,) float32, sums to 1
    layout: np.ndarray | None  # zero-mean unit-norm thumbnail; None for a flat picture (no layout to compare)


class TemporalSmoother:
    """Per-stream state; ``strength`` 0 passes predictions through untouched, 1 holds history wherever it fits.
    ``remember``: ``step`` also keeps the shot's scene memory (``scene_memory``) and takes a still background's
    colour from it."""

    def __init__(self, strength: float, *, remember: bool = True, luma_tolerance: float = LUMA_TOLERANCE,
                 cut_distance: float = 0.3, min_layout_correlation: float = 0.7,
                 min_trusted: float = 0.25) -> None:  # fmt: skip
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be within 0..1, got {strength}")
        self.strength = strength
        self.luma_tolerance = luma_tolerance  # L* difference (0..255 scale) at which trust falls to 1/e
        self.cut_distance = cut_distance  # histogram total-variation distance that means a new shot
        self.min_layout_correlation = min_layout_correlation  # thumbnail correlation below this: a new shot
        self.min_trusted = min_trusted  # below this mean trust the flow failed: treat as a cut
        self.cuts = 0
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._history: FrameHistory | None = None
        self.remember = remember
        self.memory: SceneMemory | None = None
        self.motion: MotionLink | None = None  # the last frame's pixels -> the frame before; None: a shot's first

    def reset(self) -> None:
        self._history, self.memory, self.motion = None, None, None

    def __call__(self, lightness: torch.Tensor, ab: torch.Tensor, known: Sequence[Known | None] | None = None,
                 told: np.ndarray | None = None) -> torch.Tensor:  # fmt: skip
        """L* (B, 1, h, w) and predicted a*b* (B, 2, h, w), frames in order -> smoothed a*b* (B, 2, h, w). Any
        planes after a*b* (the daylight rendering's L*) are smoothed with them: (B, C, h, w). ``known``: per
        frame, a colour known to hold there (a reference's, ``Reference.known``), which seeds the scene memory;
        ``told``: (B, h, w, 0..1) where the colour is a person's hints' (``Colorizer.guided``), which the memory
        does not override."""
        if self.strength == 0.0:
            return ab
        predicted = host_planes(ab)  # (B, h, w, 2)
        levels = lightness_levels(lightness)
        known = known or [None] * len(predicted)
        told = [None] * len(predicted) if told is None else told
        smoothed = np.stack([self.step(*frame) for frame in zip(levels, predicted, known, told, strict=True)])
        return torch.from_numpy(smoothed).permute(0, 3, 1, 2).to(ab.device, ab.dtype)

    def push(self, lightness: torch.Tensor | None, planes: torch.Tensor | None, payload: Payload,
             known: Sequence[Known | None] | None = None,
             told: np.ndarray | None = None) -> list[tuple[Payload, torch.Tensor | None]]:  # fmt: skip
        """The file pipeline's interface, ``LookAheadSmoother``'s: here each batch comes back at once."""
        return [(payload, None if planes is None else self(lightness, planes, known, told))]

    def flush(self) -> list[tuple[Payload, torch.Tensor | None]]:
        return []

    def step(self, levels: np.ndarray, predicted: np.ndarray, known: Known | None = None,
             told: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """One frame: its L* as uint8 levels (h, w) and predicted planes (h, w, C) -> the smoothed planes;
        ``known`` and ``told`` (h, w) as for ``__call__``."""
        output = self.blend_parts(levels, predicted)[0]
        if not self.remember:
            return output
        self.memory, observed = remember(self.memory, levels, predicted, self.motion)
        if known is not None:
            self.memory.seed(*known, levels)
        output = self.memory.apply(levels, output, observed, told)
        self._history.ab = output  # the next frame is blended with what was shown
        return output

    def blend_parts(self, levels: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, Blended | None]:
        """``step``'s flow smoothing (the scene memory aside), and what its output blends into the prediction: the
        earlier output moved onto this frame, and its weight (None after a cut)."""
        current = frame_history(levels, predicted)
        output, blended, self.motion = predicted, None, None
        previous = self._history
        if previous is not None and self.same_shot(current, previous):
            link = self.link(levels, previous.lightness)
            if link is not None:
                blended = Blended(link.warp(previous.ab), self.strength * link.trust)
                self.motion = link
                output = blend(predicted, blended.history, blended.weight)
            else:  # the flow explains almost nothing: a cut the cheaper cues missed
                self.cuts += 1
        elif previous is not None:
            self.cuts += 1
        current.ab = output.astype(np.float32, copy=False)
        self._history = current
        return output, blended

    def same_shot(self, current: FrameHistory, previous: FrameHistory) -> bool:
        """Whether two frames (``frame_history``) are of one shot by the cheap cues (histogram, layout); ``link``
        adds the flow's."""
        if 0.5 * np.abs(current.histogram - previous.histogram).sum() > self.cut_distance:
            return False
        if current.layout is None or previous.layout is None:
            return True
        return float(current.layout @ previous.layout) >= self.min_layout_correlation

    def link(self, levels: np.ndarray, other: np.ndarray) -> MotionLink | None:
        """How the frame of lightness ``other`` moves onto ``levels``'s grid, and where to trust it; None where
        the flow explains almost nothing (a cut)."""
        flow = self._flow.calc(levels, other, None)  # pixel of ``levels`` -> where it is in ``other``
        return self.trusted(cv2.add(flow, pixel_points(*levels.shape), dst=flow), levels, other)

    def trusted(self, points: np.ndarray, levels: np.ndarray, other: np.ndarray) -> MotionLink | None:
        """``link`` for where each pixel of ``levels`` is in ``other`` (``points``, (h, w, 2)) found already."""
        height, width = levels.shape
        moved = cv2.remap(other.astype(np.float32), points, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        difference = cv2.subtract(levels.astype(np.float32), moved)
        # exp(-(difference / tolerance)^2), each step in place on the one (h, w) plane
        trust = np.exp(cv2.multiply(difference, difference, scale=-1 / self.luma_tolerance**2, dst=difference),
                       out=difference)
        inside = cv2.inRange(points, (0, 0), (width - 1, height - 1))  # 255 where the pixel is in ``other``
        link = MotionLink(points, cv2.copyTo(trust, inside))  # zeros where not: a new array's start (OpenCV's)
        return link if link.trust.mean() >= self.min_trusted else None


@dataclass
class Blended:
    """What a smoothed frame took from elsewhere: planes moved onto it (h, w, C), and their weight (h, w)."""

    history: np.ndarray
    weight: np.ndarray


def lightness_levels(lightness: torch.Tensor) -> np.ndarray:
    """L* (B, 1, h, w), 0..100 -> uint8 (B, h, w) on the host, what the flow is computed on."""
    levels = lightness[:, 0].float().cpu().numpy() * np.float32(2.55)
    return np.clip(np.rint(levels, out=levels), 0, 255, out=levels).astype(np.uint8)


def frame_history(levels: np.ndarray, planes: np.ndarray | None = None) -> FrameHistory:
    """A frame's L* levels (h, w) and planes -> what the next frame is compared with."""
    histogram = cv2.calcHist([levels], [0], None, [HISTOGRAM_BINS], [0, 256]).ravel()  # a quarter of bincount's time
    histogram /= histogram.sum()
    return FrameHistory(levels, planes, histogram, _layout(levels))


def _layout(levels: np.ndarray) -> np.ndarray | None:
    """The picture shrunk to a thumbnail, zero-mean and unit-norm, so brightness and contrast changes cancel."""
    thumbnail = cv2.resize(levels, LAYOUT_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    thumbnail -= thumbnail.mean()
    norm = float(np.linalg.norm(thumbnail))
    return thumbnail / norm if norm > 1.0 else None
