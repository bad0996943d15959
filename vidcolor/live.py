"""Live mode: the newest frame of a camera or stream, colorized, shown in a window with its stats.

Data flows one way: capture thread (latest frame wins) -> the network on a thread of its own (``live_network``)
-> temporal smoother on this thread -> window and, with --record, an encoder thread. Where a frame takes longer
than the camera's interval, the model's working size steps down until it fits, and back up when it can
(``live_pace``). Latency is measured from the moment a frame left the decoder or camera to the moment its colour
picture is ready to show.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from . import fragments, safe_output
from .capture import Capture, LiveFrame, RateMeter
from .color import SATURATION_MAX, YuvFormat
from .colorizer import Colorizer, NetworkRun
from .errors import OutputError, first_line
from .guidance.reference import Reference
from .live_network import NetworkThread
from .live_pace import LivePace
from .overlay import draw_lines, draw_lines_yuv
from .sinks import DEFAULT_X264_PRESET, VideoFileSink, encoded_size
from .sources import VideoInfo
from .temporal import DEFAULT_SMOOTH, TemporalSmoother

log = logging.getLogger("vidcolor")

# OpenCV's YCrCb <-> BGR is full-range BT.601: chroma made in this format shows without a further conversion.
DISPLAY_FORMAT = YuvFormat(full_range=True, matrix="bt601")
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
WINDOW_TITLE = "vidcolor live"
SATURATION_STEP = 0.1
_RECORD_QUEUE = 32
_KEY_ESC = 27


@dataclass
class LiveOptions:
    smooth: float = DEFAULT_SMOOTH
    saturation: float = 1.0  # where the +/- keys start
    equalize: bool = False  # CLAHE on the luma before the model, for dark low-contrast (IR) feeds
    window: bool = True
    frames: int | None = None  # stop after this many processed frames
    record: Path | None = None
    record_overlay: bool = False
    overwrite: bool = False
    crf: int = 20
    preset: str = DEFAULT_X264_PRESET
    snapshot_dir: Path = Path(".")
    reference: Reference | None = None  # a colour picture of the camera's view: its colours where the view shows
    stats_every: float = 1.0  # seconds between printed stats lines without a window


@dataclass(frozen=True)
class LiveResult:
    frames: int
    dropped: int
    reconnects: int
    seconds: float
    latency_p50_ms: float
    latency_p95_ms: float
    source_fps: float  # over the last second before the end
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM, not by q, --frames or the end of a file
    shown_fps: float = 0.0  # from the first picture shown to the last: the rate a viewer sees, start-up aside

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps; shown at {self.shown_fps:.1f}), "
                f"dropped {self.dropped}, "
                f"latency p50 {self.latency_p50_ms:.0f} ms, p95 {self.latency_p95_ms:.0f} ms, "
                f"reconnects {self.reconnects}")  # fmt: skip


class LiveStats:
    """Rolling figures: frames processed in the last second, latency percentiles over recent frames."""

    def __init__(self, keep: int = 1000) -> None:
        self.frames = 0
        self._processed = RateMeter()
        self.latencies_ms: deque[float] = deque(maxlen=keep)
        self._first_at = self._last_at = 0.0

    def add(self, frame: LiveFrame, ready_at: float) -> None:
        self._first_at = ready_at if self.frames == 0 else self._first_at
        self._last_at = ready_at
        self.frames += 1
        self._processed.tick(ready_at)
        self.latencies_ms.append((ready_at - frame.captured_at) * 1e3)

    @property
    def fps(self) -> float:
        return self._processed.rate()

    @property
    def shown_fps(self) -> float:
        """Pictures a second from the first to the last."""
        span = self._last_at - self._first_at
        return (self.frames - 1) / span if span > 0 else 0.0

    def latency(self, percentile: float) -> float:
        return float(np.percentile(self.latencies_ms, percentile)) if self.latencies_ms else float("nan")


@dataclass(frozen=True)
class InferredFrame:
    """A live frame after the network (``LiveSession.infer``): what ``LiveSession.finish`` needs of it."""

    frame: LiveFrame
    luma: np.ndarray  # (H, W) uint8: the Y' coloured (equalized where --equalize)
    full_range: bool
    lightness: torch.Tensor  # (1, 1, H, W) L*
    model_input: torch.Tensor  # (1, 1, h, w) L* at the working size
    run: NetworkRun


@dataclass(frozen=True)
class ColourPicture:
    """One colorized frame at source size: full-range Y' and 4:2:0 Cb, Cr (DISPLAY_FORMAT), and the camera's own
    Y' (``grey``: the same plane, unless the daylight rendering relit it)."""

    luma: np.ndarray
    cb: np.ndarray
    cr: np.ndarray
    grey: np.ndarray

    def bgr(self) -> np.ndarray:
        size = (self.luma.shape[1], self.luma.shape[0])
        cr = cv2.resize(self.cr, size, interpolation=cv2.INTER_LINEAR)
        cb = cv2.resize(self.cb, size, interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(cv2.merge((self.luma, cr, cb)), cv2.COLOR_YCrCb2BGR)


class Recorder:
    """Encodes pictures on its own thread (H.264, timestamps from the capture clock); the file plays if cut short."""

    def __init__(self, path: Path, source: str, width: int, height: int, *, overwrite: bool, crf: int,
                 preset: str) -> None:  # fmt: skip
        safe_output.check_output(Path(source), path, overwrite=overwrite)
        self.path, self._partial = path, fragments.fragments_path(path)
        self.shape = (height, width)  # the first picture's; a stream that comes back at another size is not recorded
        self.width, self.height = encoded_size(width, height)
        info = VideoInfo(self.width, self.height, Fraction(1, 1000), None, None, DISPLAY_FORMAT)
        self._sink = VideoFileSink(self._partial, info, audio=None, crf=crf, preset=preset, finish_as=path.suffix)
        self._queue: queue.Queue = queue.Queue(_RECORD_QUEUE)
        self._last_pts = -1
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="vidcolor-record", daemon=True)
        self._thread.start()

    def write(self, picture: ColourPicture, at_ms: int) -> None:
        if self.error is not None or picture.luma.shape != self.shape:
            return  # a failed recording stops (said once, by the encoder thread); the live view goes on
        pts = max(at_ms, self._last_pts + 1)  # strictly increasing, whatever the clock did
        self._last_pts = pts
        self._queue.put((picture, pts))  # blocks if the encoder falls behind: the capture drops instead

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                picture, pts = item
                h, w = self.height, self.width
                self._sink.write_frame(picture.luma[:h, :w], picture.cb[: h // 2, : w // 2],
                                       picture.cr[: h // 2, : w // 2], pts, 0)  # fmt: skip
        except BaseException as exc:
            self.error = exc
            log.warning("recording stopped: %s; the live view goes on", first_line(exc))
            while self._queue.get() is not None:  # keep the producer from blocking until close()
                pass

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            self._sink.close(flush=self.error is None)
            if self._sink.frames_written:
                fragments.finish(self._partial, self.path)
                log.info("recorded %d frames to %s", self._sink.frames_written, self.path)
            else:
                safe_output.discard(self._partial)
        except (OutputError, av.FFmpegError) as exc:  # no room to finish, or the disk filled mid-fragment
            if fragments.plays(self._partial):
                log.warning("recording not finished (%s); %s holds what was recorded and plays", first_line(exc),
                            self._partial)  # fmt: skip
            else:
                safe_output.discard(self._partial)
                log.warning("recording not finished (%s); nothing playable was recorded", first_line(exc))


class LiveSession:
    """The model side of live mode: colour pictures from captured frames, the view settings keys change."""

    def __init__(self, colorizer: Colorizer, options: LiveOptions) -> None:
        self.colorizer, self.options = colorizer, options
        self.smoother = TemporalSmoother(options.smooth)
        self.smoothing = options.smooth > 0
        self.saturation = options.saturation
        self.side_by_side = False
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)) if options.equalize else None
        self._smoothed_shape: torch.Size | None = None  # the model input's of the last frame smoothed

    def colorize(self, frame: LiveFrame) -> ColourPicture:
        return self.finish(self.infer(frame))

    def infer(self, frame: LiveFrame) -> InferredFrame:
        """``colorize``'s first half, the network: ``run_live`` runs it on a thread of its own."""
        luma, full_range = frame.luma, frame.full_range
        if self._clahe is not None:
            luma, full_range = self._clahe.apply(luma), True  # the equalized luma is what is shown
        colorizer = self.colorizer
        lightness = colorizer.lightness_from_luma(colorizer.upload(luma[None]), full_range)
        model_input = colorizer.model_input(lightness)
        run = colorizer.run_network(model_input, reference=self.options.reference)
        return InferredFrame(frame, luma, full_range, lightness, model_input, run)

    def finish(self, inferred: InferredFrame) -> ColourPicture:
        """``colorize``'s second half: smoothed, brought to full size, as a picture to show."""
        if inferred.model_input.shape != self._smoothed_shape:  # the working size changed: the history is moot
            self.smoother.reset()
            self._smoothed_shape = inferred.model_input.shape
        smoother = self.smoother if self.smoothing else None
        prediction = self.colorizer.prediction_of_run(inferred.lightness, inferred.model_input, inferred.run,
                                                      smoother, self.options.reference)  # fmt: skip
        cb, cr = self.colorizer.chroma(prediction, DISPLAY_FORMAT, self.saturation)
        luma = inferred.luma
        grey = luma if inferred.full_range else _LIMITED_TO_FULL[luma]
        return ColourPicture(self.colorizer.luma(prediction, grey[None], DISPLAY_FORMAT)[0], cb[0], cr[0], grey)

    def warm_up(self) -> None:
        """One grey picture at the working size through the model, before the source starts: its first call costs
        several later ones (62 ms against 10 at size 64 on this CPU, whatever the picture's size), and a camera's
        frames would be dropped meanwhile (`--frames 20` on a 20-frame clip showed 19)."""
        side = self.colorizer.size
        self.colorizer.predict(np.full((1, side, side), 128, np.uint8), DISPLAY_FORMAT)

    def set_working_size(self, size: int) -> None:
        """The model's working size from the next frame the network takes on (``LivePace``); ``finish`` restarts
        the smoother's history, which was at the old one, when that frame comes."""
        self.colorizer.size = size

    def toggle_smoothing(self) -> None:
        self.smoothing = not self.smoothing
        self.smoother.reset()  # history from before the pause would be stale

    def change_saturation(self, steps: int) -> None:
        self.saturation = float(np.clip(self.saturation + steps * SATURATION_STEP, 0.0, SATURATION_MAX))

    def view(self, picture: ColourPicture) -> np.ndarray:
        colour = picture.bgr()
        if not self.side_by_side:
            return colour
        return np.hstack((cv2.cvtColor(picture.grey, cv2.COLOR_GRAY2BGR), colour))


def stats_lines(stats: LiveStats, capture: Capture, backend: str, session: LiveSession) -> list[str]:
    lines = [
        f"{stats.fps:.1f} fps | source {capture.source_fps:.1f} fps | dropped {capture.dropped}",
        f"latency {stats.latency(50):.0f} ms (p95 {stats.latency(95):.0f}) | {backend}",
    ]
    notes = [capture.status] if capture.status != "live" else []
    notes += [] if session.smoothing or session.options.smooth == 0 else ["smoothing off"]
    notes += [f"saturation {session.saturation:.1f}"] if session.saturation != 1.0 else []
    return lines + notes


def run_live(capture: Capture, colorizer: Colorizer, options: LiveOptions) -> LiveResult:
    """Show (or, without a window, print the stats of) the colorized live feed until q, Esc, Ctrl-C or --frames."""
    session, stats, pace = LiveSession(colorizer, options), LiveStats(), LivePace(colorizer.size)
    window: _Window | None = None
    recorder: Recorder | None = None
    network: NetworkThread | None = None
    started = last_print = time.monotonic()
    interrupted, record_origin = False, 0.0
    try:
        if options.record is not None:  # refuse before the first frame (the recorder opens on it, to know the size)
            safe_output.check_video_suffix(options.record)
            safe_output.check_output(Path(capture.name), options.record, overwrite=options.overwrite)
            _check_no_cut_recording(options.record, overwrite=options.overwrite)
        window = _Window(options.snapshot_dir) if options.window else None
        session.warm_up()
        capture.start()
        network = NetworkThread(capture, session.infer).start()
        while options.frames is None or stats.frames < options.frames:
            network.hold(window is not None and window.paused)
            inferred = None if window is not None and window.paused else network.take(timeout=0.05)
            if inferred is not None:
                (inferred, network_seconds), finish_started = inferred, time.monotonic()
                frame, picture = inferred.frame, session.finish(inferred)
                stats.add(frame, time.monotonic())
                lines = stats_lines(stats, capture, colorizer.backend.NAME, session)
                if options.record is not None:
                    if recorder is None:  # the recording starts at 0 with its first frame, not when we began waiting
                        record_origin = frame.captured_at
                    recorder = recorder or Recorder(options.record, capture.name, picture.luma.shape[1],
                                                    picture.luma.shape[0], overwrite=options.overwrite,
                                                    crf=options.crf, preset=options.preset)  # fmt: skip
                    _record(recorder, picture, frame.captured_at - record_origin,
                            lines if options.record_overlay else None)  # fmt: skip
                if window is not None:
                    window.show(session.view(picture), lines)
                # the two threads overlap: the slower stage is a frame's cost
                if pace.frame_done(max(network_seconds, time.monotonic() - finish_started), capture.source_fps):
                    session.set_working_size(pace.size)
            elif network.idle:  # the source has ended and its last frame is shown
                break
            elif window is not None:  # no new frame (paused, or the stream is down): keep the figures current
                window.redraw(stats_lines(stats, capture, colorizer.backend.NAME, session))
            if window is not None and not window.handle_keys(session):
                break
            if window is None and time.monotonic() - last_print >= options.stats_every:  # also while reconnecting
                print("vidcolor live: " + " | ".join(stats_lines(stats, capture, colorizer.backend.NAME, session)),
                      flush=True)  # fmt: skip
                last_print = time.monotonic()
    except KeyboardInterrupt:
        log.info("stopped")
        interrupted = True
    finally:
        source_fps = capture.source_fps
        if network is not None:
            network.stop()
        capture.stop()
        if recorder is not None:
            recorder.close()
        if window is not None:
            window.close()
    return LiveResult(stats.frames, capture.dropped, capture.reconnects, time.monotonic() - started,
                      stats.latency(50), stats.latency(95), source_fps, interrupted, stats.shown_fps)  # fmt: skip


def _check_no_cut_recording(path: Path, *, overwrite: bool) -> None:
    """A recording killed earlier left its fragments under the name this one would write: never over them."""
    partial = fragments.fragments_path(path)
    if partial.exists() and not overwrite:
        raise OutputError(f"{partial} holds an earlier recording that was cut short (it plays): rename it to keep "
                          "it, or pass -y to replace it")  # fmt: skip


def _record(recorder: Recorder, picture: ColourPicture, at_seconds: float, lines: list[str] | None) -> None:
    if lines is not None:
        picture = ColourPicture(picture.luma.copy(), picture.cb.copy(), picture.cr.copy(), picture.grey)
        draw_lines_yuv(picture.luma, picture.cb, picture.cr, lines)
    recorder.write(picture, round(at_seconds * 1000))


class _Window:
    """The OpenCV window and its keys."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.snapshot_dir = snapshot_dir
        self.paused = False
        self._shown: np.ndarray | None = None  # the last picture, without the overlay: what a snapshot saves
        # resizable, aspect kept, and no toolbar: the picture and its overlay are the whole window
        cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)

    def show(self, image: np.ndarray, lines: list[str]) -> None:
        self._shown = image
        self.redraw(lines)

    def redraw(self, lines: list[str]) -> None:
        if self._shown is None:
            return
        with_overlay = self._shown.copy()
        draw_lines(with_overlay, lines + (["paused"] if self.paused else []))
        cv2.imshow(WINDOW_TITLE, with_overlay)

    def handle_keys(self, session: LiveSession) -> bool:
        """React to a key pressed since the last call; False to quit (q, Esc, or the window closed)."""
        key = cv2.waitKey(30 if self.paused else 1) & 0xFF
        if key in (ord("q"), _KEY_ESC) or cv2.getWindowProperty(WINDOW_TITLE, cv2.WND_PROP_VISIBLE) < 1:
            return False
        if key == ord(" "):
            self.paused = not self.paused
        elif key == ord("c"):
            session.side_by_side = not session.side_by_side
        elif key == ord("t"):
            session.toggle_smoothing()
        elif key in (ord("+"), ord("=")):
            session.change_saturation(+1)
        elif key == ord("-"):
            session.change_saturation(-1)
        elif key == ord("s") and self._shown is not None:
            log.info("saved %s", save_snapshot(self._shown, self.snapshot_dir))
        return True

    def close(self) -> None:
        cv2.destroyWindow(WINDOW_TITLE)
        cv2.waitKey(1)


def save_snapshot(image: np.ndarray, folder: Path) -> Path:
    """Write ``image`` as a PNG under a new name in ``folder``: never over an existing file."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("vidcolor-%Y%m%d-%H%M%S")
    path, count = folder / f"{stem}.png", 1
    while path.exists():
        path, count = folder / f"{stem}-{count}.png", count + 1
    if not cv2.imwrite(str(path), image):
        raise OutputError(f"cannot write {path}")
    return path
