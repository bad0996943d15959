"""File mode's temporal smoothing: each frame's colour from the frames before it *and* after it.

Live video has no later frames, so its smoother (``temporal.TemporalSmoother``) blends each prediction with the
output before it. A file has them. Here that same recursion runs twice: forward, as live does, and backward,
from later frames to earlier ones, and the two are combined so that frames on both sides weigh alike and the
frame itself counts once (``two_sided``). A frame's colour thus leans on its neighbours on both sides, each
moved along the optical flow onto it and trusted where the moved lightness matches; where an object comes into
view the backward pass has its colour from the frames after, where one leaves the forward pass has it from the
frames before. A cut found by the forward pass stops both. It runs on a thread of its own in the file pipeline,
between the model's and the encoder's.

The backward pass needs the frames after: frames are held until ``2 * block`` have come, the backward pass runs
from the newest back to the oldest, and the oldest ``block`` are handed on; the rest wait for the next window.
Every frame handed on so has at least ``block`` later frames in its backward colour (the recursion's weight on
the frame after those is at most strength ** block: 0.9 ** 24 = 0.08, less where the flow is not fully
trusted). Memory: ``2 * block`` frames at the model's size, and their pictures held by the caller. A longer
window would hold more frames for a weight already under a tenth, so it is not a flag: ``--smooth`` stays the
one knob.

Why this and not the alternatives: fusing a window of W warped predictions per frame costs 2W flows and remaps
per frame where this costs one flow and five remaps (the backward pass runs twice over each frame); a
whole-shot colour memory holds a shot in memory.

One flow a frame: the backward pass moves each frame's successor onto it by the forward pass's flow between the
two, reversed (``motion.reversed_points``), and trusts it by its own lightness check, as the forward pass does.
A DIS flow of its own cost 1.1 ms a frame more; inverting the forward flow properly (following it to where each
pixel went, one remap an iteration) cost as much as that flow and moved the output no nearer to it.

A still background's colour comes from the shot's scene memory (``scene_memory``) instead: each frame is observed
as it enters the window, and its colour taken from the memory as it leaves, so a frame handed on has the memory of
every frame of its shot before it and of the ``block`` to ``2 * block`` after it (a first pass over the whole shot
would need the shot decoded twice or held: neither fits a stream, and two seconds ahead already steady a memory
that then keeps growing). Frames of a shot that has since been cut keep their own shot's memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

import cv2
import numpy as np
import torch

from .motion import BLEND_SCALE, blended, host_planes, reversed_points, scaled_weight
from .scene_memory import Observed, SceneMemory, remember
from .temporal import Blended, Known, MotionLink, Payload, TemporalSmoother, blend, lightness_levels

DEFAULT_BLOCK = 24  # frames handed on per window; the window holds twice as many


@dataclass
class _Frame:
    levels: np.ndarray  # (h, w) uint8 L*
    predicted: np.ndarray  # (h, w, C) the model's planes
    earlier: Blended | None  # the forward pass's: its output for the frame before, moved onto this one
    memory: SceneMemory | None  # its shot's scene memory (None: not remembering)
    observed: Observed | None  # what ``memory.apply`` needs of the frame
    told: np.ndarray | None  # (h, w) 0..1: where its colour is a person's hints', not the model's guess
    later: MotionLink | None = None  # how the next frame moves onto this one; None: a cut, or no next frame yet


class LookAheadSmoother(Generic[Payload]):
    """``push`` a batch's L* (B, 1, h, w), predicted planes (B, C, h, w) and whatever the caller keeps with it
    (``payload``); batches come back from ``push`` and ``flush`` in order, each once all its frames are smoothed,
    as (payload, smoothed planes (B, C, h, w)). ``strength`` as for the live smoother; 0 hands every batch back at
    once, untouched. ``remember``: a still background takes its colour from the shot's scene memory, which has
    seen the frames after too (a resumed run or a split segment rebuilds it from the frames before it:
    ``pipeline.WARM_UP_FRAMES``)."""

    def __init__(self, strength: float, *, block: int = DEFAULT_BLOCK, remember: bool = True) -> None:
        if block < 1:
            raise ValueError(f"block must be at least 1, got {block}")
        self.forward = TemporalSmoother(strength)
        self.backward_links = TemporalSmoother(strength)  # its tolerances, for the backward pass's trust
        self.strength, self.block, self.remember = strength, block, remember
        self._memory: SceneMemory | None = None  # the newest frame's shot's
        self._frames: list[_Frame] = []  # held: not yet handed on, and the frames after them
        self._batches: deque[tuple[Payload, int, torch.Tensor | None]] = deque()  # payload, frames, a template
        self._done: list[np.ndarray] = []  # smoothed frames not yet handed on with their batch

    @property
    def cuts(self) -> int:
        return self.forward.cuts

    def push(self, lightness: torch.Tensor | None, planes: torch.Tensor | None, payload: Payload,
             known: Sequence[Known | None] | None = None,
             told: np.ndarray | None = None) -> list[tuple[Payload, torch.Tensor | None]]:  # fmt: skip
        """A batch in (``lightness`` and ``planes`` None for a batch of no frames), the batches now ready out.
        ``known``: per frame, a colour known to hold there (``Reference.known``), which seeds the scene memory;
        ``told``: (B, h, w, 0..1) where the colour is a person's hints' (``Colorizer.guided``),
        which the scene memory neither fades nor overrides."""
        self._batches.append((payload, 0 if planes is None else len(planes), planes))
        if planes is not None:
            if self.strength == 0.0:
                self._done.extend(host_planes(planes))
            else:
                self._take(lightness, planes, known or [None] * len(planes),
                           [None] * len(planes) if told is None else told)  # fmt: skip
                if len(self._frames) >= 2 * self.block:
                    self._smooth(self.block)
        return self._ready()

    def flush(self) -> list[tuple[Payload, torch.Tensor | None]]:
        """The end of the stream: every frame held is smoothed and handed on."""
        if self._frames:
            self._smooth(len(self._frames))
        return self._ready()

    def _take(self, lightness: torch.Tensor, planes: torch.Tensor, known: Sequence[Known | None],
              told: Sequence[np.ndarray | None]) -> None:  # fmt: skip
        levels = lightness_levels(lightness)
        predicted = host_planes(planes)
        for frame_levels, frame_planes, colour, frame_told in zip(levels, predicted, known, told, strict=True):
            cuts = self.forward.cuts
            _, earlier = self.forward.blend_parts(frame_levels, frame_planes)
            if self._frames and self.forward.cuts == cuts and self.forward.motion is not None:
                before = self._frames[-1]  # the backward pass's flow: the forward pass's reversed, one flow a frame
                back = reversed_points(self.forward.motion.points)
                before.later = self.backward_links.trusted(back, before.levels, frame_levels)
            observed = None
            if self.remember:
                self._memory, observed = remember(self._memory, frame_levels, frame_planes, self.forward.motion,
                                                    fades_what_moves=True)  # fmt: skip
                if colour is not None:
                    self._memory.seed(*colour, frame_levels)
            self._frames.append(_Frame(frame_levels, frame_planes, earlier, self._memory, observed, frame_told))

    def _smooth(self, count: int) -> None:
        """Run the backward pass over the frames held, and hand on the oldest ``count``."""
        results, backward = [], None  # the backward pass's output for the frame after
        for index in range(len(self._frames) - 1, -1, -1):
            frame, later = self._frames[index], None
            if frame.later is not None and backward is not None:
                later = Blended(frame.later.warp(backward), self.strength * frame.later.trust)
                backward = blend(frame.predicted, later.history, later.weight)
            else:
                backward = frame.predicted
            if index < count:
                smoothed = two_sided(frame.predicted, frame.earlier, later)
                if frame.memory is not None:
                    smoothed = frame.memory.apply(frame.levels, smoothed, frame.observed, frame.told)
                results.append(smoothed)
        self._done.extend(reversed(results))
        del self._frames[:count]

    def _ready(self) -> list[tuple[Payload, torch.Tensor | None]]:
        ready = []
        while self._batches and self._batches[0][1] <= len(self._done):
            payload, frames, template = self._batches.popleft()
            if template is None:
                ready.append((payload, None))
                continue
            smoothed = np.stack(self._done[:frames])
            del self._done[:frames]
            ready.append((payload, torch.from_numpy(smoothed).permute(0, 3, 1, 2).to(template.device, template.dtype)))
        return ready



def two_sided(predicted: np.ndarray, earlier: Blended | None, later: Blended | None) -> np.ndarray:
    """A frame's planes from its prediction and its neighbours' colour on both sides, each moved onto it.

    Each pass alone is an exponential average, weight a (1 - a)^k on the frame k away; the two-sided average
    weights frames on both sides alike, and counts this frame once: (c P + a E + b L) / (c + a + b), where E and L
    are the passes' outputs for the frames before and after moved here, a and b their weights, and c = 1 - max(a,
    b), the weight the prediction has in either pass. With one side missing (a cut, the first or last frame) it is
    that one pass's output exactly.
    """
    if earlier is None and later is None:
        return predicted
    if later is None:
        return blend(predicted, earlier.history, earlier.weight)
    if earlier is None:
        return blend(predicted, later.history, later.weight)
    a, b = scaled_weight(earlier.weight), scaled_weight(later.weight)
    c = cv2.subtract(BLEND_SCALE, cv2.max(a, b))
    out = blended(predicted, earlier.history, c, a)  # (c P + a E) / (c + a)
    return blended(out, later.history, cv2.add(c, a, dst=c), b)  # (c P + a E + b L) / (c + a + b)
