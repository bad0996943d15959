"""Where a threaded pipeline's time goes: per stage, the CPU its thread spent and the time it waited.

Each stage's thread starts its ``StageClock`` (``clock.running()``); the pipeline's queue calls charge their waits
to the clock of the thread that waits (``charge_wait``): for input (the stage before is behind) or for room (the
stage after is). On two cores every stage competes with every other, so the table shows each one's share of the
machine, and what the threads no stage owns took (the codecs' and onnxruntime's own threads).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

_running = threading.local()  # the clock of the stage this thread runs, if any


@dataclass
class StageClock:
    """One stage's seconds: CPU of its thread, and wall time waiting for input and for room after it."""

    name: str
    cpu: float = 0.0
    waiting_for_input: float = 0.0
    waiting_for_room: float = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        """This thread runs the stage: its CPU time and its waits are the stage's."""
        _running.clock, started = self, time.thread_time()
        try:
            yield
        finally:
            self.cpu += time.thread_time() - started
            _running.clock = None


def charge_wait(seconds: float, *, for_input: bool) -> None:
    """Add a wait of this thread's to its stage's clock (nothing where the thread runs no stage)."""
    clock = getattr(_running, "clock", None)
    if clock is None:
        return
    if for_input:
        clock.waiting_for_input += seconds
    else:
        clock.waiting_for_room += seconds


@dataclass(frozen=True)
class PipelineTimes:
    """A run's stage clocks, its wall seconds, the process's CPU seconds over it, and the frames it made."""

    stages: Sequence[StageClock]
    wall: float
    process_cpu: float
    frames: int

    def table(self) -> str:
        """The per-frame table ``--profile`` prints."""
        cores = os.cpu_count() or 1
        per_frame = 1000 / max(1, self.frames)

        def row(name: str, cpu: float, starved: str, blocked: str) -> str:
            share = 100 * cpu / (self.wall * cores) if self.wall > 0 else 0.0
            return f"{name:<16} {cpu * per_frame:8.1f} {share:7.0f} % {starved:>12} {blocked:>12}"

        lines = [f"{'stage':<16} {'CPU ms':>8} {'of cores':>9} {'waits input':>12} {'waits room':>12}   per frame"]
        for stage in self.stages:
            lines.append(row(stage.name, stage.cpu, f"{stage.waiting_for_input * per_frame:.1f}",
                             f"{stage.waiting_for_room * per_frame:.1f}"))  # fmt: skip
        others = max(0.0, self.process_cpu - sum(stage.cpu for stage in self.stages))
        lines.append(row("other threads", others, "", ""))
        lines.append(row("whole", self.process_cpu, "", ""))
        fps = self.frames / self.wall if self.wall > 0 else 0.0
        lines.append(f"wall {self.wall * per_frame:.1f} ms a frame ({fps:.1f} fps) on {cores} cores; other threads: "
                     "the codecs' and the model runtime's own")  # fmt: skip
        return "\n".join(lines)
