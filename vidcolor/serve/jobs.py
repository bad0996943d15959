"""Video jobs for `vidcolor serve`: one worker thread colorizes them in turn with the server's one colorizer,
through the same ``colorize_file`` as the command line (crash-safe output, resume); progress is read by the API."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .. import resume
from ..colorizer import Colorizer
from ..errors import VidcolorError, first_line

log = logging.getLogger("vidcolor")


class JobCancelled(VidcolorError):
    """Raised on the encoder's thread to stop a job the client deleted."""


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
    started: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def status(self) -> dict[str, object]:
        elapsed = time.monotonic() - self.started if self.started else 0.0
        fps = self.frames / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.frames) / fps if fps and self.total else None
        return {"id": self.id, "name": self.name, "state": self.state, "frames": self.frames, "total": self.total,
                "fps": round(fps, 2), "eta_seconds": None if left is None else round(left, 1),
                "error": self.error or None}  # fmt: skip


class JobRunner:
    """Colorizes queued jobs one at a time on its own thread (the model is shared; a second job would only halve
    the first's speed)."""

    def __init__(self, colorizer: Colorizer, folder: Path) -> None:
        self.colorizer, self.folder = colorizer, folder
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="vidcolor-jobs", daemon=True)
        self._thread.start()

    def submit(self, name: str, source: Path, suffix: str) -> Job:
        job_id = uuid.uuid4().hex
        job = Job(job_id, name, source, self.folder / f"{job_id}{suffix}")
        self.jobs[job_id] = job
        self._queue.put(job)
        return job

    def cancel(self, job: Job) -> None:
        job.cancel.set()
        if job.state == "queued":
            job.state = "cancelled"

    def close(self) -> None:
        for job in self.jobs.values():
            job.cancel.set()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _work(self) -> None:
        from ..pipeline import colorize_file  # PyAV loads with the first video

        while (job := self._queue.get()) is not None:
            if job.cancel.is_set():
                continue
            job.state, job.started = "running", time.monotonic()

            def counted(frames: int, job: Job = job) -> None:
                if job.cancel.is_set():
                    raise JobCancelled("cancelled")
                job.frames += frames

            try:
                result = colorize_file(job.source, job.output, colorizer=self.colorizer, on_frames=counted)
                job.state, job.total = "done", result.frames
            except JobCancelled:
                job.state = "cancelled"
                resume.forget(job.output)  # what was written goes with the job
            except Exception as exc:  # noqa: BLE001 (a bad file fails its job alone, with the CLI's one line)
                job.state, job.error = "failed", first_line(exc)
                log.warning("job %s (%s) failed: %s", job.id, job.name, job.error)
            finally:
                job.source.unlink(missing_ok=True)
