"""What a batch did, for people: the summary table at the end and the list of files that failed every time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .discover import Job
from .worker import Outcome


@dataclass
class BatchResult:
    done: list[Outcome] = field(default_factory=list)  # outputs written: files, and split videos joined
    worked: list[Outcome] = field(default_factory=list)  # what the workers did: files and segments
    skipped: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, int, str]] = field(default_factory=list)  # (job, times it failed, the last reason)
    video_seconds: float = 0.0  # of the videos done in this run
    seconds: float = 0.0  # the run's wall clock

    @property
    def ok(self) -> bool:
        return not self.failed


def summary_table(result: BatchResult) -> str:
    """Counts, hours of video and the run's time, then frames/s of each worker while it was busy."""
    frames = sum(o.frames for o in result.done)
    lines = [
        f"{'done':8} {len(result.done):6d} files  {result.video_seconds / 3600:8.3f} h of video  {frames:9d} frames"
        f"  in {result.seconds:.1f} s",
        f"{'skipped':8} {len(result.skipped):6d} files (done before)",
        f"{'failed':8} {len(result.failed):6d} files",
    ]
    per_worker: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for outcome in result.worked:
        row = per_worker[outcome.worker]
        row[0] += 1
        row[1] += outcome.frames
        row[2] += outcome.seconds
    if per_worker:
        lines.append(f"{'worker':24} {'files':>6} {'frames':>9} {'busy s':>8} {'frames/s':>9}")
        for worker, (files, count, busy) in sorted(per_worker.items()):
            lines.append(f"{worker:24} {files:6.0f} {count:9.0f} {busy:8.1f} {count / busy if busy else 0:9.1f}")
    return "\n".join(lines)


def failure_lines(result: BatchResult) -> list[str]:
    return [f"{job.input}: failed {_times(n)}: {reason}" for job, n, reason in result.failed]


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"
