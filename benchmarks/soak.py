"""Benchmark: does a long run grow? (issue 13). RSS and open file descriptors of a real `vidcolor` process,
sampled every ``--every`` seconds, and their slope after the first minute (start-up: model load, first caches).

* ``live``: `vidcolor live CLIP --loop --no-window` (a file as a stand-in camera, looping) for ``--minutes``,
  then Ctrl-C;
* ``file``: `vidcolor LONG.mp4 -o out.mp4`, where LONG is the clip scaled to 480p and repeated (stream copy) to
  last about ``--minutes`` at this machine's rate.

This is a benchmark, not a test: it asserts nothing.

    python benchmarks/soak.py live --minutes 10 --json benchmarks/results/soak_live_cpu.json
    python benchmarks/soak.py file --minutes 10 --json benchmarks/results/soak_file_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from vidcolor.bench import cpu_name, cpu_vector_flags, scaled_clip

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "pedestrians_street.mp4"
WARM_UP_SECONDS = 60.0


def repeated(clip: Path, times: int, out: Path) -> Path:
    """``clip`` played ``times`` times in a row, by stream copy with shifted timestamps."""
    with av.open(str(clip)) as src:
        video = src.streams.video[0]
        packets = [p for p in src.demux(video) if p.dts is not None]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        with av.open(str(out), "w") as dst:
            stream = dst.add_stream_from_template(video)
            for turn in range(times):
                for packet in packets:
                    copy = av.Packet(bytes(packet))
                    copy.pts, copy.dts = packet.pts + turn * span, packet.dts + turn * span
                    copy.time_base, copy.is_keyframe, copy.stream = packet.time_base, packet.is_keyframe, stream
                    dst.mux(copy)
    return out


def sample(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def watch(command: list[str], seconds: float, every: float) -> list[tuple[float, float, int]]:
    """Run ``command``, sampling it every ``every`` s until it ends or ``seconds`` pass (then Ctrl-C)."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started, samples = time.monotonic(), []
    while proc.poll() is None and time.monotonic() - started < seconds:
        try:
            samples.append((time.monotonic() - started, *sample(proc.pid)))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            break
        time.sleep(every)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=120)[1]
    print(stderr.strip().splitlines()[-1] if stderr.strip() else "(no output)", flush=True)
    return samples


def slope(samples: list[tuple[float, float, int]], column: int) -> float:
    """Least-squares growth per minute of ``column`` (1: RSS MiB, 2: descriptors) after the warm-up."""
    later = [s for s in samples if s[0] >= WARM_UP_SECONDS]
    if len(later) < 2:
        return float("nan")
    minutes = np.array([s[0] for s in later]) / 60
    return float(np.polyfit(minutes, np.array([s[column] for s in later], dtype=float), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("live", "file"))
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--file-fps", type=float, default=14.0, help="this machine's 480p rate, to size the file")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        clip = scaled_clip(args.clip, 480, work, 300, 18, "fast")
        if args.mode == "live":
            command = [sys.executable, "-m", "vidcolor", "live", str(clip), "--loop", "--no-window", "-q",
                       "--backend", "cpu", "--model", "fast"]  # fmt: skip
        else:
            long = repeated(clip, max(1, round(seconds * args.file_fps / 300)), work / "long.mp4")
            command = [sys.executable, "-m", "vidcolor", str(long), "-o", str(work / "out.mp4"), "-q",
                       "--backend", "cpu", "--model", "fast"]  # fmt: skip
        samples = watch(command, seconds + 5, args.every)
    report = {
        "machine": {"cpu": cpu_name(), "flags": cpu_vector_flags(), "cores": os.cpu_count()},
        "mode": args.mode, "clip": args.clip.name, "minutes": samples[-1][0] / 60 if samples else 0,
        "rss_mib": {"first": samples[0][1], "after_warm_up": next((s[1] for s in samples if s[0] >= WARM_UP_SECONDS),
                    None), "last": samples[-1][1], "max": max(s[1] for s in samples),
                    "slope_per_minute": slope(samples, 1)},
        "open_fds": {"min": min(s[2] for s in samples), "max": max(s[2] for s in samples),
                     "slope_per_minute": slope(samples, 2)},
        "samples": [{"seconds": round(t, 1), "rss_mib": round(r, 1), "fds": f} for t, r, f in samples],
    }  # fmt: skip
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
