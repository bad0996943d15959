"""Video jobs for `vidcolor serve`: one worker thread colorizes them in turn with the model each job chose,
through the same ``colorize_file`` as the command line (crash-safe output, resume); progress is read by the API.
The list is kept in ``jobs.json`` beside the results: a restarted server shows the jobs it had and continues the
unfinished ones where their partial outputs end, as the command line resumes a killed run. A job's hints are kept
in ``jobs.json`` as they were given, its reference picture beside its result (ID.reference.jpg) until it ends."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .. import resume
from ..errors import VidcolorError, first_line
from ..guidance.hints import parse_hints
from ..guidance.reference import Reference
from .guidance import Guidance
from .models import Colorizers

log = logging.getLogger("vidcolor")


class JobCancelled(VidcolorError):
    """Raised on the encoder's thread to stop a job the client deleted."""


class ServerStopping(VidcolorError):
    """Raised on the encoder's thread to stop a job, its partial output kept, when the server stops."""


@dataclass
class Job:
    id: str
    name: str  # the uploaded file's name, for display only: no path is ever made from it
    source: Path
    output: Path
    state: str = "queued"  # queued, running, done, failed, cancelled
    frames: int = 0
    total: int | None = None
    error: str = ""
    choice: tuple[str, str] = ("", "")  # (model, sensor), a key of the server's ``Colorizers``
    resumed_at: int = 0  # frames an earlier server's partial output gave it
    started: float | None = None  # time.monotonic() when it began running
    seconds: float | None = None  # how long it ran, once it ended: its fps no longer falls as time goes by
    hints: object = None  # the hints JSON document as the client gave it, or None
    reference: Path | None = None  # the reference picture, kept beside the results while the job is unfinished
    reference_name: str = ""  # the client's name for it, for display only
    cancel: threading.Event = field(default_factory=threading.Event)

    def record(self) -> dict[str, object]:
        """What ``jobs.json`` keeps of the job."""
        return {"id": self.id, "name": self.name, "source": self.source.name, "output": self.output.name,
                "state": self.state, "frames": self.frames, "total": self.total, "error": self.error,
                "choice": self.choice, "seconds": self.seconds, "hints": self.hints,
                "reference": None if self.reference is None else self.reference.name,
                "reference_name": self.reference_name}  # fmt: skip

    def inputs(self) -> tuple[Path, ...]:
        """The files the job reads, removed when it ends."""
        return (self.source,) if self.reference is None else (self.source, self.reference)

    def status(self) -> dict[str, object]:
        elapsed = self.seconds  # frozen once the job ended
        if elapsed is None:
            elapsed = time.monotonic() - self.started if self.started else 0.0
        fps = self.frames / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.frames) / fps if self.state == "running" and fps and self.total else None
        return {"id": self.id, "name": self.name, "state": self.state, "frames": self.frames, "total": self.total,
                "fps": round(fps, 2), "eta_seconds": None if left is None else round(left, 1),
                "error": self.error or None, "resumed_at": self.resumed_at,
                "model": self.choice[0], "sensor": self.choice[1],
                "hints": len(self.hints["hints"]) if isinstance(self.hints, dict) else 0,
                "reference": self.reference_name or None}  # fmt: skip


class JobRunner:
    """Colorizes queued jobs one at a time on its own thread (the cores are shared; a second job would only halve
    the first's speed)."""

    def __init__(self, colorizers: Colorizers, folder: Path, uploads: Path) -> None:
        self.colorizers, self.folder, self.uploads = colorizers, folder, uploads
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._saving = threading.Lock()
        self._closing = threading.Event()
        self._reload()
        self._thread = threading.Thread(target=self._work, name="vidcolor-jobs", daemon=True)
        self._thread.start()

    def _reload(self) -> None:
        """The jobs of an earlier server; the unfinished ones queued again (a job whose upload is gone fails)."""
        try:
            records = json.loads((self.folder / "jobs.json").read_text())
        except (OSError, ValueError):
            return
        for record in records:
            job = Job(record["id"], record["name"], self.uploads / record["source"], self.folder / record["output"],
                      record["state"], record["frames"], record["total"], record["error"],
                      tuple(record.get("choice") or self.colorizers.default_key),
                      seconds=record.get("seconds"), hints=record.get("hints"),
                      reference=self.folder / record["reference"] if record.get("reference") else None,
                      reference_name=record.get("reference_name", ""))  # fmt: skip
            self.jobs[job.id] = job
            if job.state in ("queued", "running"):
                job.state, job.frames = "queued", 0
                self._queue.put(job)
        if any(job.state == "queued" for job in self.jobs.values()):
            log.info("continuing %d unfinished jobs", sum(job.state == "queued" for job in self.jobs.values()))

    def save(self) -> None:
        """``jobs.json``, whole or not at all."""
        with self._saving:
            path = self.folder / "jobs.json"
            partial = path.with_name(".jobs.json.partial")
            partial.write_text(json.dumps([job.record() for job in list(self.jobs.values())], indent=1))
            os.replace(partial, path)

    def submit(self, name: str, source: Path, suffix: str, total: int | None, choice: tuple[str, str],
               guidance: Guidance | None = None) -> Job:  # fmt: skip
        job_id = uuid.uuid4().hex
        job = Job(job_id, name, source, self.folder / f"{job_id}{suffix}", total=total, choice=choice)
        if guidance is not None:
            job.hints, job.reference_name = guidance.document, guidance.reference_name
            if guidance.reference_path is not None:  # beside the results: the job's, until it ends
                job.reference = self.folder / f"{job_id}.reference{guidance.reference_path.suffix}"
                os.replace(guidance.reference_path, job.reference)
        self.jobs[job_id] = job
        self.save()
        self._queue.put(job)
        return job

    def cancel(self, job: Job) -> None:
        job.cancel.set()
        if job.state == "queued":
            job.state = "cancelled"
            for path in job.inputs():
                path.unlink(missing_ok=True)
        self.save()

    def forget(self, job: Job) -> None:
        """A finished job the client deleted: its result goes too."""
        job.output.unlink(missing_ok=True)
        del self.jobs[job.id]
        self.save()

    def close(self) -> None:
        """Stop: the running job keeps its partial output and is continued by the next server."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _work(self) -> None:
        from ..pipeline import colorize_file  # PyAV loads with the first video

        while (job := self._queue.get()) is not None and not self._closing.is_set():
            if job.cancel.is_set():
                continue
            job.state, job.started = "running", time.monotonic()
            self.save()

            def counted(frames: int, job: Job = job) -> None:
                if job.cancel.is_set():
                    raise JobCancelled("cancelled")
                if self._closing.is_set():
                    raise ServerStopping("the server is stopping")
                job.frames += frames

            try:
                result = colorize_file(job.source, job.output, colorizer=self.colorizers.get(job.choice),
                                       on_frames=counted, **self._guidance(job))  # fmt: skip
                job.state, job.frames, job.total = "done", result.frames, result.frames
                job.resumed_at = result.resumed_at
            except JobCancelled:
                job.state = "cancelled"
                resume.forget(job.output)  # what was written goes with the job
            except ServerStopping:
                job.state = "queued"  # for the next server, which resumes its partial output from its upload
                return
            except Exception as exc:  # noqa: BLE001 (a bad file fails its job alone, with the CLI's one line)
                job.state, job.error = "failed", first_line(exc)
                log.warning("job %s (%s) failed: %s", job.id, job.name, job.error)
            finally:
                if job.state != "queued":
                    job.seconds = time.monotonic() - job.started
                    for path in job.inputs():
                        path.unlink(missing_ok=True)
                self.save()

    @staticmethod
    def _guidance(job: Job) -> dict[str, object]:
        """``colorize_file``'s hints and reference for ``job`` (checked when it was submitted)."""
        try:
            reference = None if job.reference is None else Reference.read(job.reference)
        except VidcolorError as exc:  # said of the client's picture, not of where the server keeps it
            raise type(exc)(first_line(exc).replace(str(job.reference), job.reference_name)) from None
        return {"hints": parse_hints(job.hints) if job.hints is not None else [], "reference": reference}
