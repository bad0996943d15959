"""What a viewer notices in a colorized photo: colour where there is none, colour lost, colour of the wrong hue.

Measured per pixel in CIELAB (D65, ``vidcolor.color.rgb_to_lab``) from the chroma C*ab = |(a*, b*)| and the hue
angle h = atan2(b*, a*) of the prediction and of the truth, as shares in percent:

* false colour: of the pixels near-neutral in the truth (C* < 8), those the prediction gives visible colour (C* > 20);
* lost colour: of the pixels saturated in the truth (C* > 40), those the prediction leaves dull (C* < 15);
* wrong hue: of the pixels coloured in both truth and prediction (C* > 15 in each), those whose hue angles differ
  by more than 60 degrees.

A photo counts for a measure only where at least 1 % of its pixels are in that measure's class (the denominator
above); elsewhere its value is None, and a mean over photos is over those that count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from ..color import rgb_to_lab

NEUTRAL_BELOW = 8.0  # C*: near-neutral in the truth
FALSE_ABOVE = 20.0  # C*: visibly coloured in the prediction
SATURATED_ABOVE = 40.0  # C*: saturated in the truth
DULL_BELOW = 15.0  # C*: left dull by the prediction
COLOURED_ABOVE = 15.0  # C*: coloured, for comparing hues
HUE_TOLERANCE_DEGREES = 60.0
MIN_CLASS_SHARE = 0.01  # a photo counts for a measure when this share of its pixels is in the measure's class


@dataclass(frozen=True)
class ChromaErrors:
    """One photo's three measures in percent; None where the photo does not count for that measure."""

    false_colour_pct: float | None
    lost_colour_pct: float | None
    wrong_hue_pct: float | None


def complex_ab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> a* + i b* (H, W), complex128: its modulus is C*ab, its angle the hue."""
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255).numpy()  # (3, H, W)
    return lab[1] + 1j * lab[2]


def _share(errors: np.ndarray, among: np.ndarray) -> float | None:
    """Percent of the ``among`` pixels that are ``errors``; None where ``among`` is under MIN_CLASS_SHARE."""
    if among.mean() < MIN_CLASS_SHARE:
        return None
    return float(100 * errors[among].mean())


def chroma_errors(prediction: np.ndarray, truth: np.ndarray) -> ChromaErrors:
    """False colour, lost colour and wrong hue of ``prediction`` against ``truth``, both uint8 RGB (H, W, 3)."""
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ in shape")
    predicted_ab, true_ab = complex_ab(prediction), complex_ab(truth)
    predicted_c, true_c = np.abs(predicted_ab), np.abs(true_ab)
    hue_gap = np.degrees(np.abs(np.angle(predicted_ab * np.conj(true_ab))))  # |h_pred - h_true| in [0, 180]
    coloured_in_both = (true_c > COLOURED_ABOVE) & (predicted_c > COLOURED_ABOVE)
    return ChromaErrors(
        false_colour_pct=_share(predicted_c > FALSE_ABOVE, true_c < NEUTRAL_BELOW),
        lost_colour_pct=_share(predicted_c < DULL_BELOW, true_c > SATURATED_ABOVE),
        wrong_hue_pct=_share(hue_gap > HUE_TOLERANCE_DEGREES, coloured_in_both),
    )


def mean_chroma_errors(photos: Sequence[ChromaErrors]) -> dict:
    """Each measure's mean over the photos that count for it (None where none does), and under ``counted``
    how many did: ``{"false_colour_pct": 11.5, …, "counted": {"false_colour_pct": 45, …}}``."""
    means: dict = {}
    counted: dict[str, int] = {}
    for field in fields(ChromaErrors):
        values = [v for photo in photos if (v := getattr(photo, field.name)) is not None]
        means[field.name] = float(np.mean(values)) if values else None
        counted[field.name] = len(values)
    return {**means, "counted": counted}


def legend() -> list[str]:
    """What each measure counts, in a line each, for tables."""
    return [
        f"false %: of the truth's neutral pixels (C*ab < {NEUTRAL_BELOW:g}), those given colour (> {FALSE_ABOVE:g})",
        f"lost %:  of the truth's saturated pixels (C*ab > {SATURATED_ABOVE:g}), those left dull (< {DULL_BELOW:g})",
        f"hue %:   of the pixels coloured in both (C*ab > {COLOURED_ABOVE:g}), those whose hue is off by more than "
        f"{HUE_TOLERANCE_DEGREES:g} degrees",
        f"a photo counts for a measure where at least {MIN_CLASS_SHARE:.0%} of its pixels are in that class",
    ]
