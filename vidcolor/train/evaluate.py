"""Quality on held-out photos against the grey (a*b* = 0) baseline: PSNR, SSIM, colourfulness, and what a viewer
notices (false colour, lost colour, wrong hue: ``chroma_errors.py``; for a night sensor, how visible what is hot
stays: ``hot_contrast.py``), scored at each photo's own size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..color import lab_to_rgb, rgb_to_lab
from ..colorizer import Colorizer
from ..guidance.hints import truth_hints
from ..guidance.reference import Reference
from .chroma_errors import ChromaErrors, chroma_errors, mean_chroma_errors
from .data import IR_SUFFIX, list_images, pair_frames, read_pair, read_rgb
from .hot_contrast import hot_contrast, hot_is_bright, lightness, mean_of_measured

SHEET_ROWS = 12
SHEET_HEIGHT = 160
CAPTION_LINE_HEIGHT = 14
BELOW_GREY_DB = 3.0  # "photos_3db_below_grey": photos whose PSNR is more than this below the grey baseline's


def psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR of two uint8 RGB images, in dB."""
    mse = np.mean((prediction.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM over the RGB channels (Gaussian window 11, sigma 1.5, Wang et al. 2004 constants)."""
    x = torch.from_numpy(prediction).permute(2, 0, 1).double()[:, None]  # (3, 1, H, W)
    y = torch.from_numpy(truth).permute(2, 0, 1).double()[:, None]
    taps = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    taps = taps / taps.sum()

    def blur(t: torch.Tensor) -> torch.Tensor:  # the 11x11 Gaussian as two 1-D passes ('valid', as Wang et al.)
        return F.conv2d(F.conv2d(t, taps.view(1, 1, 11, 1)), taps.view(1, 1, 1, 11))

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    score = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(score.mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003): spread and mean of the opponent channels rg = R-G, yb = (R+G)/2 - B."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


@dataclass(frozen=True)
class PhotoScores:
    psnr: float
    ssim: float
    colourfulness: float
    chroma: ChromaErrors
    hot_contrast: float | None = None  # night sensors: what is hot, as visible as the sensor shows it = 1

    def as_dict(self) -> dict[str, float | None]:
        night = {} if self.hot_contrast is None else {"hot_contrast": self.hot_contrast}
        return {"psnr": self.psnr, "ssim": self.ssim, "colourfulness": self.colourfulness, **asdict(self.chroma),
                **night}  # fmt: skip


def score_photo(prediction: np.ndarray, truth: np.ndarray, sensor: np.ndarray | None = None,
                hot_is_bright: bool = True) -> PhotoScores:  # fmt: skip
    """All scores of one prediction against its truth, both uint8 RGB (H, W, 3) of the same size; ``sensor``:
    a night sensor's frame (uint8 RGB, the same size), against which the hot-object contrast is measured."""
    contrast = None if sensor is None else hot_contrast(lightness(prediction), lightness(sensor),
                                                        hot_is_bright=hot_is_bright)  # fmt: skip
    return PhotoScores(psnr(prediction, truth), ssim(prediction, truth), colourfulness(prediction),
                       chroma_errors(prediction, truth), contrast)  # fmt: skip


def _mean_scores(photos: list[PhotoScores]) -> dict:
    """Means over the photos; each chroma error over the photos that count for it (see ``mean_chroma_errors``);
    the hot-object contrast where it was measured."""
    plain = {field: float(np.mean([getattr(p, field) for p in photos])) for field in ("psnr", "ssim", "colourfulness")}
    contrast = mean_of_measured([p.hot_contrast for p in photos])
    night = {} if contrast is None else {"hot_contrast": contrast}
    return {**plain, **mean_chroma_errors([p.chroma for p in photos]), **night}


def grey_baseline(rgb: np.ndarray) -> np.ndarray:
    """The photo's own L* with a*b* = 0: what a colorizer that adds nothing would output."""
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)
    lab[1:] = 0
    return (lab_to_rgb(lab) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def scored_images(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(what the colorizer is given, the grey baseline, the truth) as uint8 RGB (H, W, 3): a colour photo (the
    colorizer reads only its L*), its L* alone, itself; or a night-vision pair's sensor frame, that frame as
    shown (grey), its aligned colour partner."""
    if path.stem.endswith(IR_SUFFIX):
        pair = read_pair(path).permute(1, 2, 0).numpy()
        grey = np.repeat(pair[..., :1], 3, axis=2)
        return grey, grey, np.ascontiguousarray(pair[..., 1:])
    truth = read_rgb(path).permute(1, 2, 0).numpy()
    return truth, grey_baseline(truth), truth


def evaluate(
    colorizer: Colorizer, photos: str | Path, *, limit: int | None = None, sheet: str | Path | None = None,
    progress: bool = False, hints: int | None = None, hint_seed: int = 0, reference: Reference | None = None,
) -> dict:  # fmt: skip
    """Colorize each photo from its L* alone; average the scores of vidcolor, the grey baseline and the truth.
    A folder of night-vision pairs (``*_ir`` beside ``*_rgb``) is scored pair by pair: the sensor frame in, its
    colour partner the truth, the sensor frame itself the grey baseline (``scored_images``).

    ``vidcolor`` also counts the photos more than ``BELOW_GREY_DB`` under the grey baseline's PSNR; ``per_photo``
    holds every photo's scores (file name, then the two rows). ``hints``: that many hints from each photo's truth
    (``truth_hints``), placed by ``hint_seed`` and the photo's index, so every model gets the same ones;
    ``reference``: one colour picture of the view every photo shares (frames of one fixed camera). A night
    sensor's colorizer is also scored by its hot-object contrast (``hot_contrast``): vidcolor's and the truth's
    against the sensor frame (the grey baseline, which is the sensor frame, keeps 1 by definition)."""
    paths = (pair_frames(photos) or list_images(photos))[:limit]
    rows: dict[str, list[PhotoScores]] = {"vidcolor": [], "grey": []}
    truth_colourfulness: list[float] = []
    truth_contrast: list[float | None] = []
    night, bright = colorizer.sensor != "visible", hot_is_bright(colorizer.sensor)
    sheet_rows: list[np.ndarray] = []
    for index, path in enumerate(tqdm(paths, unit="photo", disable=not progress)):
        given, grey, truth = scored_images(path)
        known = truth_hints(truth, hints, torch.Generator().manual_seed(hint_seed * 100_003 + index)) if hints else ()
        coloured = colorizer.colorize_image(given, hints=known, reference=reference)
        rows["vidcolor"].append(score_photo(coloured, truth, given if night else None, bright))
        rows["grey"].append(score_photo(grey, truth))
        truth_colourfulness.append(colourfulness(truth))
        if night:
            truth_contrast.append(hot_contrast(lightness(truth), lightness(given), hot_is_bright=bright))
        if sheet is not None and index % max(1, len(paths) // SHEET_ROWS) == 0 and len(sheet_rows) < SHEET_ROWS:
            captions = (caption(rows["grey"][-1], chroma=False), caption(rows["vidcolor"][-1]), [])
            sheet_rows.append(_sheet_row((grey, coloured, truth), captions))
    below_grey = sum(v.psnr < g.psnr - BELOW_GREY_DB for v, g in zip(rows["vidcolor"], rows["grey"], strict=True))
    result = {
        "photos": len(paths),
        "folder": str(photos),
        "size": colorizer.size,
        "hints": hints or 0,
        "truth": {"colourfulness": float(np.mean(truth_colourfulness)),
                  **({"hot_contrast": mean_of_measured(truth_contrast)} if night else {})},
        "vidcolor": {**_mean_scores(rows["vidcolor"]), "photos_3db_below_grey": below_grey},
        "grey": _mean_scores(rows["grey"]),
        "per_photo": [{"photo": path.name, **{name: scores[i].as_dict() for name, scores in rows.items()}}
                      for i, path in enumerate(paths)],
    }  # fmt: skip
    if sheet is not None:
        _write_sheet(sheet_rows, Path(sheet))
    return result


def caption(scores: PhotoScores, *, chroma: bool = True) -> list[str]:
    """A sheet cell's caption: PSNR, then false / lost colour and wrong hue in percent ('-': the photo does not
    count for that measure)."""
    if not chroma:
        return [f"{scores.psnr:.1f} dB"]
    shares = ("-" if v is None else f"{v:.0f}%" for v in asdict(scores.chroma).values())
    return [f"{scores.psnr:.1f} dB", "false {} lost {} hue {}".format(*shares)]


def caption_band(lines: Sequence[str], width: int, rows: int = 2) -> np.ndarray:
    """White band ``width`` wide and ``rows`` lines high, with ``lines`` in black, each shrunk to fit; a line that
    does not fit even at the smallest size is left out."""
    band = np.full((CAPTION_LINE_HEIGHT * rows + 4, width, 3), 255, np.uint8)
    for row, text in enumerate(lines):
        for scale in (0.45, 0.4, 0.35, 0.3):
            (text_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            if text_width <= width - 4:
                origin = (3, CAPTION_LINE_HEIGHT * (row + 1))
                cv2.putText(band, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
                break
    return band


def _sheet_row(images: Sequence[np.ndarray], captions: Sequence[Sequence[str]]) -> np.ndarray:
    """grey | vidcolor | truth, each above its caption."""
    resized = [cv2.resize(im, (round(im.shape[1] * SHEET_HEIGHT / im.shape[0]), SHEET_HEIGHT),
                          interpolation=cv2.INTER_AREA) for im in images]  # fmt: skip
    cells = [np.concatenate([im, caption_band(text, im.shape[1])]) for im, text in zip(resized, captions, strict=True)]
    gap = np.full((cells[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([cells[0], gap, cells[1], gap, cells[2]], axis=1)


def _write_sheet(rows: list[np.ndarray], path: Path) -> None:
    """Stack the rows (grey | vidcolor | truth, captioned), left-aligned on white."""
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(padded), cv2.COLOR_RGB2BGR))
