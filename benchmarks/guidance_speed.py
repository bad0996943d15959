"""Benchmark: what hints and a reference cost the 480p file pipeline on the CPU (issue 31, item 5).

One Colorizer with the defaults (on a CPU: the fast model's int8 graph on onnxruntime), one 480p clip, three runs
of ``colorize_file`` alternated ``--repeats`` times so drift in machine speed hits all alike:

* ``automatic``: no guidance;
* ``hints``: ``--hints`` of them at random places, from 0 s (every frame is hinted: the worst case);
* ``reference``: the clip's own first frame in colour as the reference (every frame is matched to it).

fps = frames / wall seconds around the call, start-up excluded (the model is loaded once). Prints the median fps
of each and the cost against ``automatic``. A benchmark, not a test: it asserts nothing.

    python benchmarks/guidance_speed.py --clip ../shared/data/clips/pedestrians_street.mp4 \
        --colour ../shared/data/clips/pedestrians_street.mp4
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from vidcolor import Colorizer, colorize_file
from vidcolor.bench import cpu_name
from vidcolor.guidance.hints import Hint
from vidcolor.guidance.reference import Reference


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as clip:
        return next(clip.decode(video=0)).to_ndarray(format="rgb24")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=Path("samples/traffic_gray.mp4"), help="the video colorized")
    parser.add_argument("--colour", type=Path, default=Path("samples/traffic_color.mp4"),
                        help="a colour video of the same view: its first frame is the reference")
    parser.add_argument("--hints", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    colorizer = Colorizer()
    generator = torch.Generator().manual_seed(0)
    places = torch.rand(args.hints, 2, generator=generator).tolist()
    colours = (torch.rand(args.hints, 2, generator=generator) * 120 - 60).tolist()
    hints = [Hint(x, y, a, b) for (x, y), (a, b) in zip(places, colours, strict=True)]
    runs = {"automatic": {}, "hints": {"hints": hints}, "reference": {"reference": Reference(first_frame(args.colour))}}
    fps: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for name, guidance in runs.items():
                out = Path(scratch) / f"{name}{repeat}.mp4"
                started = time.perf_counter()
                result = colorize_file(args.clip, out, colorizer=colorizer, **guidance)
                fps[name].append(result.frames / (time.perf_counter() - started))
    medians = {name: statistics.median(values) for name, values in fps.items()}
    print(f"{args.clip.name}, {colorizer.backend.describe()}, {cpu_name()}")
    for name, value in medians.items():
        cost = 100 * (1 - value / medians["automatic"])
        print(f"{name:10} {value:6.1f} fps (runs: {', '.join(f'{v:.1f}' for v in fps[name])})  cost {cost:+.1f} %")
    if args.json:
        args.json.write_text(json.dumps({"clip": str(args.clip), "cpu": cpu_name(), "fps": fps}, indent=2) + "\n")


if __name__ == "__main__":
    main()
