"""Sweep how a bins-head model's a*b* distribution is rendered: the annealed mean's temperature T, the
prior's boost and the chroma restored (vidcolor/models/ab_bins.py), each scored with `vidcolor eval`'s measures
on a photo folder.

    python benchmarks/render_sweep.py WEIGHTS PHOTOS [--limit N] [--temperatures 0.2,0.38] [--boosts 0,0.5]
                                      [--chromas 0,1] [--json OUT.json]

Tune on the holdout, then score the pick on the benchmark photos too: the benchmark is never tuned on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

from vidcolor import Colorizer
from vidcolor.models.checkpoint import set_rendering
from vidcolor.train.evaluate import evaluate

COLUMNS = ("psnr", "ssim", "colourfulness", "false_colour_pct", "lost_colour_pct", "wrong_hue_pct",
           "photos_3db_below_grey")


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("photos", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--temperatures", type=floats, default=[0.2, 0.3, 0.38, 0.5])
    parser.add_argument("--boosts", type=floats, default=[0.0, 0.25, 0.5, 0.75])
    parser.add_argument("--chromas", type=floats, default=[0.0, 0.5, 1.0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for temperature, boost, chroma in itertools.product(args.temperatures, args.boosts, args.chromas):
            variant = Path(scratch) / f"T{temperature}-b{boost}-c{chroma}.pt"
            set_rendering(args.weights, variant, temperature=temperature, boost=boost, chroma=chroma)
            colorizer = Colorizer(backend="cpu", size=args.size, weights=variant)
            scores = evaluate(colorizer, args.photos, limit=args.limit)
            row = {"temperature": temperature, "boost": boost, "chroma": chroma,
                   **{k: scores["vidcolor"].get(k) for k in COLUMNS},
                   "grey_psnr": scores["grey"]["psnr"]}
            rows.append(row)
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"weights": str(args.weights), "photos": str(args.photos),
                                         "limit": args.limit, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
