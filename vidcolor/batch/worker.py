"""A file worker: loads the model once, then colorizes one file per call with the single-file code. The local
pool runs one in each of its processes, the Ray engine one in each actor; only paths and small results cross."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..backends import BackendName
from ..backends.base import cpu_model_threads
from ..colorizer import Colorizer
from ..compare import CompareMode
from ..errors import InputError, VidcolorError, first_line
from ..images import colorize_image_file
from ..models.presets import ModelName, Precision, Render, Sensor
from ..sinks import DEFAULT_X264_PRESET
from ..temporal import DEFAULT_SMOOTH
from .discover import Job

log = logging.getLogger("vidcolor")


@dataclass(frozen=True)
class ColorOptions:
    """The model, smoothing and encoder settings of single-file mode, for every file of a batch."""

    model: ModelName = "auto"
    weights: Path | None = None
    size: int | None = None
    precision: Precision = "auto"
    backend: BackendName = "auto"
    batch: int = 1
    smooth: float = DEFAULT_SMOOTH
    crf: int = 18
    preset: str = DEFAULT_X264_PRESET
    saturation: float = 1.0
    compare: CompareMode = "off"
    sensor: Sensor = "visible"
    render: Render = "auto"

    def settings(self) -> dict[str, object]:
        """What the manifest compares across runs: the options, with the weights file as its digest."""
        settings = {k: v for k, v in asdict(self).items() if k != "batch"}  # frames per call change no pixel
        if self.weights is not None:
            settings["weights"] = hashlib.sha256(self.weights.read_bytes()).hexdigest()
        return settings

    def colorizer(self, threads: int | None = None) -> Colorizer:
        return Colorizer(backend=self.backend, size=self.size, weights=self.weights, model=self.model,
                         precision=self.precision, threads=threads, sensor=self.sensor,
                         render=self.render)  # fmt: skip


def failure_reason(exc: Exception) -> str:
    """One line for the manifest and the summary: vidcolor's own message, else the error's type and first line."""
    return first_line(exc) if isinstance(exc, VidcolorError) else f"{type(exc).__name__}: {first_line(exc)}"


def model_threads(share: int) -> int:
    """A worker's model threads on a CPU: its share of the machine's cores (at least one), never more than all
    cores but one. Several workers each taking all cores but one would oversubscribe the machine."""
    return min(cpu_model_threads(), max(1, share))


@dataclass(frozen=True)
class Outcome:
    """What one call did: ``reason`` is empty when the output was written."""

    job: Job
    frames: int
    seconds: float  # wall clock
    worker: str
    reason: str = ""
    warnings: tuple[str, ...] = ()
    lost: bool = False  # the worker was lost with its node, not failed by the file: the file goes again, uncounted
    permanent: bool = False  # the input itself is bad (unreadable, damaged): until it changes, so is every retry

    @property
    def ok(self) -> bool:
        return not self.reason


class _Kept(logging.Handler):
    """Keeps what a worker says (the model's lines as it loads, then the warnings of each file: a cut-short input,
    …) for the driver to show."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class FileWorker:
    """``threads``: the model's threads on a CPU (see ``model_threads``; default: all cores but one)."""

    def __init__(self, options: ColorOptions, *, overwrite: bool, name: str = "", threads: int | None = None) -> None:
        # a worker's notices would interleave with the driver's bar: they travel back to the driver instead
        log.propagate = False
        self._kept = _Kept()
        log.addHandler(self._kept)
        self.options, self.overwrite = options, overwrite
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        log.setLevel(logging.INFO)
        self.colorizer = options.colorizer(threads)
        self.loaded = tuple(self._kept.messages)  # what the model said as it loaded: backend, model, working size
        log.setLevel(logging.WARNING)  # then only each file's warnings, with its outcome

    def run(self, job: Job, on_frames: Callable[[int], None] | None = None) -> Outcome:
        """Colorize ``job``; a failure of the file's own is returned as its one-line reason, never raised.
        ``on_frames`` is told of each video frame written, on the encoder's thread."""
        from ..pipeline import colorize_file  # PyAV loads with the first video

        self._kept.messages = []
        started = time.perf_counter()
        frames, reason, notes, permanent = 1, "", (), False
        try:
            if job.kind == "image":
                colorize_image_file(self.colorizer, job.input, job.output, overwrite=self.overwrite,
                                    saturation=self.options.saturation, compare=self.options.compare)  # fmt: skip
            else:
                o = self.options
                result = colorize_file(job.input, job.output, colorizer=self.colorizer, overwrite=self.overwrite,
                                       crf=o.crf, preset=o.preset, batch=o.batch, smooth=o.smooth,
                                       saturation=o.saturation, compare=o.compare, segment=job.segment,
                                       on_frames=on_frames)  # fmt: skip
                frames = result.frames
                if result.resumed_at:  # said in single-file mode too; a batch re-run should not do it silently
                    notes = (f"resumed a killed run's partial output: its first {result.resumed_at} frames kept",)
        except Exception as exc:  # a file that trips an unforeseen error fails alone; the batch goes on
            reason, permanent = failure_reason(exc), isinstance(exc, InputError)
        return Outcome(job, frames if not reason else 0, time.perf_counter() - started, self.name, reason,
                       (*notes, *self._kept.messages), permanent=permanent)  # fmt: skip
