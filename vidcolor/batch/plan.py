"""Which jobs a run does: a finished output is the proof of done; the manifest says under which settings it was
made and how often a file has failed. Leftovers of earlier runs that nothing will resume are removed."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .. import safe_output
from ..errors import OutputError
from .discover import Job
from .manifest import History, identity

log = logging.getLogger("vidcolor")


@dataclass
class Plan:
    todo: list[Job] = field(default_factory=list)  # largest first
    skipped: list[Job] = field(default_factory=list)  # the output is there
    given_up: list[tuple[Job, list[dict]]] = field(default_factory=list)  # failed 1 + retries times already
    failures: dict[str, int] = field(default_factory=dict)  # key -> failed attempts so far (same input, settings)


def plan(jobs: list[Job], history: dict[str, History], settings_id: str, *, overwrite: bool, retries: int) -> Plan:
    """Sort ``jobs`` into to do, skipped and given up. An output made under other settings, or from an input
    changed since, is not redone silently: that takes ``overwrite``."""
    result, stale = Plan(), []
    for job in jobs:
        if overwrite:
            result.todo.append(job)
            continue
        past = history.get(job.key, History())
        same = {"settings": settings_id, "input_identity": identity(job.input)}
        if job.output.exists():
            if past.done is not None and any(past.done.get(k) != v for k, v in same.items()):
                stale.append(job)
            result.skipped.append(job)
            continue
        failures = [f for f in past.failures if all(f.get(k) == v for k, v in same.items())]
        if len(failures) > retries or any(f.get("permanent") for f in failures):  # a bad input stays bad
            result.given_up.append((job, failures))
        else:
            result.todo.append(job)
            result.failures[job.key] = len(failures)
    if stale:
        raise OutputError(f"{len(stale)} output{'s were' if len(stale) > 1 else ' was'} made with other settings or "
                          f"from an input changed since (first: {stale[0].output}); pass -y to redo them")
    return result


def remove_leftovers(jobs: list[Job]) -> int:
    """Remove the temporary files of earlier runs for ``jobs`` (none of which a worker will resume); count them."""
    removed = 0
    for job in jobs:
        for path in _temporaries(job):
            if path.is_dir():  # a split video's segments (split.py)
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d temporary file%s left by earlier runs", removed, "s" * (removed > 1))
    return removed


def _temporaries(job: Job) -> list[Path]:
    if job.kind == "image":
        partial = safe_output.partial_path(job.output)
        return [partial] if partial.exists() else []
    if not job.output.parent.is_dir():
        return []
    # a video's partial, its resume record, the files it is finished through, and the folder of its segments
    # where it was split are all named .NAME.*
    prefix = f".{job.output.name}."
    return [p for p in job.output.parent.iterdir() if p.name.startswith(prefix)]
