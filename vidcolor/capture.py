"""Live sources: cameras through OpenCV, network streams and files through PyAV, read on their own thread.

The capture thread keeps only the newest frame (latest-frame-wins): a frame the model had no time for is
replaced and counted as dropped, never queued, so what is shown is never older than one model step. A stream
that drops is reopened with backoff; only the first open may fail the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np

from .errors import InputError, first_line
from .sources import Orientation, ffmpeg_reason, luma_plane, yuv_format

log = logging.getLogger("vidcolor")

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "rtp", "srt", "tcp", "http", "https")
RTSP_TRANSPORTS = ("tcp", "udp")
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)  # waits before successive reconnects; the last one repeats


class RateMeter:
    """Events per second over the last second: falls to 0 when they stop, unlike an average of intervals."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def tick(self, at: float) -> None:
        self._times.append(at)
        self._forget(at)

    def rate(self, now: float | None = None) -> float:
        self._forget(time.monotonic() if now is None else now)
        if len(self._times) < 2:
            return 0.0
        # a floor on the span keeps two frames that arrive together (a burst after a stall) from reading as 1000s
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], self.window / 2)

    def _forget(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


class SourceLost(Exception):
    """The source stopped delivering frames; the capture thread reconnects."""


@dataclass(frozen=True)
class LiveFrame:
    luma: np.ndarray  # (H, W) uint8 Y'
    full_range: bool
    captured_at: float  # time.monotonic() when the frame left the decoder or camera


class Reader(Protocol):
    def frames(self) -> Iterator[tuple[np.ndarray, bool]]:
        """(Y' plane, full range) per picture; raises SourceLost when the source stops, returns at a file's end."""
        ...

    def close(self) -> None: ...


class CameraReader:
    """A V4L2 device or camera index through OpenCV; Y' from its BGR (or grey) pictures, full range."""

    def __init__(self, device: int | str) -> None:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our one-line error says it better
        try:
            self.camera = cv2.VideoCapture(device, cv2.CAP_V4L2 if isinstance(device, str) else cv2.CAP_ANY)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not self.camera.isOpened():
            raise InputError(f"cannot open camera {device}")
        self.camera.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's newest picture, not a backlog

    def frames(self) -> Iterator[tuple[np.ndarray, bool]]:
        while True:
            ok, image = self.camera.read()
            if not ok:
                raise SourceLost("the camera stopped delivering frames")
            yield (image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)), True

    def close(self) -> None:
        self.camera.release()


class StreamReader:
    """A network stream or a file through PyAV, opened for low latency; a file plays at its own frame rate."""

    def __init__(self, location: str, *, timeout: float, rtsp_transport: str = "tcp", loop: bool = False) -> None:
        self.location, self.loop = location, loop
        self.is_file = "://" not in location
        options = {} if self.is_file else {"fflags": "nobuffer", "flags": "low_delay"}
        if location.startswith("rtsp"):
            options["rtsp_transport"] = rtsp_transport
        self.timeout = timeout
        try:
            self.container = av.open(location, options=options, timeout=timeout)
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"cannot open {location}: {self._reason(exc)}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{location} has no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "SLICE"  # frame threads would hold pictures back: latency

    def frames(self) -> Iterator[tuple[np.ndarray, bool]]:
        decoded = self._paced() if self.is_file else self.container.decode(self.video)
        orientation = None  # a phone's clip is stored turned: shown upright, as file mode writes it
        try:
            for frame in decoded:
                orientation = orientation or Orientation.of(frame)
                full_range = yuv_format(self.video.codec_context, frame.height).full_range
                yield orientation.apply(luma_plane(frame)), full_range
        except av.FFmpegError as exc:
            raise SourceLost(self._reason(exc)) from exc
        if not self.is_file:
            raise SourceLost("the stream ended")

    def _paced(self) -> Iterator[av.VideoFrame]:
        """Pictures at the pace of their timestamps, from the start again at the end when looping."""
        started, offset = time.monotonic(), 0.0
        while True:
            end = 0.0
            for frame in self.container.decode(self.video):
                at = float(frame.time or 0.0)
                time.sleep(max(0.0, started + offset + at - time.monotonic()))
                yield frame
                end = at + float(frame.duration * frame.time_base if frame.duration else 1 / self._rate())
            if not self.loop:
                return
            offset += end
            self.container.seek(0)

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, av.error.ExitError):  # how FFmpeg reports the timeout PyAV set
            return f"nothing received for {self.timeout:g} s"
        return ffmpeg_reason(exc)

    def _rate(self) -> float:
        return float(self.video.average_rate or self.video.guessed_rate or 25)

    def close(self) -> None:
        self.container.close()


def reader_factory(source: str, *, timeout: float, rtsp_transport: str, loop: bool) -> Callable[[], Reader]:
    """How to open ``source`` (camera index, /dev/videoN, stream URL or video file); a bad spelling fails here."""
    scheme = source.split("://", 1)[0].lower() if "://" in source else None
    if source.isdigit():
        return lambda: CameraReader(int(source))
    if source.startswith("/dev/video"):
        return lambda: CameraReader(source)
    if scheme is not None:
        if scheme not in STREAM_SCHEMES:
            raise InputError(f"unsupported stream {source}: use one of {', '.join(s + '://' for s in STREAM_SCHEMES)}")
        return lambda: StreamReader(source, timeout=timeout, rtsp_transport=rtsp_transport)
    if Path(source).is_file():
        return lambda: StreamReader(source, timeout=timeout, loop=loop)
    raise InputError(f"source not found: {source} (give a camera index, /dev/videoN, a stream URL or a video file)")


class Capture:
    """Reads a source on its own thread and keeps only the newest frame for the consumer."""

    def __init__(self, open_reader: Callable[[], Reader], name: str) -> None:
        self.name = name
        self._open = open_reader
        self._reader: Reader | None = open_reader()  # the first open is the caller's error to report
        self._changed = threading.Condition()
        self._frame: LiveFrame | None = None
        self._arrivals = RateMeter()
        self._stop = threading.Event()
        self.dropped = 0
        self.reconnects = 0
        self.ended = False  # a file without --loop has played out
        self.status = "live"  # or why and when it reconnects
        self._thread = threading.Thread(target=self._run, name="vidcolor-capture", daemon=True)

    def start(self) -> Capture:
        self._thread.start()
        return self

    def take(self, timeout: float) -> LiveFrame | None:
        """The newest frame not taken yet, waiting up to ``timeout`` s; None if none came (or the source ended)."""
        with self._changed:
            if self._frame is None and not self.ended:
                self._changed.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    @property
    def source_fps(self) -> float:
        with self._changed:  # the capture thread ticks the same meter
            return self._arrivals.rate()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)  # a read stuck in the network ends at its own timeout; the thread is a daemon
        elif self._reader is not None:  # never started: the first reader is still ours to close
            self._reader.close()
            self._reader = None

    def _publish(self, luma: np.ndarray, full_range: bool) -> None:
        now = time.monotonic()
        with self._changed:
            self._arrivals.tick(now)  # the source's own rate, whatever the consumer keeps up with
            if self._frame is not None:
                self.dropped += 1  # the consumer never saw it: replaced, not queued
            self._frame = LiveFrame(luma, full_range, now)
            self._changed.notify()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                if self._reader is None:
                    self._reader = self._open()
                    self.reconnects += 1
                    log.info("%s: reconnected", self.name)
                self.status = "live"
                for luma, full_range in self._reader.frames():
                    if self._stop.is_set():
                        return
                    self._publish(luma, full_range)
                    attempt = 0
                self._finish()
                return
            except (SourceLost, InputError) as exc:
                reason = first_line(exc)
            except Exception as exc:  # a camera or decoder failing in any other way is still only a dropped stream
                reason = f"{type(exc).__name__}: {first_line(exc)}"
            finally:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
            delay = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            attempt += 1
            self.status = f"reconnecting in {delay:g} s: {reason}"
            log.warning("%s: %s", self.name, self.status)
            self._stop.wait(delay)

    def _finish(self) -> None:
        with self._changed:
            self.ended = True
            self.status = "ended"
            self._changed.notify_all()
