"""The file pipeline: a decoder thread, the model on the calling thread, a smoother thread, an encoder thread.

The decoder's thread also makes each batch's model input (L* at the working size) and its hint planes; the model's
thread only runs the network (on a 2-core CPU it sets the pace: at 480p it spent 3-4 ms of each frame on that
preparation, the decoder's thread under 1 ms on its own work); the smoother's thread follows the hints and takes a
reference's colour (``Colorizer.guide``: 4-8 ms a hinted 480p frame, which on the model's thread cost every frame
after it as much), then steadies the colour against the frames before and after (it holds a window of them), and
the encoder's thread brings it to full size and turns it into Cb/Cr planes, so on a CPU the network never waits
for the colour maths.

Bounded queues join them, those after the model deep enough to take a look-ahead window's frames at once: the
smoother hands on ``block`` frames together after its backward pass, and with shallower queues the model's thread
stood idle while the smoother worked and the smoother while the encoder did (22.0 fps at 480p with depth 8, 23.9
with 32).

An error in any thread stops them all and is raised once, from the caller; Ctrl-C ends the input early and the
encoder still finishes the file, so it stays playable.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from tqdm import tqdm

from . import fragments, resume, safe_output
from .colorizer import Colorizer, NetworkRun, check_working_size
from .compare import LABELS, CompareMode, colour_left, compose_yuv, output_width
from .errors import OutputError, VidcolorError, first_line
from .guidance.hints import Hint
from .guidance.reference import Reference
from .guidance.video import VideoGuide
from .lookahead import DEFAULT_BLOCK, LookAheadSmoother
from .overlay import draw_lines_yuv
from .sinks import DEFAULT_X264_PRESET, VideoFileSink, encoded_size
from .sources import FileSource, LumaFrame, Segment
from .stage_clock import PipelineTimes, StageClock, charge_wait
from .temporal import DEFAULT_SMOOTH

log = logging.getLogger("vidcolor")

QUEUE_DEPTH = 8  # decoded frames waiting for the model; the queues after it take a look-ahead window more
_POLL_SECONDS = 0.1
_END = object()  # end-of-stream marker passed down the queues
WARM_UP_FRAMES = 150  # frames before a resumed run's first, to bring the temporal smoother back to where it was
# (seam vs an unbroken run on the crash-safety test clip: 1.48 Cb/Cr levels cold, 0.63 after 24 frames, 0.36 after 60
# without the scene memory; with it 1.02 after 60, 0.46 after 150: the memory is a mean over the shot so far)
LOOK_AHEAD_FRAMES = 2 * DEFAULT_BLOCK  # frames after a split video's segment, for its smoother to look ahead to
_FRAME_SLACK = 2  # frames a complete file may fall short of its declared duration by (rounding, a last short frame)


@dataclass(frozen=True)
class _Batch:
    """A batch on its way from the decoder to the model, the smoother and the encoder: the items in stream order
    (frames and the audio packets between them), the frames' Y' (B, H, W), the model's input L* (B, 1, h, w), the
    frames' hint planes (B, 3, h, w) or None, what the network made of them (``network``), and the model's planes
    (B, C, h, w), guided and smoothed on the smoother's thread (all but the items None for audio alone). Held at the
    model's size: a queue of them costs little memory whatever the video's."""

    items: list[LumaFrame | av.Packet]
    luma: np.ndarray | None
    model_input: torch.Tensor | None
    hints: torch.Tensor | None
    network: NetworkRun | None = None
    planes: torch.Tensor | None = None


@dataclass(frozen=True)
class FileResult:
    output: Path
    frames: int
    expected_frames: int | None
    seconds: float
    interrupted: bool
    resumed_at: int = 0  # frames kept from a killed run's partial output (0: started afresh)
    times: PipelineTimes | None = None  # where the time went, per stage (``--profile`` prints it)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Aborted(Exception):
    """Raised inside a thread when another thread has failed."""


def _put(q: queue.Queue, item: object, *stop_events: threading.Event) -> None:
    started = time.perf_counter()
    try:
        while True:
            try:
                q.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                if any(e.is_set() for e in stop_events):
                    raise _Aborted from None
    finally:
        charge_wait(time.perf_counter() - started, for_input=False)


def _get(q: queue.Queue, abort: threading.Event) -> object:
    started = time.perf_counter()
    try:
        while True:
            try:
                return q.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if abort.is_set():
                    raise _Aborted from None
    finally:
        charge_wait(time.perf_counter() - started, for_input=True)


class _Worker(threading.Thread):
    """A stage's thread: keeps its exception for the caller and raises ``abort`` when it fails; its time goes to
    ``clock``."""

    def __init__(self, name: str, target: Callable[[], None], abort: threading.Event, clock: StageClock) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn, self._abort, self._clock = target, abort, clock
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self._clock.running():
                self._target_fn()
        except _Aborted:
            pass
        except BaseException as exc:  # kept and re-raised by the caller, never swallowed
            self.error = exc
            self._abort.set()


def colorize_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    colorizer: Colorizer | None = None,
    overwrite: bool = False,
    crf: int = 18,
    preset: str = DEFAULT_X264_PRESET,
    batch: int = 1,
    smooth: float = DEFAULT_SMOOTH,
    progress: bool = False,
    overlay_fps: bool = False,
    restart: bool = False,
    saturation: float = 1.0,
    compare: CompareMode = "off",
    segment: Segment | None = None,
    on_frames: Callable[[int], None] | None = None,
    hints: Sequence[Hint] = (),
    reference: Reference | None = None,
) -> FileResult:
    """Colorize a video file into ``output_path`` (H.264 4:2:0, the input's timestamps and audio).

    ``smooth`` (0..1) is the temporal smoother's strength; 0 colours every frame on its own. ``saturation``
    scales the colour's distance from grey (0: grey, 1: as predicted). ``compare`` ``side`` or ``split`` writes
    the input's grey beside or in the left half of the colour. ``overlay_fps`` draws the rate the frames are
    being colorized at onto each of them (and labels the halves). A run that was killed is resumed from its
    partial output where the input and the settings are the same, unless ``restart``.

    ``segment`` (for ``vidcolor batch --split-minutes``) writes only that part of the video, without audio, its
    temporal smoother warmed up on the frames before it. ``on_frames`` is called on the encoder's thread with
    the number of frames just written (frames kept from a killed run's partial are not counted). ``hints``:
    colours known at places and times of the video (``guidance.hints``), each held to the end of its shot;
    ``reference``: a colour picture of the view (``guidance.reference``), its colours taken where a frame shows it.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    safe_output.check_video_suffix(output_path)
    safe_output.check_output(input_path, output_path, overwrite=overwrite)
    source = FileSource(input_path)
    try:
        colorizer = colorizer or Colorizer()
        size = (source.info.width, source.info.height)
        check_working_size(colorizer.size, *size)
        _log_source_notices(source)
        if encoded_size(*size) != size:
            log.info("%dx%d has an odd side; 4:2:0 H.264 needs even sides, writing %dx%d", *size, *encoded_size(*size))
        settings = {"model": colorizer.model_name, "weights_sha256": colorizer.weights_sha256,
                    "sensor": colorizer.sensor, "render": colorizer.render, "backend": colorizer.backend.NAME,
                    "size": colorizer.size,
                    "smooth": smooth, "crf": crf, "preset": preset, "overlay_fps": overlay_fps,
                    "saturation": saturation, "compare": compare,
                    "hints": [list(astuple(hint)) for hint in hints],  # as JSON reads them back
                    "reference": None if reference is None else reference.digest}  # fmt: skip
        if segment is not None:  # a partial of another segment is not continued
            settings["segment"] = [segment.start, segment.end]
        record = resume.run_record(input_path, settings)
        cut = resume.resumable_cut(output_path, record, restart=restart)
        partial, sidecar = fragments.fragments_path(output_path), resume.sidecar_path(output_path)
        # a resumed run writes a new file that starts with the kept part, then takes the partial's place
        writing = partial.with_name(partial.name + ".next") if cut else partial
        picture = replace(source.info, width=output_width(compare, encoded_size(*size)[0]))
        audio = source.audio if segment is None else None  # the segments' join takes the input's audio once
        sink = VideoFileSink(writing, picture, audio=audio, crf=crf, preset=preset,
                             finish_as=output_path.suffix)  # fmt: skip
        try:
            resume.write_record(sidecar, record)
            if segment is not None:
                _read_segment(source, segment)
            if cut is not None:
                _continue_from(cut, partial, writing, sink, source, segment.first_frame if segment else 0)
            smoother = LookAheadSmoother(smooth)  # a file has its later frames: the colour looks ahead
            pictures = _FramePictures(colorizer, source, saturation, compare, overlay_fps)
            guide = VideoGuide(colorizer, hints, reference)
            frames, times, interrupted = _run_threads(source, sink, guide, smoother, batch, progress, pictures,
                                                      on_frames)  # fmt: skip
            if source.repaired_from is not None:
                log.info("the timestamps repeat or go back from frame %d on: repaired from the frame rate",
                         source.repaired_from)  # fmt: skip
        except BaseException as exc:
            if writing != partial:  # failed before taking the partial's place, which is still whole
                safe_output.discard(writing)
            explained = _keep_for_resume(exc, output_path)
            if explained is exc:
                raise
            raise explained from exc
        _finish(partial, output_path)
        sidecar.unlink(missing_ok=True)
        if not interrupted and segment is None:  # an interrupted run has said so already; a segment is short
            _warn_if_incomplete(source, frames, output_path)
        return FileResult(output_path, frames, source.info.frame_count, times.wall, interrupted,
                          cut.frames if cut else 0, times)
    finally:
        source.close()


def _continue_from(cut: resume.Cut, partial: Path, writing: Path, sink: VideoFileSink, source: FileSource,
                   first_frame: int) -> None:  # fmt: skip
    """Copy the partial's whole fragments into the new file, put it in the partial's place, and seek the source
    to the first frame they lack, with frames before it to bring the smoother to where it was. ``first_frame``:
    the partial's first frame in the source (a segment's)."""
    sink.copy_packets(resume.kept_packets(partial, cut))
    os.replace(writing, partial)
    sink.path = partial
    total = source.info.frame_count
    log.info("resuming at %s (frame %d of %s)", _clock(cut.resume_at), first_frame + cut.frames, total or "?")
    source.start_at(cut.resume_at, first_frame + cut.frames, warm_up=WARM_UP_FRAMES)


def _read_segment(source: FileSource, segment: Segment) -> None:
    """Make the source hand out ``segment``'s frames, with frames before it to warm the smoother up."""
    if segment.start is not None:
        source.start_at(segment.start * source.info.time_base, segment.first_frame, warm_up=WARM_UP_FRAMES)
    if segment.end is not None:
        source.stop_at(segment.end, look_ahead=LOOK_AHEAD_FRAMES)


def _finish(partial: Path, output: Path) -> None:
    """The last step, after all the work: whatever stops it, the partial (every frame, playable) is kept."""
    try:
        fragments.finish(partial, output)
    except VidcolorError as exc:
        raise type(exc)(f"{first_line(exc)}; {partial} holds every frame and plays") from exc
    except Exception as exc:
        raise OutputError(f"cannot finish {output}: {first_line(exc)}; {partial} holds every frame and "
                          f"plays") from exc  # fmt: skip


def _keep_for_resume(exc: BaseException, output: Path) -> BaseException:
    """A failed run's partial output is kept when it holds whole fragments, and the error says how to go on."""
    partial = fragments.fragments_path(output)
    if not partial.exists() or resume.find_cut(partial).frames == 0:
        resume.forget(output)
        return exc
    if isinstance(exc, VidcolorError):
        return type(exc)(f"{first_line(exc)}; {partial} keeps the frames done: the same command resumes from there")
    return exc


def _clock(seconds: Fraction) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _log_source_notices(source: FileSource) -> None:
    """One line for each thing of the source's the output will not keep as it was."""
    for stream in source.dropped_streams:
        log.info("dropping stream %s (only video and one audio stream are kept)", stream)
    if source.orientation.action:
        log.info("%s as its display matrix says; the output is stored upright, with no rotation flag",
                 source.orientation.action)  # fmt: skip
    if source.bit_depth > 8:
        log.info("%s is %d-bit; the output is 8-bit yuv420p", source.pixel_format, source.bit_depth)
    if source.interlaced:
        log.info("the source is interlaced; the output is flagged progressive (its frames are not deinterlaced)")


def _warn_if_incomplete(source: FileSource, frames: int, output: Path) -> None:
    """One warning where decoding stopped at damage, or the stream ended before the duration it declares."""
    expected = source.frames_in_stream()
    short = expected is not None and frames < expected - _FRAME_SLACK
    if source.decode_error is None and not short:
        return
    read = f"{frames} of {expected}" if expected else str(frames)
    why = source.decode_error or "the file ends early"
    log.warning("%s: read only %s frames (%s); %s holds those and plays", source.path, read, why, output)


def _run_threads(
    source: FileSource, sink: VideoFileSink, guide: VideoGuide, smoother: LookAheadSmoother, batch: int,
    progress: bool, frame_pictures: _FramePictures, on_frames: Callable[[int], None] | None = None,
) -> tuple[int, PipelineTimes, bool]:
    """Run decode -> colorize -> encode; returns (frames written, where the time went, interrupted).
    ``on_frames(1)`` after each frame written, on the encoder's thread."""
    decoded: queue.Queue = queue.Queue(QUEUE_DEPTH)
    inferred: queue.Queue = queue.Queue(QUEUE_DEPTH + smoother.block)
    finished: queue.Queue = queue.Queue(QUEUE_DEPTH + smoother.block)
    abort, stop_reading = threading.Event(), threading.Event()
    bar = tqdm(total=source.info.frame_count, initial=sink.frames_written, unit="frame", disable=not progress,
               dynamic_ncols=True)  # fmt: skip

    def read() -> None:
        for prepared in _prepared_batches(source, guide, batch):
            if stop_reading.is_set():
                return
            _put(decoded, prepared, abort, stop_reading)
        _put(decoded, _END, abort, stop_reading)

    def smooth() -> None:
        def hand_on(ready: list[tuple[_Batch, torch.Tensor | None]]) -> None:
            for raw, planes in ready:
                _put(finished, replace(raw, planes=planes), abort)

        while (raw := _get(inferred, abort)) is not _END:  # hints followed and a reference's colour taken here
            payload = replace(raw, network=None)
            if raw.network is None:  # audio alone
                hand_on(smoother.push(raw.model_input, None, payload))
                continue
            guided = guide.guided(raw.network)  # a reference's colour, where it holds, seeds the scene memory
            hand_on(smoother.push(raw.model_input, guided.planes, payload, guided.known, guided.told))
        hand_on(smoother.flush())  # the end, or Ctrl-C: the frames held are written too
        _put(finished, _END, abort)

    def write() -> None:
        try:
            while (batch := _get(finished, abort)) is not _END:
                for item in frame_pictures.of(batch):
                    if isinstance(item, av.Packet):
                        sink.write_audio(item)
                    else:
                        sink.write_frame(*item)
                        bar.update(1)
                        if on_frames is not None:
                            on_frames(1)
        except BaseException:
            sink.close(flush=False)
            raise
        sink.close()

    clocks = [StageClock(name) for name in ("decode", "model", "smooth", "encode")]
    written_before = sink.frames_written
    reader = _Worker("vidcolor-decode", read, abort, clocks[0])
    smoothing = _Worker("vidcolor-smooth", smooth, abort, clocks[2])
    writer = _Worker("vidcolor-encode", write, abort, clocks[3])
    started, started_cpu = time.perf_counter(), time.process_time()
    writer.start()
    smoothing.start()
    reader.start()
    interrupted = False
    error: BaseException | None = None
    try:
        with clocks[1].running():  # the model's work; nothing else on this thread
            while (prepared := _get(decoded, abort)) is not _END:
                network = None if prepared.luma is None else guide.run_network(prepared.model_input, prepared.hints)
                _put(inferred, replace(prepared, network=network), abort)
            _put(inferred, _END, abort)
    except KeyboardInterrupt:
        interrupted = True
        try:
            _put(inferred, _END, abort)  # the smoother hands on what it holds, the encoder closes the file
        except _Aborted:
            pass
    except _Aborted:
        pass
    except BaseException as exc:
        error = exc
        abort.set()
    finally:
        stop_reading.set()
        smoothing.join()
        writer.join()
        reader.join()
        bar.close()
    error = error or reader.error or smoothing.error or writer.error
    if error is not None:
        raise error
    times = PipelineTimes(clocks, time.perf_counter() - started, time.process_time() - started_cpu,
                          sink.frames_written - written_before)  # fmt: skip
    return sink.frames_written, times, interrupted


def _prepared_batches(source: FileSource, guide: VideoGuide, size: int) -> Iterator[_Batch]:
    """On the decoder's thread: the source's items in batches of ``size`` frames (audio packets keeping their
    place), each with its model input and hint planes made."""
    width, height = encoded_size(source.info.width, source.info.height)
    pending: list[LumaFrame | av.Packet] = []

    def prepared() -> _Batch:
        frames = [item for item in pending if isinstance(item, LumaFrame)]
        if not frames:
            return _Batch(list(pending), None, None, None)
        luma = np.stack([f.luma[:height, :width] for f in frames])  # (B, H, W)
        times = [float((f.pts - source.info.start_pts) * source.info.time_base) for f in frames]
        model_input = guide.colorizer.model_input_of(luma, source.info.yuv)
        return _Batch(list(pending), luma, model_input, guide.hint_planes(model_input, times))

    frames = 0
    for item in source.items():
        pending.append(item)
        frames += isinstance(item, LumaFrame)
        if frames == size:
            yield prepared()
            pending.clear()
            frames = 0
    if pending:
        yield prepared()


class _FramePictures:
    """On the encoder's thread: a smoothed batch -> its pictures (Y', Cb, Cr, pts, duration) and audio packets, in
    stream order, warm-up frames left out; saturation, comparison and overlay applied."""

    def __init__(
        self, colorizer: Colorizer, source: FileSource, saturation: float, compare: CompareMode, overlay_fps: bool
    ) -> None:
        self._colorizer, self._format, self._saturation = colorizer, source.info.yuv, saturation
        self._compare, self._overlay_fps = compare, overlay_fps
        self._white = 255 if self._format.full_range else 235
        self._default_duration = _frame_duration(source)
        self._colorized, self._started = 0, time.perf_counter()

    def of(self, batch: _Batch) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, int, int] | av.Packet]:
        planes = iter(())
        if batch.luma is not None:
            prediction = self._colorizer.prediction_of(batch.luma, self._format, batch.model_input, batch.planes)
            cb, cr = self._colorizer.chroma(prediction, self._format, self._saturation)
            shown = self._colorizer.luma(prediction, batch.luma, self._format)
            planes = zip(batch.luma, shown, cb, cr, strict=True)
            self._colorized += len(cb)
        for item in batch.items:
            if isinstance(item, av.Packet):
                yield item
                continue
            source, luma, cb, cr = next(planes)
            if not item.warm_up:  # warm-up frames only bring the smoother to where it was
                yield *self._picture(source, luma, cb, cr), item.pts, item.duration or self._default_duration

    def _picture(self, source: np.ndarray, luma: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, ...]:
        planes = compose_yuv(self._compare, source, luma, cb, cr, self._white)
        if self._overlay_fps:
            rate = f"{self._colorized / (time.perf_counter() - self._started):.1f} fps | {self._colorizer.backend.NAME}"
            if self._compare == "off":
                draw_lines_yuv(*planes, [rate])
            else:
                draw_lines_yuv(*planes, [LABELS[0]])
                draw_lines_yuv(*planes, [LABELS[1], rate], left=colour_left(self._compare, luma.shape[1]))
        return planes


def _frame_duration(source: FileSource) -> int:
    """One frame's duration in the source's time base, for frames whose container gives none."""
    rate = source.info.frame_rate
    return max(1, round(1 / (rate * source.info.time_base))) if rate else 0
