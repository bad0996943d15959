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
from typing import Literal, Protocol

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..errors import OutputError
from .discover import MANIFEST_NAME, Job, find_jobs, media_length
from .manifest import Manifest, identity, settings_id
from .plan import plan, remove_leftovers
from .report import BatchResult, failure_lines, summary_table
from .worker import ColorOptions, Outcome

log = logging.getLogger("vidcolor")
DEFAULT_RETRIES = 2
DEFAULT_CPUS_PER_WORKER = 2


class Engine(Protocol):
    """Where the workers run: a pool of local processes or Ray actors, one job in flight per worker."""

    workers: int

    def idle(self) -> int: ...
    def submit(self, job: Job) -> None: ...
    def wait(self, timeout: float) -> list[Outcome]: ...
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
    progress: bool = False,
) -> BatchResult:
    """Colorize every video and image under ``sources`` into ``dest`` (the tree mirrored), skipping what earlier
    runs finished with the same settings. ``engine="local"`` runs ``workers`` processes here; ``"ray"`` one actor
    per GPU (or per ``cpus_per_worker`` CPUs) on the cluster at ``ray_address`` (default: ``RAY_ADDRESS``, or a
    new local one). ``options``: the model, smoothing and encoder settings (default: single-file mode's). A
    file that fails is tried ``retries`` more times, in this run or the next ones."""
    sources, dest, options = [Path(s) for s in sources], Path(dest), options or ColorOptions()
    jobs = find_jobs(sources, dest, video_suffix=video_suffix, image_suffix=image_suffix)
    _check_writable(dest)
    manifest = Manifest(dest)
    settings = options.settings()
    sid = settings_id(settings)
    todo = plan(jobs, manifest.read(), sid, overwrite=overwrite, retries=retries)
    remove_leftovers(todo.skipped + [job for job, _ in todo.given_up])
    result = BatchResult(skipped=todo.skipped)
    result.failed = [(job, len(fails), fails[-1]["reason"]) for job, fails in todo.given_up]
    if todo.skipped:
        log.info("skipping %d file%s done before (-y redoes them)", len(todo.skipped), "s" * (len(todo.skipped) > 1))
    if not todo.todo:
        return result
    lengths = {job.key: media_length(job) for job in todo.todo}
    manifest.append("run", settings=settings, settings_id=sid, engine=engine, todo=len(todo.todo),
                    skipped=len(todo.skipped))  # fmt: skip
    started = time.perf_counter()
    pool = _engine(engine, options, overwrite=overwrite, workers=min(workers, len(todo.todo)), address=ray_address,
                   cpus_per_worker=cpus_per_worker, sources=sources, dest=dest)  # fmt: skip
    bar = tqdm(total=sum(frames for frames, _ in lengths.values()), unit="frame", disable=not progress,
               dynamic_ncols=True, smoothing=0.1)  # fmt: skip
    try:
        with logging_redirect_tqdm([logging.getLogger()]):
            _drive(pool, todo.todo, todo.failures, retries, manifest, sid, result, lengths, bar)
    finally:
        pool.close()
        bar.close()
        result.seconds = time.perf_counter() - started
    return result


def _drive(pool: Engine, jobs: list[Job], failures: dict[str, int], retries: int, manifest: Manifest, sid: str,
           result: BatchResult, lengths: dict[str, tuple[int, float]], bar: tqdm) -> None:  # fmt: skip
    """Keep every worker busy, largest files first; record each outcome; retry a failed file at the back."""
    queue, busy, finished = deque(jobs), 0, 0
    identities = {job.key: identity(job.input) for job in jobs}
    bar.set_postfix_str(f"files 0/{len(jobs)}")
    while queue or busy:
        while queue and pool.idle():
            pool.submit(queue.popleft())
            busy += 1
        for outcome in pool.wait(timeout=1.0):
            busy -= 1
            job = outcome.job
            if outcome.lost:
                queue.appendleft(job)
                continue
            for warning in outcome.warnings:
                log.warning("%s: %s", job.input, warning)
            common = {"key": job.key, "input": str(job.input.absolute()), "input_identity": identities[job.key],
                      "settings": sid, "worker": outcome.worker, "seconds": round(outcome.seconds, 3)}  # fmt: skip
            if outcome.ok:
                manifest.append("done", **common, frames=outcome.frames)
                result.done.append(outcome)
                result.video_seconds += lengths[job.key][1]
                bar.update(outcome.frames)
                finished += 1
                continue
            manifest.append("failed", **common, reason=outcome.reason)
            failures[job.key] = failures.get(job.key, 0) + 1
            if failures[job.key] <= retries:
                queue.append(job)
                continue
            result.failed.append((job, failures[job.key], outcome.reason))
            bar.total -= lengths[job.key][0]
            finished += 1
        bar.set_postfix_str(f"files {finished}/{len(jobs)}", refresh=False)
        bar.refresh()


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
