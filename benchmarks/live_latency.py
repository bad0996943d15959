"""Live mode on a real stream: processed fps, dropped frames and latency p50/p95, per size.

``fps`` counts from the call (model warm-up and connecting included); ``shown_fps`` from the first picture shown
to the last, the rate a viewer sees: with no frame dropped it is the camera's.

A shared clip is scaled to each size, re-encoded with a keyframe every half second (as cameras stream), and
served as MPEG-TS on loopback UDP in real time by the test suite's streamer; ``vidcolor live``'s own loop
(``run_live``, headless) colorizes it. Latency runs from the moment a frame leaves the decoder to the moment its
colour picture is ready to show; network and decoder buffering before that are not in it.

    python benchmarks/live_latency.py --backend cpu --sizes 480p --json benchmarks/results/live_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import av
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import UdpStreamer, free_udp_port  # noqa: E402  (the test suite's loopback camera)

from vidcolor import Colorizer  # noqa: E402
from vidcolor.bench import RESOLUTIONS, scaled_clip  # noqa: E402
from vidcolor.capture import Capture, reader_factory  # noqa: E402
from vidcolor.live import LiveOptions, run_live  # noqa: E402

WORK = Path(__file__).resolve().parent / "work"


def measure(colorizer: Colorizer, clip: Path, frames: int, smooth: float) -> dict:
    with UdpStreamer(clip, free_udp_port()) as stream:
        capture = Capture(reader_factory(stream.url, timeout=10, rtsp_transport="tcp", loop=False), name=stream.url)
        result = run_live(capture, colorizer, LiveOptions(smooth=smooth, window=False, frames=frames,
                                                          stats_every=float("inf")))  # fmt: skip
    return {"frames": result.frames, "seconds": round(result.seconds, 2), "fps": round(result.fps, 2),
            "shown_fps": round(result.shown_fps, 2),
            "source_fps": round(result.source_fps, 2), "dropped": result.dropped,
            "latency_p50_ms": round(result.latency_p50_ms, 1),
            "latency_p95_ms": round(result.latency_p95_ms, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=Path("../shared/data/clips/pedestrians_street.mp4"))
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="auto", help="auto (int8 on onnxruntime), fp32 or int8")
    parser.add_argument("--sizes", default="480p", help="comma-separated of " + ",".join(RESOLUTIONS))
    parser.add_argument("--frames", type=int, default=240, help="frames to process per size (default: 240)")
    parser.add_argument("--smooth", type=float, default=0.9)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    colorizer = Colorizer(backend=args.backend, precision=args.precision)
    rows = {}
    for size in args.sizes.split(","):
        WORK.mkdir(parents=True, exist_ok=True)
        with av.open(str(args.clip)) as probe:
            video = probe.streams.video[0]
            frames, rate = video.frames or 100_000, video.average_rate  # the whole clip
        clip = scaled_clip(args.clip, RESOLUTIONS[size], WORK, frames, crf=23, preset="ultrafast",
                           gop=max(1, round(rate / 2)))  # fmt: skip
        rows[size] = measure(colorizer, clip, args.frames, args.smooth)
        print(size, rows[size], flush=True)
    report = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "torch": torch.__version__, "pyav": av.__version__, "backend": colorizer.backend.describe(),
                          "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
              "clip": str(args.clip), "smooth": args.smooth, "sizes": rows}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
