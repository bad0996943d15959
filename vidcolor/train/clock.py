"""Training time: the wall clock, less the time the process spent stopped.

A long CPU run is paused with ``kill -STOP`` while something else is timed and resumed with ``kill -CONT``. The
budget (``--minutes``), the learning-rate schedule and the 30-minute snapshots count training, so a pause must not
count: the kernel delivers SIGCONT on resume, and the step during which the process was stopped is left out.
"""

from __future__ import annotations

import signal
import threading
import time
from types import TracebackType


class TrainingClock:
    """Seconds of training; ``tick()`` after every step. A context manager: it owns SIGCONT while it runs."""

    def __init__(self, elapsed: float = 0.0) -> None:
        self.elapsed = elapsed
        self._last = time.monotonic()
        self._stopped = False
        self._previous_handler: signal.Handlers | None = None

    def __enter__(self) -> TrainingClock:
        # Signal handlers can only be set from the main thread (and SIGCONT is POSIX's): elsewhere a pause counts.
        if hasattr(signal, "SIGCONT") and threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGCONT, self._continued)
        self._last = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGCONT, self._previous_handler)
            self._previous_handler = None

    def _continued(self, signum: int, frame: object) -> None:
        self._stopped = True

    def tick(self) -> float:
        """Count the time since the last tick, unless the process was stopped in between; the seconds trained."""
        now = time.monotonic()
        if not self._stopped:
            self.elapsed += now - self._last
        self._stopped = False
        self._last = now
        return self.elapsed
