"""Contact sheet of held-out photos: grey | each model | truth, one labelled column per model.

Each cell is captioned with that photo's scores, as ``vidcolor eval --sheet`` does: grey with its PSNR, each model
with its PSNR and its false colour, lost colour and wrong hue in percent ('-': the photo does not count for it).

Every photo of the folder is shown, none picked: by default the 48 benchmark photos (classic subjects, never
trained on). A model is a shipped preset name (fast, quality) or a checkpoint path (e.g. the previous shipped
weights):

    git show 9878c65:vidcolor/weights/fast.pt > /tmp/previous-fast.pt
    python benchmarks/quality_sheet.py previous=/tmp/previous-fast.pt fast quality --out benchmarks/quality_sheet.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from vidcolor import Colorizer
from vidcolor.train.data import list_images
from vidcolor.train.evaluate import caption, caption_band, score_photo, scored_images

BENCHMARK = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos" / "benchmark"
CELL_HEIGHT = 150
LABEL_HEIGHT = 28


def _cell(rgb: np.ndarray, width: int, text: list[str]) -> np.ndarray:
    """The picture at cell size above its caption."""
    return np.concatenate([cv2.resize(rgb, (width, CELL_HEIGHT), interpolation=cv2.INTER_AREA),
                           caption_band(text, width)])  # fmt: skip


def _label(text: str, width: int) -> np.ndarray:
    band = np.full((LABEL_HEIGHT, width, 3), 255, np.uint8)
    cv2.putText(band, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return band


def make_sheet(
    models: dict[str, Colorizer], photos: list[Path], columns: int = 2, grey_label: str = "grey"
) -> np.ndarray:  # fmt: skip
    """Rows of grey | model … | truth, captioned with their scores; the photos split over ``columns``
    side-by-side blocks. ``grey_label`` heads the first column (a night-vision pair shows its sensor frame)."""
    width = round(CELL_HEIGHT * 4 / 3)
    names = [grey_label, *models, "truth"]
    rows = []
    for path in photos:
        given, shown, truth = scored_images(path)  # a night-vision pair: its sensor frame is the grey
        coloured = [c.colorize_image(given) for c in models.values()]
        captions = [caption(score_photo(shown, truth), chroma=False),
                    *(caption(score_photo(c, truth)) for c in coloured), []]  # fmt: skip
        cells = [_cell(picture, width, text) for picture, text in zip([shown, *coloured, truth], captions, strict=True)]
        gap = np.full((cells[0].shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([part for cell in cells for part in (cell, gap)][:-1], axis=1))
    header = np.concatenate([part for name in names for part in (_label(name, width), _label("", 4))][:-1], axis=1)
    per_block = -(-len(rows) // columns)
    blocks = []
    for start in range(0, len(rows), per_block):
        spaced = [np.pad(r, ((0, 4), (0, 0), (0, 0)), constant_values=255) for r in rows[start : start + per_block]]
        blocks.append(np.concatenate([header, *spaced]))
    height = max(b.shape[0] for b in blocks)
    blocks = [np.pad(b, ((0, height - b.shape[0]), (0, 16), (0, 0)), constant_values=255) for b in blocks]
    return np.concatenate(blocks, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME (a preset) or LABEL=CHECKPOINT")
    parser.add_argument("--photos", type=Path, default=BENCHMARK, help="a folder of colour photos")
    parser.add_argument("--columns", type=int, default=3, help="side-by-side blocks the photos are split over")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/quality_sheet.jpg"))
    args = parser.parse_args()
    models = {}
    for spec in args.models:
        label, _, weights = spec.partition("=")
        models[label] = Colorizer(backend="cpu", weights=weights or None, model="auto" if weights else label)
    sheet = make_sheet(models, list_images(args.photos), columns=args.columns)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
