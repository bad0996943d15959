"""Benchmark: `vidcolor batch` throughput, locally with 1 and 2 worker processes and on a 2-node local Ray cluster
(ray.cluster_utils.Cluster, one actor per node), plus what Ray costs on its own: the cluster's and the workers'
start, and a worker's seconds per file where the files are tiny (4 frames at 96p: almost all of it overhead).

Every configuration colorizes the same files into a fresh folder with the default model, backend and encoder
settings. Figures are wall clock, start of the workers included. This is a benchmark, not a test.

    python benchmarks/batch.py --json benchmarks/results/batch_cpu.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from vidcolor import batch
from vidcolor.batch.local import LocalPool
from vidcolor.bench import cpu_name, cpu_vector_flags, scaled_clip

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "pedestrians_street.mp4"


def copies(clip: Path, folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        shutil.copy(clip, folder / f"film{i}.mp4")
    return folder


def timed_run(src: Path, out: Path, **kwargs: object) -> dict[str, float]:
    started = time.perf_counter()
    result = batch.run([src], out, options=batch.ColorOptions(), **kwargs)
    seconds = time.perf_counter() - started
    assert not result.failed, batch.failure_lines(result)
    frames = sum(o.frames for o in result.done)
    return {"files": len(result.done), "frames": frames, "seconds": round(seconds, 2),
            "files_per_hour": round(len(result.done) / seconds * 3600), "fps": round(frames / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--files", type=int, default=6, help="480p films per configuration (default: 6)")
    parser.add_argument("--frames", type=int, default=150, help="frames per film (default: 150)")
    parser.add_argument("--tiny", type=int, default=16, help="tiny files for the per-file overhead (default: 16)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidcolor-batch-bench-"))
    film = scaled_clip(args.clip, 480, work, args.frames, 18, "fast")
    tiny = scaled_clip(args.clip, 96, work, 4, 18, "fast")
    films, tinies = copies(film, work / "films", args.files), copies(tiny, work / "tiny", args.tiny)
    report: dict[str, object] = {"machine": cpu_name(), "flags": cpu_vector_flags(), "films": args.files,
                                 "frames_per_film": args.frames, "tiny_files": args.tiny}  # fmt: skip
    for workers in (1, 2):
        started = time.perf_counter()
        LocalPool(batch.ColorOptions(), overwrite=False, workers=workers).close()
        report[f"local_{workers}_start_s"] = round(time.perf_counter() - started, 2)
        report[f"local_{workers}"] = timed_run(films, work / f"out-local-{workers}", workers=workers)
        report[f"local_{workers}_tiny"] = timed_run(tinies, work / f"tiny-local-{workers}", workers=workers)
        print(json.dumps({k: v for k, v in report.items() if k.startswith(f"local_{workers}")}))

    import ray
    from ray.cluster_utils import Cluster

    from vidcolor.batch.ray_runner import RayEngine

    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    report["ray_cluster_start_s"] = round(time.perf_counter() - started, 2)
    try:
        started = time.perf_counter()
        RayEngine(batch.ColorOptions(), overwrite=False, address=None, cpus_per_worker=1,
                  shared=[films, work]).close()  # fmt: skip
        report["ray_workers_start_s"] = round(time.perf_counter() - started, 2)
        report["ray_2_nodes"] = timed_run(films, work / "out-ray", engine="ray", cpus_per_worker=1)
        report["ray_2_nodes_tiny"] = timed_run(tinies, work / "tiny-ray", engine="ray", cpus_per_worker=1)
    finally:
        ray.shutdown()
        cluster.shutdown()
    for name in ("local_1", "local_2", "ray_2_nodes"):  # a worker's seconds per tiny file, its start included
        workers = 1 if name == "local_1" else 2
        report[f"{name}_s_per_tiny_file"] = round(report[f"{name}_tiny"]["seconds"] * workers / args.tiny, 3)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
