"""Benchmark: vidcolor's whole file pipeline on the CPU against a model-free PyAV ceiling.

Two runs on the same clip, each timed as wall-clock seconds around one call:

* ``pipeline``: ``vidcolor.colorize_file`` with ``Colorizer(backend="cpu")`` (decode thread, model on the
  calling thread, encode thread), written to a temporary file.
* ``ceiling``: "vidcolor minus the model" (``vidcolor.bench.ceiling_transcode``): the same clip decoded by
  vidcolor's own source and re-encoded by its own sink, decoded chroma kept, same crf and preset, pts and audio
  carried the same way, on one thread.

fps = frames written / wall seconds. The best and the median of ``--repeats`` runs are reported; the two
runs alternate so that drift in machine speed hits both alike, and before each pair a short probe measures how
many threads of this process really run at once (see ``parallelism_probe``). This is a benchmark, not a test: it asserts
nothing about speed.

    python benchmarks/pipeline_cpu.py --json benchmarks/results/pipeline_cpu.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch

import vidcolor
from vidcolor import Colorizer, colorize_file
from vidcolor.bench import ceiling_transcode, cpu_name
from vidcolor.colorizer import working_size
from vidcolor.models.presets import PRESETS
from vidcolor.sources import FileSource

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO_ROOT / ".." / "shared" / "data" / "clips" / "traffic_overhead.mp4"


# --------------------------------------------------------------------------- helpers


def resolve_weights(arg: str | None) -> tuple[Path, str]:
    """The checkpoint to use and a line saying which it is: the shipped fast model unless one is given.

    Trained weights only: random ones time differently (tiny activations hit the CPU's slow denormal path).
    """
    if arg:
        return Path(arg), f"given: {arg}"
    shipped = PRESETS["fast"].weights
    if not shipped.is_file():
        raise SystemExit(f"no shipped weights at {shipped}; pass --weights")
    return shipped, f"shipped: {shipped}"


def machine_info() -> dict[str, object]:
    ffmpeg = getattr(av, "ffmpeg_version_info", None)
    libs = {k: ".".join(map(str, v)) for k, v in getattr(av, "library_versions", {}).items()}
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or None,
        "cpu_model": cpu_name(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "pyav": av.__version__,
        "ffmpeg": ffmpeg,
        "ffmpeg_libraries": libs,
        "numpy": np.__version__,
        "vidcolor": vidcolor.__version__,
    }


def summarise(name: str, frames: list[int], seconds: list[float]) -> dict[str, object]:
    fps = [f / s for f, s in zip(frames, seconds, strict=True)]
    return {
        "run": name,
        "frames": frames[0] if len(set(frames)) == 1 else frames,
        "seconds": seconds,
        "fps": fps,
        "best_seconds": min(seconds),
        "median_seconds": statistics.median(seconds),
        "best_fps": max(fps),
        "median_fps": statistics.median(fps),
    }


def time_call(fn: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    frames = fn()
    return frames, time.perf_counter() - started


def parallelism_probe(megabytes: int = 40) -> float:
    """How many threads of this process really run at once, about: 2 x (one hash) / (two hashes on two threads).

    On a machine with two free cores this is about 2.0; where the cores are shared or the threads get packed
    onto one CPU it drops toward 1.0. hashlib releases the GIL for large buffers, so Python is not the limit.
    """
    data = b"\0" * (megabytes << 20)

    def work() -> None:
        hashlib.sha256(data).digest()

    started = time.perf_counter()
    work()
    one = time.perf_counter() - started
    threads = [threading.Thread(target=work) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two = time.perf_counter() - started
    return 2 * one / two


# --------------------------------------------------------------------------- optional stage profile


def profile_stages(clip: Path, colorizer: Colorizer, repeats: int) -> dict[str, object]:
    """Each stage alone, per frame: decode to luma, the model at the working size, the whole colour step."""
    source = FileSource(clip)
    try:
        started = time.perf_counter()
        lumas = [item.luma for item in source.items() if not isinstance(item, av.Packet)]
        decode_s = time.perf_counter() - started
        fmt = source.info.yuv
    finally:
        source.close()
    h, w = lumas[0].shape
    h, w = h - h % 2, w - w % 2
    size = working_size(h, w, colorizer.size)
    n = min(len(lumas), 30)

    x = torch.rand(1, 1, *size) * 100
    colorizer.backend.infer(x)  # warm-up (oneDNN primitive creation)
    model_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(n):
            colorizer.backend.infer(x)
        model_ms.append((time.perf_counter() - started) / n * 1e3)

    colorizer.planes(lumas[0][None, :h, :w], fmt)
    chroma_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        for luma in lumas[:n]:
            colorizer.planes(luma[None, :h, :w], fmt)
        chroma_ms.append((time.perf_counter() - started) / n * 1e3)

    return {
        "working_size": list(size),
        "frames_per_measure": n,
        "decode_to_luma_ms_per_frame": decode_s / len(lumas) * 1e3,
        "model_only_ms_per_frame_best": min(model_ms),
        "model_only_fps_best": 1e3 / min(model_ms),
        "chroma_planes_ms_per_frame_best": min(chroma_ms),
        "chroma_planes_fps_best": 1e3 / min(chroma_ms),
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="input video (default: %(default)s)")
    parser.add_argument("--weights", default=None,
                        help="checkpoint; default: the shipped fast model")
    parser.add_argument("--size", type=int, default=256, help="model working size, short side")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="call torch.set_num_threads(N) first (default: leave PyTorch's own choice)")
    parser.add_argument("--profile", action="store_true",
                        help="also time decode, the model alone and the whole colour step per frame")
    args = parser.parse_args(argv)

    clip = args.clip.resolve()
    if not clip.is_file():
        parser.error(f"clip not found: {clip}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    if args.torch_threads is not None:
        if args.torch_threads < 1:
            parser.error("--torch-threads must be at least 1")
        torch.set_num_threads(args.torch_threads)
    machine = machine_info()
    machine["torch_threads_set_by_flag"] = args.torch_threads is not None
    machine["env"] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")
                      if k in os.environ}
    print(f"machine : {machine['cpu_model']} (platform.processor={machine['processor']!r}), "
          f"os.cpu_count()={machine['cpu_count']}, CUDA available: {machine['cuda_available']}")
    print(f"software: Python {machine['python']}, torch {machine['torch']} "
          f"(get_num_threads()={machine['torch_threads']}"
          f"{', set by --torch-threads' if args.torch_threads is not None else ''}), "
          f"PyAV {machine['pyav']}, FFmpeg {machine['ffmpeg']}, vidcolor {machine['vidcolor']}")
    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        audio = f"{c.streams.audio[0].codec_context.name} audio" if c.streams.audio else "no audio"
        print(f"clip    : {clip} ({v.codec_context.name} {v.codec_context.width}x{v.codec_context.height} "
              f"@ {float(v.average_rate or 0):g} fps, {v.frames} frames, {audio})")

    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        weights, weights_note = resolve_weights(args.weights)
        print(f"weights : {weights_note}")
        colorizer = Colorizer(backend="cpu", size=args.size, weights=weights)  # built once, not timed
        print(f"model   : {colorizer.backend.describe()}, working size {args.size}")
        print(f"encode  : libx264 yuv420p crf {args.crf} preset {args.preset}; repeats {args.repeats}")
        print()

        pipe_out, ceil_out = tmp / "pipeline.mp4", tmp / "ceiling.mp4"

        def run_pipeline() -> int:
            result = colorize_file(clip, pipe_out, colorizer=colorizer, crf=args.crf, preset=args.preset,
                                   overwrite=True)
            return result.frames

        def run_ceiling() -> int:
            return ceiling_transcode(clip, ceil_out, crf=args.crf, preset=args.preset)

        runs: dict[str, tuple[list[int], list[float]]] = {"pipeline": ([], []), "ceiling": ([], [])}
        probes: list[float] = []
        for i in range(args.repeats):
            probes.append(parallelism_probe())
            print(f"  repeat {i + 1}/{args.repeats} probe   : 2 threads ran {probes[-1]:.2f}x one thread", flush=True)
            for name, fn in (("pipeline", run_pipeline), ("ceiling", run_ceiling)):
                frames, seconds = time_call(fn)
                runs[name][0].append(frames)
                runs[name][1].append(seconds)
                print(f"  repeat {i + 1}/{args.repeats} {name:8s}: {frames} frames in {seconds:.3f} s "
                      f"= {frames / seconds:.2f} fps", flush=True)

        profile = profile_stages(clip, colorizer, args.repeats) if args.profile else None

    results = [summarise(name, *runs[name]) for name in ("pipeline", "ceiling")]
    pipe, ceil = results
    ratio_best = pipe["best_fps"] / ceil["best_fps"]
    ratio_median = pipe["median_fps"] / ceil["median_fps"]

    print()
    print(f"{'run':10s} {'frames':>6s} {'best s':>8s} {'median s':>9s} {'best fps':>9s} {'median fps':>11s}")
    for r in results:
        print(f"{r['run']:10s} {r['frames']!s:>6s} {r['best_seconds']:8.3f} {r['median_seconds']:9.3f} "
              f"{r['best_fps']:9.2f} {r['median_fps']:11.2f}")
    print(f"ratio pipeline/ceiling (fps): best {ratio_best:.3f}, median {ratio_median:.3f}")
    print(f"parallelism probe before each repeat: {', '.join(f'{p:.2f}x' for p in probes)}")

    if profile:
        print()
        print(f"profile (per frame, working size {profile['working_size'][0]}x{profile['working_size'][1]}, "
              f"best of {args.repeats} x {profile['frames_per_measure']} frames):")
        print(f"  decode to luma (alone)        : {profile['decode_to_luma_ms_per_frame']:8.2f} ms")
        print(f"  model alone (backend.infer)   : {profile['model_only_ms_per_frame_best']:8.2f} ms"
              f"  = {profile['model_only_fps_best']:.2f} fps")
        print(f"  colour step (planes)          : {profile['chroma_planes_ms_per_frame_best']:8.2f} ms"
              f"  = {profile['chroma_planes_fps_best']:.2f} fps")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "pipeline_cpu",
            "clip": str(clip),
            "weights": weights_note,
            "settings": {"size": args.size, "crf": args.crf, "preset": args.preset, "repeats": args.repeats,
                         "backend": "cpu", "torch_threads": torch.get_num_threads()},
            "machine": machine,
            "runs": results,
            "ratio_pipeline_over_ceiling": {"best_fps": ratio_best, "median_fps": ratio_median},
            "parallelism_probe_before_each_repeat": probes,
            "profile": profile,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
