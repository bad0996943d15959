"""Quality on held-out photos: PSNR, SSIM and colourfulness, against the grey (a*b* = 0) baseline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..color import lab_to_rgb, rgb_to_lab
from ..colorizer import Colorizer
from .data import list_images, read_rgb

SHEET_ROWS = 12
SHEET_HEIGHT = 160


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


def _score(prediction: np.ndarray, truth: np.ndarray) -> PhotoScores:
    return PhotoScores(psnr(prediction, truth), ssim(prediction, truth), colourfulness(prediction))


def grey_baseline(rgb: np.ndarray) -> np.ndarray:
    """The photo's own L* with a*b* = 0: what a colorizer that adds nothing would output."""
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)
    lab[1:] = 0
    return (lab_to_rgb(lab) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def evaluate(
    colorizer: Colorizer, photos: str | Path, *, limit: int | None = None, sheet: str | Path | None = None,
    progress: bool = False,
) -> dict:  # fmt: skip
    """Colorize each photo from its L* alone; average the scores of vidcolor, the grey baseline and the truth."""
    paths = list_images(photos)[:limit]
    rows: dict[str, list[PhotoScores]] = {"vidcolor": [], "grey": []}
    truth_colourfulness: list[float] = []
    sheet_rows: list[np.ndarray] = []
    for index, path in enumerate(tqdm(paths, unit="photo", disable=not progress)):
        truth = read_rgb(path).permute(1, 2, 0).numpy()
        coloured, grey = colorizer.colorize_image(truth), grey_baseline(truth)
        rows["vidcolor"].append(_score(coloured, truth))
        rows["grey"].append(_score(grey, truth))
        truth_colourfulness.append(colourfulness(truth))
        if sheet is not None and index % max(1, len(paths) // SHEET_ROWS) == 0 and len(sheet_rows) < SHEET_ROWS:
            sheet_rows.append(_sheet_row(grey, coloured, truth))
    result = {
        "photos": len(paths),
        "folder": str(photos),
        "size": colorizer.size,
        "truth": {"colourfulness": float(np.mean(truth_colourfulness))},
        **{name: {field: float(np.mean([getattr(s, field) for s in scores])) for field in PhotoScores.__annotations__}
           for name, scores in rows.items()},
    }  # fmt: skip
    if sheet is not None:
        _write_sheet(sheet_rows, Path(sheet))
    return result


def _sheet_row(*images: np.ndarray) -> np.ndarray:
    resized = [cv2.resize(im, (round(im.shape[1] * SHEET_HEIGHT / im.shape[0]), SHEET_HEIGHT),
                          interpolation=cv2.INTER_AREA) for im in images]  # fmt: skip
    gap = np.full((SHEET_HEIGHT, 4, 3), 255, np.uint8)
    return np.concatenate([resized[0], gap, resized[1], gap, resized[2]], axis=1)


def _write_sheet(rows: list[np.ndarray], path: Path) -> None:
    """Stack the rows (grey | vidcolor | truth), left-aligned on white."""
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(padded), cv2.COLOR_RGB2BGR))
