"""The local engine: a few worker processes on this machine, each loading the model once and colorizing one
file at a time. Processes rather than threads: a worker killed or crashed costs its one file, Ctrl-C stops all
at once. Not pinned to cores: on this 2-core CPU two workers pinned to a core each made 31 frames/s, unpinned 42."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
from multiprocessing.connection import Connection

from ..errors import VidcolorError, first_line
from .discover import Job
from .worker import ColorOptions, FileWorker, Outcome

_START_SECONDS = 600  # a worker that has not loaded its model by then is not coming


def _serve(conn: Connection, options: ColorOptions, overwrite: bool, name: str) -> None:
    """A worker process: build the colorizer, then colorize each job sent until None comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it ends the workers
    try:
        worker = FileWorker(options, overwrite=overwrite, name=name)
    except Exception as exc:
        conn.send(first_line(exc) if isinstance(exc, VidcolorError) else f"{type(exc).__name__}: {first_line(exc)}")
        return
    try:
        conn.send(None)
        while (job := conn.recv()) is not None:
            conn.send(worker.run(job))
    except (EOFError, BrokenPipeError):  # the driver is gone: so is the run
        return


class _Process:
    def __init__(self, options: ColorOptions, overwrite: bool, name: str) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process that holds threads and a model
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, options, overwrite, name), daemon=True,
                                       name=name)  # fmt: skip
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.name = name

    def started(self) -> None:
        """Wait for the model to load; its error, if any, is the run's (every file would fail the same way)."""
        if not self.conn.poll(_START_SECONDS):
            raise VidcolorError(f"worker {self.name} did not start in {_START_SECONDS} s")
        try:
            error = self.conn.recv()
        except EOFError:
            raise VidcolorError(f"worker {self.name} exited while loading the model "
                                f"(exit code {self.process.exitcode})") from None  # fmt: skip
        if error is not None:
            raise VidcolorError(error)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()  # a partial video stays behind for the next run to resume
        self.process.join()
        self.conn.close()


class LocalPool:
    """``workers`` processes; ``submit`` hands a job to an idle one, ``wait`` returns what finished."""

    def __init__(self, options: ColorOptions, *, overwrite: bool, workers: int) -> None:
        self._options, self._overwrite = options, overwrite
        self._procs = [self._start(f"local-{i + 1}") for i in range(workers)]
        try:
            for proc in self._procs:
                proc.started()
        except BaseException:
            self.close()
            raise

    def _start(self, name: str) -> _Process:
        return _Process(self._options, self._overwrite, name)

    @property
    def workers(self) -> int:
        return len(self._procs)

    def idle(self) -> int:
        return sum(proc.job is None for proc in self._procs)

    def submit(self, job: Job) -> None:
        proc = next(p for p in self._procs if p.job is None)
        proc.job = job
        proc.conn.send(job)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of the jobs finished within ``timeout``; a worker that died fails its job and is replaced."""
        busy = {proc.conn: proc for proc in self._procs if proc.job is not None}
        outcomes = []
        for conn in multiprocessing.connection.wait(list(busy), timeout):
            proc = busy[conn]
            try:
                outcomes.append(conn.recv())
            except (EOFError, ConnectionError):
                proc.process.join()
                outcomes.append(Outcome(proc.job, 0, 0.0, proc.name,
                                        f"worker process died (exit code {proc.process.exitcode})"))  # fmt: skip
                self._replace(proc)
                continue
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
