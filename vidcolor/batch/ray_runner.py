"""The Ray engine: one long-lived actor per GPU (or per ``cpus_per_worker`` CPUs) of the cluster, each loading the
model once and colorizing one file per call with the single-file code. Only paths and small results travel:
no frame enters the object store. Ray restarts an actor that dies (``max_restarts=-1``) and runs its call again
(``max_task_retries=-1``); an actor whose node is gone, with no room left to restart it, is given up by the driver
and its file goes to another. The health checks' pings bring back how many frames each actor's file has written,
for the driver's progress bar. Imported only for ``--ray``."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import time
from pathlib import Path

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from ..errors import VidcolorError, first_line
from .discover import Job
from .worker import ColorOptions, FileWorker, Outcome, model_threads

log = logging.getLogger("vidcolor")
_CPU_BACKENDS = ("cpu", "onnxruntime", "openvino")
_PING_EVERY = 2.0  # seconds between health checks of the actors (and progress reports)
_PING_PATIENCE = 15.0  # an actor silent this long, with no room in the cluster to restart it, is lost
_START_SECONDS = 600  # to place every actor and load its model


@ray.remote(max_restarts=-1, max_task_retries=-1, max_concurrency=2)  # a second thread answers pings mid-file
class FileActor:
    def __init__(self, options: ColorOptions, overwrite: bool, cpus: int) -> None:
        # the node's address and id: nodes in containers may share an address
        node = f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}"
        self.worker = FileWorker(options, overwrite=overwrite, name=f"{node}:{os.getpid()}",
                                 threads=model_threads(cpus))  # fmt: skip
        self.frames = 0  # written so far of the file in flight

    def sees(self, probe: str, token: str, sources: list[str]) -> tuple[str, list[str], tuple[str, ...]]:
        """(this host, the shared paths it cannot see, what its model said as it loaded): the paths are the sources,
        and the output folder by a file the driver wrote there (a folder of the same name on a local disk would not
        hold it)."""
        missing = [s for s in sources if not os.path.exists(s)]
        try:
            if Path(probe).read_text() != token:
                missing.append(str(Path(probe).parent))
        except OSError:
            missing.append(str(Path(probe).parent))
        return socket.gethostname(), missing, self.worker.loaded

    def run(self, job: Job) -> Outcome:
        self.frames = 0
        return self.worker.run(job, self._count)

    def _count(self, frames: int) -> None:  # on the encoder's thread
        self.frames += frames

    def ping(self) -> int:
        """A sign of life, and how far the file in flight is (frames written)."""
        return self.frames


@dataclasses.dataclass
class _Slot:
    actor: ray.actor.ActorHandle
    job: Job | None = None  # as the driver knows it (relative paths)
    call: ray.ObjectRef | None = None
    ping: ray.ObjectRef | None = None
    ping_sent: float = 0.0
    ping_job: Job | None = None  # the job in flight when the ping was sent
    frames: int = 0  # written so far of the job in flight, as the last ping said


class RayEngine:
    """The actors; ``submit`` hands a job to an idle one, ``wait`` returns what finished (see ``LocalPool``)."""

    def __init__(self, options: ColorOptions, *, overwrite: bool, address: str | None, cpus_per_worker: int,
                 shared: list[Path]) -> None:  # fmt: skip
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:  # no address: RAY_ADDRESS, else a new local cluster
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        self._slots: list[_Slot] = []
        try:
            count, self._need = _actors_for(options, cpus_per_worker)
            resources = {f"num_{k.lower()}s": v for k, v in self._need.items()}  # {"CPU": 2} -> num_cpus=2
            remote = FileActor.options(**resources, scheduling_strategy="SPREAD")
            self._slots = [_Slot(remote.remote(options, overwrite, cpus_per_worker)) for _ in range(count)]
            self._check_shared(shared)
        except BaseException:
            self.close()
            raise
        self._last_check = time.monotonic()
        log.info("ray: %d workers (%s each)", count, ", ".join(f"{v} {k}" for k, v in self._need.items()))

    def _check_shared(self, shared: list[Path]) -> None:
        """Every actor must see the sources and the output folder: paths are all that is sent."""
        dest, sources = shared[-1].absolute(), [str(p.absolute()) for p in shared[:-1]]
        probe, token = dest / f".vidcolor-batch-probe-{secrets.token_hex(8)}", secrets.token_hex(16)
        probe.write_text(token)
        try:
            answers = ray.get([s.actor.sees.remote(str(probe), token, sources) for s in self._slots],
                              timeout=_START_SECONDS)  # fmt: skip
        except GetTimeoutError:
            raise VidcolorError(f"the Ray workers did not start in {_START_SECONDS} s") from None
        except RayActorError as exc:  # the model did not load: every file would fail the same way
            raise VidcolorError(f"a Ray worker failed to start: {_cause(exc)}") from None
        finally:
            probe.unlink(missing_ok=True)
        for host, missing, _ in answers:
            if missing:
                raise VidcolorError(f"node {host} cannot see {', '.join(missing)}: every node needs the sources "
                                    "and the output folder at the same paths (a shared filesystem)")  # fmt: skip
        for line in dict.fromkeys(line for _, _, loaded in answers for line in loaded):  # each backend line once
            log.info("%s", line)

    @property
    def workers(self) -> int:
        return len(self._slots)

    def idle(self) -> int:
        return sum(slot.job is None for slot in self._slots)

    def submit(self, job: Job) -> None:
        slot = next(s for s in self._slots if s.job is None)
        absolute = dataclasses.replace(job, input=job.input.absolute(), output=job.output.absolute())
        slot.job, slot.call, slot.frames = job, slot.actor.run.remote(absolute), 0

    def progress(self) -> dict[str, int]:
        """Frames written so far of each job in flight, as the actors last said (every few seconds)."""
        return {slot.job.key: slot.frames for slot in self._slots if slot.job is not None}

    def wait(self, timeout: float) -> list[Outcome]:
        calls = {slot.call: slot for slot in self._slots if slot.call is not None}
        outcomes = []
        if calls:
            ray.wait(list(calls), num_returns=1, timeout=timeout)
            ready, _ = ray.wait(list(calls), num_returns=len(calls), timeout=0)
            for call in ready:
                slot = calls[call]
                try:
                    outcomes.append(dataclasses.replace(ray.get(call), job=slot.job))
                except RayActorError:  # given up by ``_check_health``: the file was not at fault
                    outcomes.append(Outcome(slot.job, 0, 0.0, "lost", "its worker was lost", lost=True))
                    self._slots.remove(slot)
                    continue
                slot.job = slot.call = None
        else:
            time.sleep(timeout)
        self._check_health()
        return outcomes

    def _check_health(self) -> None:
        """Give up actors that stopped answering where the cluster has no room to restart them (their node is
        gone): Ray would otherwise wait for room forever, and their files with them."""
        now = time.monotonic()
        if now - self._last_check < _PING_EVERY:
            return
        self._last_check = now
        for slot in list(self._slots):
            if slot.ping is not None:
                done, _ = ray.wait([slot.ping], timeout=0)
                if not done:
                    if now - slot.ping_sent > _PING_PATIENCE and not self._room():
                        log.warning("a Ray worker was lost with its node; its file goes to another")
                        ray.kill(slot.actor, no_restart=True)
                        if slot.job is None:
                            self._slots.remove(slot)
                    continue
                _heard(slot)
            slot.ping, slot.ping_sent, slot.ping_job = slot.actor.ping.remote(), now, slot.job
        if not self._slots:
            raise VidcolorError("every Ray worker was lost; the same command finishes the job once nodes are back")

    def _room(self) -> bool:
        free = ray.available_resources()
        return all(free.get(k, 0) >= v for k, v in self._need.items())

    def close(self) -> None:
        for slot in self._slots:
            ray.kill(slot.actor, no_restart=True)  # an unfinished file keeps its partial for the next run
        self._slots = []
        if self._owns_ray:
            ray.shutdown()


def _heard(slot: _Slot) -> None:
    """Take a ping's answer as the progress of the slot's job, if it is still the job it was sent about. A
    restarted actor counts again from where it resumed: the bar waits for it rather than going back."""
    try:
        frames = ray.get(slot.ping)
    except RayActorError:  # the actor died meanwhile: Ray restarts it, or the driver gives it up
        return
    if slot.job is not None and slot.job is slot.ping_job:
        slot.frames = max(slot.frames, frames)


def _actors_for(options: ColorOptions, cpus_per_worker: int) -> tuple[int, dict[str, int]]:
    """How many actors, and what each asks of Ray: a GPU each where the cluster has GPUs and the backend uses
    them, else ``cpus_per_worker`` CPUs each, as many as the live nodes hold."""
    total = ray.cluster_resources()
    if total.get("GPU", 0) >= 1 and options.backend not in _CPU_BACKENDS:
        return int(total["GPU"]), {"GPU": 1}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    count = sum(int(n["Resources"].get("CPU", 0) // cpus_per_worker) for n in nodes)
    if count == 0:
        raise VidcolorError(f"no Ray node has {cpus_per_worker} CPUs for a worker; lower --cpus-per-worker")
    return count, {"CPU": cpus_per_worker}


def _cause(exc: RayActorError) -> str:
    """The actor constructor's own error, not Ray's paragraph around it."""
    cause = getattr(exc, "cause", None) or getattr(exc, "error", None)
    return first_line(cause) if cause is not None else first_line(exc)
