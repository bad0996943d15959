"""Benchmark: what crash-safe writing costs (issue 13).

On the same clip scaled to each size, runs alternating so machine drift hits both alike:

* ``ceiling``: decode -> encode with vidcolor's own source and sink (``vidcolor.bench.ceiling_transcode``), once
  writing fragmented MP4 and finishing it with the remux (as vidcolor writes now), once writing a plain MP4
  straight to its name (as before): the container's cost alone, in fps, end to end;
* ``finish``: the stream-copy remux alone, in seconds at the end of a run (and per minute of video);
* ``pipeline``: ``colorize_file`` with the fast model on the CPU, finish included, in fps.

This is a benchmark, not a test: it asserts nothing about speed.

    python benchmarks/fragment_cost.py --json benchmarks/results/fragment_cost_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from unittest import mock

import av

from vidcolor import Colorizer, bench, colorize_file, fragments, sinks
from vidcolor.bench import RESOLUTIONS, ceiling_transcode, cpu_name, cpu_vector_flags, scaled_clip

T = TypeVar("T")
DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "pedestrians_street.mp4"


def plain_ceiling(clip: Path, out: Path) -> int:
    """The ceiling as vidcolor wrote before: a plain MP4 under the final name, no remux."""
    with mock.patch.object(sinks, "FRAGMENTED_MP4", {}), mock.patch.object(bench, "finish", os.replace):
        return ceiling_transcode(clip, out, crf=18, preset="fast")


def timed(run: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def measure(clip: Path, work: Path, repeats: int, colorizer: Colorizer) -> dict[str, object]:
    fragmented, plain, finish_seconds = [], [], []
    for _ in range(repeats):
        frames, seconds = timed(lambda: ceiling_transcode(clip, work / "fragmented.mp4", crf=18, preset="fast"))
        fragmented.append(frames / seconds)
        frames, seconds = timed(lambda: plain_ceiling(clip, work / "plain.mp4"))
        plain.append(frames / seconds)
        with av.open(str(clip)) as src:  # the remux alone, on a fragments file of this clip
            duration = float(src.duration / av.time_base)
        partial = fragments.fragments_path(work / "again.mp4")
        with mock.patch.object(bench, "finish", os.replace):
            ceiling_transcode(clip, partial, crf=18, preset="fast")
        started = time.perf_counter()
        fragments.finish(partial, work / "again.mp4")
        finish_seconds.append(time.perf_counter() - started)
    result, seconds = timed(lambda: colorize_file(clip, work / "pipeline.mp4", colorizer=colorizer, overwrite=True))
    return {
        "ceiling_fragmented_fps": statistics.median(fragmented),
        "ceiling_plain_fps": statistics.median(plain),
        "finish_seconds": statistics.median(finish_seconds),
        "finish_seconds_per_video_minute": statistics.median(finish_seconds) / duration * 60,
        "pipeline_fps": result.frames / seconds,
        "output_mib": (work / "pipeline.mp4").stat().st_size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--sizes", default="480p,1080p")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    colorizer = Colorizer(backend="cpu", model="fast")
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for size in args.sizes.split(","):
            clip = scaled_clip(args.clip, RESOLUTIONS[size], work, args.frames, 18, "fast")
            rows[size] = measure(clip, work, args.repeats, colorizer)
            row = rows[size]
            print(f"{size}: ceiling {row['ceiling_plain_fps']:.1f} fps plain -> {row['ceiling_fragmented_fps']:.1f} "
                  f"fps fragmented + finish; finish {row['finish_seconds']:.2f} s "
                  f"({row['finish_seconds_per_video_minute']:.2f} s per video minute); "
                  f"pipeline {row['pipeline_fps']:.1f} fps", flush=True)  # fmt: skip
    machine = {"cpu": cpu_name(), "flags": cpu_vector_flags(), "cores": os.cpu_count()}
    report = {"machine": machine, "clip": args.clip.name, "frames": args.frames, "sizes": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
