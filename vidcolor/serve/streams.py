"""Live sources for `vidcolor serve`: each colorized by one loop on its own thread (``vidcolor live``'s capture and
session: the newest frame wins), however many viewers watch; a viewer gets the newest picture as a JPEG."""

from __future__ import annotations

import math
import threading
import time

import cv2

from ..capture import Capture, reader_factory
from ..colorizer import Colorizer
from ..live import LiveOptions, LiveSession, LiveStats

JPEG_QUALITY = 80


class LiveStream:
    """``location`` as ``vidcolor live`` takes it (camera index, /dev/videoN, rtsp://, udp://, a file, looped);
    a source that cannot be opened is the caller's error, raised here."""

    def __init__(self, name: str, location: str, colorizer: Colorizer, *, smooth: float, timeout: float = 10.0) -> None:
        self.name = name
        self.capture = Capture(reader_factory(location, timeout=timeout, rtsp_transport="tcp", loop=True), name)
        self.session = LiveSession(colorizer, LiveOptions(smooth=smooth, window=False))
        self.stats = LiveStats()
        self._changed = threading.Condition()
        self._jpeg: bytes | None = None
        self._number = 0  # pictures made so far: a viewer asks for one newer than the last it had
        self.viewers = 0  # streams open to viewers now (changed on the server's event loop only)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"vidcolor-stream-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.capture.start()
        while not self._stop.is_set():
            frame = self.capture.take(timeout=0.2)
            if frame is None:
                if self.capture.ended:
                    break
                continue
            picture = self.session.colorize(frame)
            self.stats.add(frame, time.monotonic())
            jpeg = cv2.imencode(".jpg", picture.bgr(), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
            with self._changed:
                self._jpeg, self._number = jpeg, self._number + 1
                self._changed.notify_all()

    def newer_than(self, number: int, timeout: float) -> tuple[int, bytes] | None:
        """The newest picture if it is newer than picture ``number``, waiting up to ``timeout`` s for one."""
        with self._changed:
            self._changed.wait_for(lambda: self._number > number or self._stop.is_set(), timeout)
            if self._number > number and self._jpeg is not None:
                return self._number, self._jpeg
            return None

    def status(self) -> dict[str, object]:
        def rounded(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 1)

        return {"name": self.name, "state": self.capture.status, "frames": self.stats.frames,
                "fps": round(self.stats.fps, 1), "source_fps": round(self.capture.source_fps, 1),
                "dropped": self.capture.dropped, "viewers": self.viewers,
                "latency_p50_ms": rounded(self.stats.latency(50)),
                "latency_p95_ms": rounded(self.stats.latency(95))}  # fmt: skip

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self.capture.stop()
        self._thread.join(timeout=5)
