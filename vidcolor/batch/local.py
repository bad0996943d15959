"""The local engine: a few worker processes on this machine, each loading the model once and colorizing one
file at a time. Processes rather than threads: a worker killed or crashed costs its one file, Ctrl-C stops all
at once. Not pinned to cores: on this 2-core CPU two workers pinned to a core each made 31 frames/s, unpinned 42;
each sizes its model's threads to its share of the cores instead. A worker tells the driver how many frames of
its file are written a couple of times a second, on the pipe that brings its outcome."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import time
from multiprocessing.connection import Connection

from ..backends.base import usable_cores
from ..errors import VidcolorError
from .discover import Job
from .worker import ColorOptions, FileWorker, Outcome, failure_reason, model_threads

log = logging.getLogger("vidcolor")
_START_SECONDS = 600  # a worker that has not loaded its model by then is not coming
_REPORT_SECONDS = 0.5  # how often a worker says how far its file is


class _Reporter:
    """Counts the frames written of the job in flight and sends the count to the driver, the first at once,
    then at most every ``_REPORT_SECONDS``. Called on the encoder's thread while the worker's own waits."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.frames, self.sent = conn, 0, float("-inf")

    def __call__(self, count: int) -> None:
        self.frames += count
        if time.monotonic() - self.sent >= _REPORT_SECONDS:
            self.sent = time.monotonic()
            self.conn.send(self.frames)


def _serve(conn: Connection, options: ColorOptions, overwrite: bool, name: str, threads: int) -> None:
    """A worker process: build the colorizer, then colorize each job sent until None comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it ends the workers
    try:
        worker = FileWorker(options, overwrite=overwrite, name=name, threads=threads)
    except Exception as exc:
        conn.send(failure_reason(exc))
        return
    try:
        conn.send(worker.loaded)
        while (job := conn.recv()) is not None:
            conn.send(worker.run(job, _Reporter(conn)))
    except (EOFError, BrokenPipeError):  # the driver is gone: so is the run
        return


class _Process:
    def __init__(self, options: ColorOptions, overwrite: bool, name: str, threads: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process that holds threads and a model
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, options, overwrite, name, threads), daemon=True,
                                       name=name)  # fmt: skip
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.frames = 0  # of the job in flight, as last heard
        self.name = name

    def started(self) -> tuple[str, ...]:
        """Wait for the model to load; its error, if any, is the run's (every file would fail the same way). What
        the model said as it loaded (its backend line) comes back."""
        if not self.conn.poll(_START_SECONDS):
            raise VidcolorError(f"worker {self.name} did not start in {_START_SECONDS} s")
        try:
            answer = self.conn.recv()
        except EOFError:
            raise VidcolorError(f"worker {self.name} exited while loading the model "
                                f"(exit code {self.process.exitcode})") from None  # fmt: skip
        if isinstance(answer, str):
            raise VidcolorError(answer)
        return answer

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()  # a partial video stays behind for the next run to resume
        self.process.join()
        self.conn.close()


class LocalPool:
    """``workers`` processes; ``submit`` hands a job to an idle one, ``wait`` returns what finished. Each sizes its
    model's threads on a CPU to its share of the cores (``cores // workers``, see ``model_threads``)."""

    def __init__(self, options: ColorOptions, *, overwrite: bool, workers: int) -> None:
        self._options, self._overwrite = options, overwrite
        self._threads = model_threads(usable_cores() // workers)
        self._procs = [self._start(f"local-{i + 1}") for i in range(workers)]
        try:
            said = [line for proc in self._procs for line in proc.started()]
        except BaseException:
            self.close()
            raise
        for line in dict.fromkeys(said):  # the workers' backend line, once, as the other commands give it
            log.info("%s", line)

    def _start(self, name: str) -> _Process:
        return _Process(self._options, self._overwrite, name, self._threads)

    @property
    def workers(self) -> int:
        return len(self._procs)

    def idle(self) -> int:
        return sum(proc.job is None for proc in self._procs)

    def submit(self, job: Job) -> None:
        proc = next(p for p in self._procs if p.job is None)
        proc.job, proc.frames = job, 0
        proc.conn.send(job)

    def progress(self) -> dict[str, int]:
        """Frames written so far of each job in flight (its current attempt), as last heard."""
        return {proc.job.key: proc.frames for proc in self._procs if proc.job is not None}

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of the jobs finished within ``timeout`` (returning early when a worker says how far it is); a
        worker that died fails its job and is replaced."""
        busy = {proc.conn: proc for proc in self._procs if proc.job is not None}
        outcomes = []
        for conn in multiprocessing.connection.wait(list(busy), timeout):
            proc = busy[conn]
            try:
                message = conn.recv()
            except (EOFError, ConnectionError):
                proc.process.join()
                outcomes.append(Outcome(proc.job, 0, 0.0, proc.name,
                                        f"worker process died (exit code {proc.process.exitcode})"))  # fmt: skip
                self._replace(proc)
                continue
            if isinstance(message, int):  # frames written so far
                proc.frames = message
                continue
            outcomes.append(message)
            proc.job = None
        return outcomes

    def _replace(self, dead: _Process) -> None:
        dead.stop()
        fresh = self._start(dead.name)
        fresh.started()
        self._procs[self._procs.index(dead)] = fresh

    def close(self) -> None:
        for proc in self._procs:
            if proc.job is None and proc.process.is_alive():
                try:
                    proc.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        for proc in self._procs:
            if proc.job is None:
                proc.process.join(10)
            proc.stop()
