"""Live mode's network on a thread of its own, one frame ahead of the smoother and the window.

On one thread a live frame's time is the sum of its stages (480p on a 2-core Xeon: the int8 network 17 ms, the
smoother with its scene memory 14, the chroma 5), more than a 30 fps camera's 33 ms; on two they overlap and the
slower one sets the pace. The network takes the camera's newest frame only once the frame before it has been
handed over, so it never works on a frame that would be dropped, and latency grows by at most one stage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from .capture import Capture, LiveFrame

Inferred = TypeVar("Inferred")  # what the network's stage hands on for one frame


class NetworkThread(Generic[Inferred]):
    """Runs ``infer`` on each newest frame of ``capture``; ``take`` hands the results on, one at a time, in order.
    ``hold`` stops it taking frames (a paused window), and drops a result made before the pause."""

    def __init__(self, capture: Capture, infer: Callable[[LiveFrame], Inferred]) -> None:
        self._capture, self._infer = capture, infer
        self._ready = threading.Condition()
        self._result: tuple[Inferred, float] | None = None  # the result, and the seconds its frame took
        self._error: BaseException | None = None
        self._held = self._stopped = False
        self._thread = threading.Thread(target=self._run, name="vidcolor-network", daemon=True)

    def start(self) -> NetworkThread[Inferred]:
        self._thread.start()
        return self

    def take(self, timeout: float) -> tuple[Inferred, float] | None:
        """The next result and the seconds the network took on it, waiting up to ``timeout`` s; None if none came.
        An error of the network's thread is raised here."""
        with self._ready:
            self._ready.wait_for(lambda: self._result is not None or self._error is not None, timeout)
            if self._error is not None:
                raise self._error
            result, self._result = self._result, None
            self._ready.notify_all()
            return result

    @property
    def idle(self) -> bool:
        """Nothing in hand and nothing on the way: the capture has ended and its last frame is taken."""
        with self._ready:
            return self._result is None and not self._thread.is_alive()

    def hold(self, held: bool) -> None:
        with self._ready:
            if self._held and not held:
                self._result = None  # from before the pause: stale
            self._held = held
            self._ready.notify_all()

    def stop(self, timeout: float = 2.0) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                with self._ready:  # room for the next result, and frames wanted
                    self._ready.wait_for(lambda: self._stopped or (self._result is None and not self._held))
                    if self._stopped:
                        return
                frame = self._capture.take(timeout=0.05)
                if frame is None:
                    if self._capture.ended:
                        return
                    continue
                started = time.monotonic()
                result = self._infer(frame)
                with self._ready:
                    self._result = (result, time.monotonic() - started)
                    self._ready.notify_all()
        except BaseException as error:  # noqa: BLE001 (handed to the main thread, which raises it)
            with self._ready:
                self._error = error
                self._ready.notify_all()
