"""`vidcolor eval --json` scores of night-vision pairs split by the light their colour frame was taken in (day or
night, from ``../shared/data/ir/index.csv``): the issue's bar for the external thermal test is its day frames.

    python benchmarks/night_by_light.py benchmarks/results/night_thermal_test_*.json
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

INDEX = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ir" / "index.csv"
METRICS = ("psnr", "ssim", "wrong_hue_pct")


def light_of(index: Path) -> dict[str, str]:
    with index.open(newline="") as file:
        return {row["stem"]: row["light"] for row in csv.DictReader(file)}


def by_light(scores: dict, light: dict[str, str]) -> dict[str, dict[str, float]]:
    """Means of each metric over the pairs of each light (a chroma error only where the photo counts for it)."""
    groups: dict[str, list[dict]] = {}
    for photo in scores["per_photo"]:
        groups.setdefault(light[photo["photo"].rsplit("_ir", 1)[0]], []).append(photo)
    table = {}
    for name, photos in sorted(groups.items()):
        row = {"pairs": len(photos)}
        for key in ("grey", "vidcolor"):
            for metric in METRICS:
                values = [p[key][metric] for p in photos if p[key].get(metric) is not None]
                row[f"{key}_{metric}"] = float(np.mean(values)) if values else None
        table[name] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, nargs="+", help="JSON files written by vidcolor eval --json")
    parser.add_argument("--index", type=Path, default=INDEX)
    args = parser.parse_args()
    light = light_of(args.index)
    for path in args.scores:
        for name, row in by_light(json.loads(path.read_text()), light).items():
            cells = " ".join(f"{k}={v:.2f}" for k, v in row.items() if isinstance(v, float))
            print(f"{path.name} {name} ({row['pairs']}): {cells}")


if __name__ == "__main__":
    main()
