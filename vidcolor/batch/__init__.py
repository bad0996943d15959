"""`vidcolor batch`: every video and image under some folders, colorized into a mirrored tree, on a pool of local
worker processes or on a Ray cluster. Each worker runs the single-file code (``colorize_file``,
``colorize_image_file``) on paths; the driver alone decides what to do and keeps the manifest, so a run killed at
any moment is finished by running it again."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..errors import OutputError
from .discover import MANIFEST_NAME, Job, find_jobs, media_length
from .manifest import Manifest, identity, settings_id
from .plan import plan, remove_leftovers
from .report import BatchResult, failure_lines, summary_table
from .worker import ColorOptions, Outcome, failure_reason

if TYPE_CHECKING:
    from .split import Film

log = logging.getLogger("vidcolor")
DEFAULT_RETRIES = 2
DEFAULT_CPUS_PER_WORKER = 2


class Engine(Protocol):
    """Where the workers run: a pool of local processes or Ray actors, one job in flight per worker."""

    workers: int

    def idle(self) -> int: ...
    def submit(self, job: Job) -> None: ...
    def wait(self, timeout: float) -> list[Outcome]: ...
    def progress(self) -> dict[str, int]: ...  # frames written so far of each job in flight, by key
    def close(self) -> None: ...


def run(
    sources: Sequence[str | Path],
    dest: str | Path,
    *,
    options: ColorOptions | None = None,
    engine: Literal["local", "ray"] = "local",
    workers: int = 1,
    ray_address: str | None = None,
    cpus_per_worker: int = DEFAULT_CPUS_PER_WORKER,
    retries: int = DEFAULT_RETRIES,
    overwrite: bool = False,
    video_suffix: str = ".mp4",
    image_suffix: str | None = None,
    split_minutes: float | None = None,
    progress: bool = False,
) -> BatchResult:
    """Colorize every video and image under ``sources`` into ``dest`` (the tree mirrored), skipping what earlier
    runs finished with the same settings. ``engine="local"`` runs ``workers`` processes here; ``"ray"`` one actor
    per GPU (or per ``cpus_per_worker`` CPUs) on the cluster at ``ray_address`` (default: ``RAY_ADDRESS``, or a
    new local one). ``options``: the model, smoothing and encoder settings (default: single-file mode's). A
    file that fails is tried ``retries`` more times, in this run or the next ones. ``split_minutes``: a video
    longer than that is cut at keyframes into segments the workers colorize at once, then joined (``split.py``)."""
    sources, dest, options = [Path(s) for s in sources], Path(dest), options or ColorOptions()
    jobs = find_jobs(sources, dest, video_suffix=video_suffix, image_suffix=image_suffix)
    _check_writable(dest)
    films: list[Film] = []
    measured: dict[str, tuple[int, float]] = {}  # (frames, seconds) of a job, where already read
    if split_minutes is not None:
        from .split import split_long_videos  # PyAV loads only for a batch with videos

        jobs, films, measured = split_long_videos(jobs, split_minutes, overwrite=overwrite)
    manifest = Manifest(dest)
    settings = options.settings()
    sid = settings_id(settings)
    todo = plan(jobs, manifest.read(), sid, overwrite=overwrite, retries=retries)
    remove_leftovers(todo.skipped + [job for job, _ in todo.given_up])
    driver = _Driver(manifest, sid, options, films, todo.failures, retries)
    result = driver.result
    result.skipped = [job for job in todo.skipped if job.segment is None]  # a split video's are not files
    for job, fails in todo.given_up:
        driver.give_up(job, len(fails), fails[-1]["reason"])
    queue = driver.queue
    queue.extend(job for job in todo.todo if not driver.dropped(job))
    for film in films:
        film.left = {part.key for part in film.parts if part in queue}
    if skipped := len(result.skipped):
        log.info("skipping %d file%s done before (-y redoes them)", skipped, "s" * (skipped > 1))
    ready = [film for film in films if not film.left and not film.failed]  # every segment done before
    if not queue and not ready:
        return result
    manifest.append("run", settings=settings, settings_id=sid, engine=engine, todo=len(queue) + len(ready),
                    skipped=len(result.skipped))  # fmt: skip
    started = time.perf_counter()
    try:
        for film in ready:
            driver.join(film)
        if queue:
            driver.lengths = {job.key: measured.get(job.key) or media_length(job) for job in queue}
            pool = _engine(engine, options, overwrite=overwrite, workers=min(workers, len(queue)),
                           address=ray_address, cpus_per_worker=cpus_per_worker, sources=sources,
                           dest=dest)  # fmt: skip
            driver.bar = tqdm(total=sum(frames for frames, _ in driver.lengths.values()), unit="frame",
                              disable=not progress, dynamic_ncols=True, smoothing=0.1)  # fmt: skip
            try:
                with logging_redirect_tqdm([logging.getLogger()]):
                    _drive(pool, driver)
            finally:
                pool.close()
                driver.bar.close()
    finally:
        result.seconds = time.perf_counter() - started
    return result


def _drive(pool: Engine, driver: _Driver) -> None:
    """Keep every worker busy, largest files first; move the bar as the workers say how far they are; record each
    outcome."""
    queue, bar, busy = driver.queue, driver.bar, 0
    files = driver.finished + len({driver.file_of(job).key for job in queue})
    shown: dict[str, int] = {}  # frames on the bar of each job in flight
    bar.set_postfix_str(f"files 0/{files}")
    while queue or busy:
        while queue and pool.idle():
            pool.submit(queue.popleft())
            busy += 1
        outcomes = pool.wait(timeout=1.0)
        for key, frames in pool.progress().items():
            if frames > shown.get(key, 0):
                bar.update(frames - shown.get(key, 0))
                shown[key] = frames
        for outcome in outcomes:
            busy -= 1
            bar.update((outcome.frames if outcome.ok else 0) - shown.pop(outcome.job.key, 0))
            if outcome.lost:
                queue.appendleft(outcome.job)
            else:
                driver.record(outcome)
        bar.set_postfix_str(f"files {driver.finished}/{files}", refresh=False)
        bar.refresh()


class _Driver:
    """What the driver does with what the workers did: the manifest, the result, the queue of jobs (a failed one
    again at the back), and the joins of split videos once all their segments are done."""

    def __init__(self, manifest: Manifest, sid: str, options: ColorOptions, films: list[Film],
                 failures: dict[str, int], retries: int) -> None:  # fmt: skip
        self.manifest, self.sid, self.options, self.failures, self.retries = manifest, sid, options, failures, retries
        self.film_of = {part.key: film for film in films for part in film.parts}
        self.result = BatchResult()
        self.queue: deque[Job] = deque()
        self.bar: tqdm | None = None
        self.lengths: dict[str, tuple[int, float]] = {}  # (frames, seconds) of each job queued
        self.finished = 0  # files done or given up in this run
        self._identities: dict[Path, dict[str, int]] = {}

    def file_of(self, job: Job) -> Job:
        """The file a job makes: itself, or the video it is a segment of."""
        film = self.film_of.get(job.key)
        return job if film is None else film.job

    def dropped(self, job: Job) -> bool:
        """Whether ``job`` is a segment of a split video that failed: not worth doing in this run."""
        film = self.film_of.get(job.key)
        return film is not None and film.failed

    def record(self, outcome: Outcome) -> None:
        """Write ``outcome`` down; a failed job goes to the back of the queue, or is given up."""
        job = outcome.job
        for warning in outcome.warnings:
            log.warning("%s: %s", job.input, warning)
        common = {"key": job.key, "input": str(job.input.absolute()), "input_identity": self._identity(job.input),
                  "settings": self.sid, "worker": outcome.worker, "seconds": round(outcome.seconds, 3)}  # fmt: skip
        if outcome.ok:
            self.manifest.append("done", **common, frames=outcome.frames)
            self.result.worked.append(outcome)
            film = self.film_of.get(job.key)
            if film is None:
                self._done(outcome, self.lengths[job.key][1])
                return
            film.left.discard(job.key)
            if not film.left and not film.failed:
                self.join(film)
            return
        self.manifest.append("failed", **common, reason=outcome.reason, permanent=outcome.permanent)
        self.failures[job.key] = self.failures.get(job.key, 0) + 1
        if self.dropped(job):
            self._unqueued(job)
        elif self.failures[job.key] <= self.retries and not outcome.permanent:
            self.queue.append(job)
        else:
            self.give_up(job, self.failures[job.key], outcome.reason)

    def give_up(self, job: Job, times: int, reason: str) -> None:
        """``job`` failed every time: so does its file (a split video, once: its other queued segments go)."""
        film = self.film_of.get(job.key)
        self._unqueued(job)
        if film is not None:
            if film.failed:
                return
            film.failed = True
            for part in [p for p in self.queue if p.key in film.left]:
                self.queue.remove(part)
                self._unqueued(part)
        self.result.failed.append((self.file_of(job), times, reason))
        self.finished += 1

    def _unqueued(self, job: Job) -> None:
        """``job`` will not be done in this run: off the bar."""
        if self.bar is not None and job.key in self.lengths:
            self.bar.total -= self.lengths[job.key][0]

    def join(self, film: Film) -> None:
        """Join a split video's segments into its output; a failure to is the video's."""
        from .split import join

        started, job = time.perf_counter(), film.job
        try:
            frames = join(film, self.options)
        except Exception as exc:  # a full disk, a segment damaged since: the film fails, the batch goes on
            reason = f"joining its segments: {failure_reason(exc)}"
            self.manifest.append("failed", key=job.key, input=str(job.input.absolute()), settings=self.sid,
                                 input_identity=self._identity(job.input), reason=reason)  # fmt: skip
            self.give_up(film.parts[0], 1, reason)
            return
        done = Outcome(job, frames, time.perf_counter() - started, "join")
        self.manifest.append("done", key=job.key, input=str(job.input.absolute()), settings=self.sid,
                             input_identity=self._identity(job.input), worker=done.worker, frames=frames,
                             seconds=round(done.seconds, 3), segments=len(film.parts))  # fmt: skip
        self._done(done, sum(seconds for _, seconds in film.lengths.values()))

    def _done(self, outcome: Outcome, video_seconds: float) -> None:
        self.result.done.append(outcome)
        self.result.video_seconds += video_seconds
        self.finished += 1

    def _identity(self, path: Path) -> dict[str, int]:
        if path not in self._identities:
            self._identities[path] = identity(path)
        return self._identities[path]


def _engine(kind: str, options: ColorOptions, *, overwrite: bool, workers: int, address: str | None,
            cpus_per_worker: int, sources: list[Path], dest: Path) -> Engine:  # fmt: skip
    if kind == "ray":
        from .ray_runner import RayEngine  # Ray is imported only when asked for

        return RayEngine(options, overwrite=overwrite, address=address, cpus_per_worker=cpus_per_worker,
                         shared=[*sources, dest])  # fmt: skip
    from .local import LocalPool

    return LocalPool(options, overwrite=overwrite, workers=workers)


def _check_writable(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {dest}: {exc.strerror}") from exc
    if not os.access(dest, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {dest} is not writable")


__all__ = ["MANIFEST_NAME", "BatchResult", "ColorOptions", "failure_lines", "run", "summary_table"]
