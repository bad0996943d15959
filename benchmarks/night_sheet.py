"""Night-vision contact sheet: sensor frame | visible-light model | the sensor's model in its sensor and its
daylight rendering | colour truth, for an even spread of the held-out thermal pairs, the external thermal test
pairs and the held-out NIR pairs, each cell captioned with its scores (as quality_sheet.py does).

    python benchmarks/night_sheet.py --out benchmarks/night_sheet.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from quality_sheet import make_sheet

from vidcolor import Colorizer
from vidcolor.train.data import pair_frames

IR_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ir"
FOLDERS = (("thermal", "thermal/holdout"), ("thermal", "thermal_test/test"), ("nir", "nir/holdout"))


def spread(items: list[Path], count: int) -> list[Path]:
    """``count`` items evenly spaced through ``items`` (each folder is sorted by source, then scene)."""
    return [items[round(i * (len(items) - 1) / max(1, count - 1))] for i in range(min(count, len(items)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=IR_DATA, help="the night-vision pairs (shared/data/ir)")
    parser.add_argument("--per-folder", type=int, default=8, help="pairs shown from each folder")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/night_sheet.jpg"))
    args = parser.parse_args()
    visible = Colorizer(backend="cpu", model="fast")
    blocks = []
    for sensor, folder in FOLDERS:
        models = {"visible-light model": visible, **{f"{sensor} model, {render}": Colorizer(
            backend="cpu", sensor=sensor, render=render) for render in ("sensor", "daylight")}}  # fmt: skip
        blocks.append(make_sheet(models, spread(pair_frames(args.data / folder), args.per_folder), columns=1,
                                 grey_label="sensor frame"))
    width = max(block.shape[1] for block in blocks)
    sheet = np.concatenate([np.pad(b, ((0, 12), (0, width - b.shape[1]), (0, 0)), constant_values=255) for b in blocks])
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
