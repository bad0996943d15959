"""Colour hints: read and check a hints file, draw hints as the model's hint planes, sample hints from the truth.

The file (JSON)::

    {"hints": [{"x": 0.31, "y": 0.52, "color": "#1f4fa0"}, {"x": 0.8, "y": 0.1, "color": "#d03020", "time": 4.5}]}

``x`` and ``y`` are fractions of the picture's width and height from its top-left corner; ``color`` is sRGB hex, of
which only a*b* are used (the picture keeps its own lightness); ``time`` (seconds, default 0) is when a video's hint
starts to hold. The model sees hints as three planes at its working size (``hint_attention.py``): a*, b* and a
mask, each hint a HINT_SIDE x HINT_SIDE square, as training places them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..color import rgb_to_lab
from ..errors import InputError

HINT_SIDE = 5  # pixels at the model's working size: a hint's square, and the window sampled hints average
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Hint:
    """A colour at a place: (x, y) fractions of the picture's width and height, a*b* in CIELAB units."""

    x: float
    y: float
    a: float
    b: float
    time: float = 0.0  # seconds into a video from which the hint holds


def hex_to_ab(color: str) -> tuple[float, float]:
    """``#rrggbb`` -> its a*, b*."""
    match = _HEX.fullmatch(color.strip()) if isinstance(color, str) else None
    if match is None:
        raise ValueError(f"color must be sRGB hex like #1f4fa0, got {color!r}")
    rgb = torch.tensor([int(match[1][i : i + 2], 16) / 255 for i in (0, 2, 4)]).view(1, 3, 1, 1)
    lab = rgb_to_lab(rgb).flatten()
    return float(lab[1]), float(lab[2])


def parse_hints(document: object, where: str = "hints") -> list[Hint]:
    """The parsed JSON of a hints file -> its hints; a ValueError names what is wrong and where."""
    if not isinstance(document, dict) or not isinstance(document.get("hints"), list):
        raise ValueError(f'{where}: expected {{"hints": [{{"x": …, "y": …, "color": "#rrggbb"}}, …]}}')
    hints = []
    for i, item in enumerate(document["hints"]):
        at = f"{where}: hint {i + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{at} is not an object with x, y and color")
        unknown = set(item) - {"x", "y", "color", "time"}
        if unknown:
            raise ValueError(f"{at}: unknown field {sorted(unknown)[0]!r} (x, y, color and time are read)")
        values = {}
        for key, low, high in (("x", 0.0, 1.0), ("y", 0.0, 1.0), ("time", 0.0, math.inf)):
            value = item.get(key, 0.0 if key == "time" else None)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                bound = f"{low:g} to {high:g}" if high < math.inf else f"at least {low:g}"
                raise ValueError(f"{at}: {key} must be a number {bound}, got {value!r}")
            values[key] = float(value)
        try:
            a, b = hex_to_ab(item.get("color"))
        except ValueError as exc:
            raise ValueError(f"{at}: {exc}") from None
        hints.append(Hint(values["x"], values["y"], a, b, values["time"]))
    return hints


def read_hints(path: str | Path) -> list[Hint]:
    """A hints file -> its hints; InputError (one line) where it cannot be read or is malformed."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"hints file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read hints file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    try:
        return parse_hints(document, str(path))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def hint_planes(hints: Sequence[Hint], height: int, width: int) -> torch.Tensor:
    """Hints -> the model's hint planes (3, height, width): a*, b*, mask; zeros where there is no hint."""
    planes = np.zeros((3, height, width), np.float32)  # drawn in NumPy: a tenth of torch's cost per small write
    half = HINT_SIDE // 2
    for hint in hints:
        row = min(height - 1, int(hint.y * height))
        col = min(width - 1, int(hint.x * width))
        top, left = max(0, row - half), max(0, col - half)
        window = planes[:, top : row + half + 1, left : col + half + 1]
        window[0], window[1], window[2] = hint.a, hint.b, 1.0
    return torch.from_numpy(planes)


def batch_planes(frames: Sequence[Sequence[Hint]], height: int, width: int,
                 device: torch.device) -> torch.Tensor | None:  # fmt: skip
    """Each frame's hints -> the batch's hint planes (B, 3, height, width) on ``device``; None where no frame has
    one (the model then runs without hints)."""
    if not any(frames):
        return None
    return torch.stack([hint_planes(hints, height, width) for hints in frames]).to(device)


def merge_planes(first: torch.Tensor | None, second: torch.Tensor | None) -> torch.Tensor | None:
    """Two sets of hint planes (B, 3, h, w), either None: ``first`` where it has a hint, ``second`` elsewhere."""
    if first is None or second is None:
        return second if first is None else first
    return torch.where(first[:, 2:3] > 0, first, second)


def sample_hints(ab: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """True a*b* (2, H, W) -> hint planes (3, H, W) of ``count`` hints at uniformly random places, each the mean of
    the truth in its HINT_SIDE x HINT_SIDE square (how training simulates a person's hints, and how eval scores)."""
    height, width = ab.shape[-2:]
    means = F.avg_pool2d(ab[None], HINT_SIDE, stride=1)[0]  # (2, H - 4, W - 4): each square's mean colour
    rows = torch.randint(0, height - HINT_SIDE + 1, (count,), generator=generator)
    cols = torch.randint(0, width - HINT_SIDE + 1, (count,), generator=generator)
    planes = torch.zeros(3, height, width, dtype=ab.dtype, device=ab.device)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        window = planes[:, row : row + HINT_SIDE, col : col + HINT_SIDE]
        window[:2] = means[:, row, col, None, None]
        window[2] = 1.0
    return planes


def truth_hints(truth: np.ndarray, count: int, generator: torch.Generator) -> list[Hint]:
    """A colour photo (H, W, 3) uint8 -> ``count`` hints at uniformly random places of it, each the mean a*b* of its
    HINT_SIDE x HINT_SIDE pixels there: how ``vidcolor eval --hints`` stands in for a person who knows the colours."""
    height, width = truth.shape[:2]
    lab = rgb_to_lab(torch.from_numpy(truth).permute(2, 0, 1).float()[None] / 255)[0]
    means = F.avg_pool2d(lab[None, 1:], HINT_SIDE, stride=1, padding=HINT_SIDE // 2, count_include_pad=False)[0]
    rows = torch.randint(0, height, (count,), generator=generator).tolist()
    cols = torch.randint(0, width, (count,), generator=generator).tolist()
    return [Hint((col + 0.5) / width, (row + 0.5) / height, float(means[0, row, col]), float(means[1, row, col]))
            for row, col in zip(rows, cols, strict=True)]  # fmt: skip
