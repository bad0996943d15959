"""vidcolor batch --ray on Ray's test cluster (a head and one added node, one CPU each, small object stores):
work on both nodes, a split video's segments on both, an actor killed mid-file, a node removed mid-run, the driver
killed. Skipped without Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import pytest
from conftest import TEST_SIZE
from media import audio_packets, frame_times, picture, write_video

from vidcolor import batch
from vidcolor.batch import ray_runner
from vidcolor.fragments import plays
from vidcolor.resume import find_cut

ray = pytest.importorskip("ray", reason="the Ray tests need vidcolor[ray]")
from ray.cluster_utils import Cluster  # noqa: E402

STORE = 80 * 2**20  # bytes: only paths and small results go through the object store
CLIP = {"width": 320, "height": 192, "fps": 30}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": STORE})
    cluster.add_node(num_cpus=1, object_store_memory=STORE)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def clips(folder: Path, count: int, frames: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        write_video(folder / f"reel{i}.mp4", frames=frames, **CLIP)
    return folder


def options(weights: Path) -> batch.ColorOptions:
    return batch.ColorOptions(weights=weights, size=TEST_SIZE, backend="cpu", preset="ultrafast")


def records(dst: Path, event: str) -> list[dict]:
    path = dst / batch.MANIFEST_NAME
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r["event"] == event]


def actor_pids() -> list[int]:
    """The processes of vidcolor's Ray actors (Ray titles them ray::FileActor…)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::FileActor"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def wait_for(condition: Callable[[], object], seconds: float = 60, run: Run | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert run is None or run.is_alive(), run.error
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def partial_with_fragments(dst: Path) -> bool:
    """Whether a video being written holds a whole fragment (so a resume has something to keep)."""
    return any(plays(p) and find_cut(p).frames for p in dst.glob(".*.partial.mp4"))


class Run(threading.Thread):
    """batch.run on the cluster, from a thread, so the test can break things meanwhile."""

    def __init__(self, src: Path, dst: Path, weights: Path) -> None:
        super().__init__(daemon=True)
        self.args, self.result, self.error = (src, dst, weights), None, None

    def run(self) -> None:
        src, dst, weights = self.args
        try:
            self.result = batch.run([src], dst, options=options(weights), engine="ray", cpus_per_worker=1)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> batch.BatchResult:
        self.join(120)
        assert self.error is None and self.result is not None
        return self.result


def assert_complete(src: Path, dst: Path) -> None:
    for clip in src.glob("*.mp4"):
        assert frame_times(dst / clip.name) == pytest.approx(frame_times(clip), abs=1e-6)


def test_work_lands_on_both_nodes(cluster: Cluster, tmp_path: Path, weights: Path) -> None:
    src = clips(tmp_path / "src", 4, 60)
    cv2.imwrite(str(src / "still.png"), picture(0, 96, 64))
    result = batch.run([src], tmp_path / "dst", options=options(weights), engine="ray", cpus_per_worker=1)
    assert len(result.done) == 5 and not result.failed
    nodes = {worker.split("/")[1].split(":")[0] for worker in (o.worker for o in result.done)}
    assert nodes == {n["NodeID"][:8] for n in ray.nodes() if n["Alive"]}
    assert_complete(src, tmp_path / "dst")
    assert cv2.imread(str(tmp_path / "dst" / "still.png")).shape == (64, 96, 3)


def test_a_split_film_is_shared_by_both_nodes(cluster: Cluster, tmp_path: Path, weights: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    film = write_video(src / "film.mp4", frames=180, keyframe_every=30, audio_seconds=6.0, **CLIP)  # 6 s
    result = batch.run([src], dst, options=options(weights), engine="ray", cpus_per_worker=1, split_minutes=0.05)
    assert [o.job.key for o in result.done] == ["film.mp4"] and len(result.worked) == 2  # two segments of 3 s
    assert len({o.worker.split("/")[1].split(":")[0] for o in result.worked}) == 2  # one on each node
    assert frame_times(dst / "film.mp4") == pytest.approx(frame_times(film), abs=1e-6)
    assert audio_packets(dst / "film.mp4") == audio_packets(film)


def test_an_actor_killed_mid_file_is_restarted_and_its_file_redone(
    cluster: Cluster, tmp_path: Path, weights: Path
) -> None:
    src, dst = clips(tmp_path / "src", 3, 240), tmp_path / "dst"
    run = Run(src, dst, weights)
    run.start()
    wait_for(lambda: partial_with_fragments(dst), run=run)
    victim = actor_pids()[0]
    os.kill(victim, signal.SIGKILL)
    result = run.finish()
    assert victim not in actor_pids()
    assert len(result.done) == 3 and not records(dst, "failed")  # the actor's death is not the file's fault
    assert sorted(r["key"] for r in records(dst, "done")) == ["reel0.mp4", "reel1.mp4", "reel2.mp4"]
    assert_complete(src, dst)


def test_a_killed_driver_is_finished_by_running_it_again(cluster: Cluster, tmp_path: Path, weights: Path) -> None:
    src, dst = clips(tmp_path / "src", 5, 150), tmp_path / "dst"
    command = [sys.executable, "-m", "vidcolor", "batch", str(src), "-o", str(dst), "--ray", cluster.address,
               "--cpus-per-worker", "1", "--weights", str(weights), "--size", str(TEST_SIZE), "--backend", "cpu",
               "--preset", "ultrafast", "-q"]  # fmt: skip
    driver = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: records(dst, "done") or driver.poll() is not None, 90)
    driver.send_signal(signal.SIGKILL)
    driver.wait(10)
    first = {r["key"] for r in records(dst, "done")}
    assert 0 < len(first) < 5, driver.stderr.read()
    wait_for(lambda: not actor_pids(), 30)  # Ray ends a dead driver's actors
    again = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not first & {r["key"] for r in records(dst, "done")[len(first):]}  # only what was missing was done
    assert_complete(src, dst)


def test_a_node_removed_mid_run_does_not_stop_the_run(
    cluster: Cluster, tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_runner, "_PING_EVERY", 1.0)
    monkeypatch.setattr(ray_runner, "_PING_PATIENCE", 3.0)
    src, dst = clips(tmp_path / "src", 4, 150), tmp_path / "dst"
    run = Run(src, dst, weights)
    run.start()
    wait_for(lambda: partial_with_fragments(dst), run=run)
    cluster.remove_node(cluster.list_all_nodes()[1])  # the added node, with the actor on it
    result = run.finish()
    assert len(result.done) == 4 and not result.failed
    assert_complete(src, dst)
