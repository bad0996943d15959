"""Benchmark: this tree's default file path against an earlier revision's, end to end, in one run (issue 32).

Each revision colorizes the same 480p clip with its own defaults, as a user runs it — ``python -m vidcolor CLIP -o
OUT -y -q`` in a fresh process, start-up (imports, model load) included — and the two alternate ``--repeats``
times so that drift in machine speed hits both alike. The earlier revision is unpacked from git (``git archive``)
into a temporary folder; nothing of this checkout changes. fps = the clip's frames / wall seconds of the process.
Prints each run, the medians and their ratio, and the CPU they ran on. A benchmark, not a test: it asserts nothing.

The clip: ``--clip``, or a 10 s, 30 fps, 854x480 one made once from ../shared/data/clips/pedestrians_street.mp4
(1280x720, 302 frames), its first 300 frames scaled down.

    python benchmarks/release_guard.py --base 9878c65 --json benchmarks/results/release_guard.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import av

from vidcolor.bench import cpu_name, cpu_vector_flags

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_CLIP = REPO_ROOT / ".." / "shared" / "data" / "clips" / "pedestrians_street.mp4"
CLIP_FRAMES, CLIP_SIZE = 300, (854, 480)


def make_clip(source: Path, out: Path) -> int:
    """The first CLIP_FRAMES frames of ``source`` scaled to CLIP_SIZE, H.264 at its frame rate -> frames written."""
    with av.open(str(source)) as inp, av.open(str(out), "w") as dst:
        stream_in = inp.streams.video[0]
        stream = dst.add_stream("libx264", rate=stream_in.average_rate)
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        written = 0
        for frame in inp.decode(stream_in):
            if written == CLIP_FRAMES:
                break
            scaled = frame.reformat(width=CLIP_SIZE[0], height=CLIP_SIZE[1], format="yuv420p")
            scaled.pts, scaled.time_base = written, 1 / stream_in.average_rate  # frame numbers: a clean 30 fps
            dst.mux(stream.encode(scaled))
            written += 1
        dst.mux(stream.encode(None))
    return written


def unpack(revision: str, into: Path) -> Path:
    """The tree of ``revision`` as files under ``into``."""
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(REPO_ROOT), "archive", revision], stdout=out, check=True)
    tree = into / revision
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def colorize_seconds(tree: Path, clip: Path, out: Path) -> float:
    """Wall seconds of one ``python -m vidcolor`` process of ``tree`` on ``clip``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vidcolor", str(clip), "-o", str(out), "-y", "-q"], env=env, cwd=tree,
                   check=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="9878c65", help="the earlier revision (default: 9878c65, issue 32's)")
    parser.add_argument("--clip", type=Path, help="the clip (default: a 480p one made from pedestrians_street)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        clip, frames = args.clip, None
        if clip is None:
            clip = scratch / "clip480.mp4"
            frames = make_clip(SOURCE_CLIP, clip)
        else:
            with av.open(str(clip)) as probe:
                frames = sum(1 for _ in probe.decode(video=0))
        trees = {"HEAD": REPO_ROOT, args.base: unpack(args.base, scratch)}
        fps: dict[str, list[float]] = {name: [] for name in trees}
        for repeat in range(args.repeats):
            for name, tree in trees.items():
                seconds = colorize_seconds(tree, clip, scratch / f"out-{repeat}.mp4")
                fps[name].append(frames / seconds)
                print(f"{name:>10}  run {repeat + 1}: {fps[name][-1]:.1f} fps", flush=True)
    medians = {name: statistics.median(values) for name, values in fps.items()}
    flags = cpu_vector_flags()
    print(f"{clip.name}: {frames} frames; {cpu_name()} ({', '.join(flags) or 'no avx2'})")
    for name, value in medians.items():
        print(f"{name:>10}  median {value:.1f} fps")
    print(f"HEAD / {args.base}: {medians['HEAD'] / medians[args.base]:.2f}x")
    if args.json:
        record = {"clip": str(args.clip or SOURCE_CLIP), "frames": frames, "cpu": cpu_name(), "cpu_flags": flags,
                  "fps": fps}  # fmt: skip
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
