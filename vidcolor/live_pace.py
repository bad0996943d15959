"""Live mode keeps the camera's rate: where colouring a frame takes longer than the camera's frame interval, the
model's working size steps down (a frame's cost falls with its pixels), and steps back up once the time a frame
takes, scaled to the larger size, fits again.

Why the working size: on a CPU the model is most of a live frame's time (int8 graph 15 ms of about 30 at 480p
on a 2-core Xeon) and its cost follows the pixels it sees; one step of SIZE_MULTIPLE on the short side (256 ->
224) takes about a quarter off it. Colour at a smaller size is a little softer, not wrong: the guided upsampling
brings it to the picture's edges either way. The smoother's history is at the old size, so a step restarts it.
"""

from __future__ import annotations

import logging

from .models import SIZE_MULTIPLE

log = logging.getLogger("vidcolor")

SMALLEST_SIZE = 4 * SIZE_MULTIPLE  # below this the colour of a face or a car is lost
SETTLE_FRAMES = 30  # frames timed at a size before the pace judges it (about a second of a camera)
HEADROOM = 0.85  # a step up needs its frames to fit the interval with this margin, so the pace does not hover


class LivePace:
    """``frame_done(seconds, source_fps)`` after each frame: the working size for the next one (``size``)."""

    def __init__(self, size: int) -> None:
        self.largest = self.size = size
        self._mean: float | None = None  # moving mean of a frame's seconds at the current size
        self._timed = 0
        self._said = False

    def frame_done(self, seconds: float, source_fps: float) -> bool:
        """Time one frame took to colour, and the rate the camera sends; True where the size changes."""
        self._mean = seconds if self._mean is None else 0.9 * self._mean + 0.1 * seconds
        self._timed += 1
        if self._timed < SETTLE_FRAMES or source_fps <= 0:
            return False
        interval = 1 / source_fps
        if self._mean > interval and self.size > SMALLEST_SIZE:
            return self._step(-SIZE_MULTIPLE, source_fps)
        larger = self.size + SIZE_MULTIPLE
        if self.size < self.largest and self._mean * (larger / self.size) ** 2 < HEADROOM * interval:
            return self._step(+SIZE_MULTIPLE, source_fps)
        return False

    def _step(self, change: int, source_fps: float) -> bool:
        was, self.size = self.size, self.size + change
        if not self._said:  # once: a slow machine would otherwise say it every few seconds
            log.warning("live: this machine colours %.0f frames a second of the camera's %.0f: working size %d "
                        "(from %d), back up when there is time", 1 / self._mean, source_fps, self.size,
                        was)  # fmt: skip
            self._said = True
        else:
            log.info("live: working size %d (from %d)", self.size, was)
        self._mean, self._timed = None, 0
        return True
