"""Learning the colour gate (``vidcolor/models/colour_gate.py``) of a trained bins model; its other weights stay.

Each photo is run through the network once, at the working size as the colorizer runs it: the frame statistics
the gate reads, and three sums that give the photo's a*b* error for any factor s on its colour, at the output
stride: |s·ab - truth|² summed = s²·Σ|ab|² - 2s·Σ ab·truth + Σ|truth|². The gate is then fitted on those alone
(seconds), to the mean over the photos of log(1 + the mean squared a*b* error): the photos' mean PSNR of a*b*,
each photo counted alike, as `vidcolor eval` counts them. The colour partners of night-vision pairs can be given
too (``*_rgb`` beside ``*_ir``): roads and yards by day, the near-grey scenes the photo set lacks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..color import rgb_to_lab
from ..colorizer import working_size
from ..errors import WeightsError
from ..models.checkpoint import load_model
from ..models.colour_gate import ColourGate
from ..models.mobile_unet import MobileUNet
from .data import IR_SUFFIX, list_images, read_rgb

log = logging.getLogger("vidcolor")

FIT_STEPS, FIT_LR = 2000, 0.01
ERROR_FLOOR = 1.0  # added to each photo's mean squared a*b* error: a near-grey photo's tiny error is not infinite dB


@dataclass(frozen=True)
class GateExamples:
    """Per photo: the gate's statistics (N, STATISTICS) and the sums Σ|ab|², Σ ab·truth, Σ|truth|² and the count
    of a*b* values (N,) each."""

    statistics: torch.Tensor
    predicted_energy: torch.Tensor
    agreement: torch.Tensor
    truth_energy: torch.Tensor
    count: torch.Tensor

    def mean_squared_error(self, factor: torch.Tensor) -> torch.Tensor:
        """(N,) factors -> each photo's mean squared a*b* error with its colour times that factor."""
        sums = factor**2 * self.predicted_energy - 2 * factor * self.agreement + self.truth_energy
        return sums.clamp(min=0.0) / self.count

    def loss(self, factor: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mean_squared_error(factor) + ERROR_FLOOR).mean()


def colour_photos(folders: Sequence[str | Path], count: int | None, seed: int = 0) -> list[Path]:
    """The colour images below each of ``folders`` (a night-vision pair's colour partner, not its sensor frame):
    at most ``count`` of each folder, a seeded pick, so a small folder of rare scenes is not drowned by a large one."""
    photos = []
    for folder in folders:
        found = [p for p in list_images(folder) if not p.stem.endswith(IR_SUFFIX)]
        photos += found if count is None or count >= len(found) else sorted(random.Random(seed).sample(found, count))
    return photos


@torch.no_grad()
def network_pass(model: MobileUNet, rgb: torch.Tensor, short_side: int) -> tuple[torch.Tensor, ...]:
    """An RGB picture (3, H, W) uint8 seen as the colorizer sees it, at the working size -> its L* (1, 1, h, w),
    the decoder's features, the rendered a*b* before the gate, and the true a*b* at their stride (1, 2, h/s, w/s)."""
    lab = rgb_to_lab(rgb.float()[None] / 255)
    size = working_size(*lab.shape[-2:], short_side)
    lab = F.interpolate(lab, size=size, mode="bilinear", antialias=True, align_corners=False)
    features = model.decode(lab[:, :1])
    ab = model.colour(features, gated=False)
    return lab[:, :1], features, ab, F.interpolate(lab[:, 1:], size=ab.shape[-2:], mode="area")


def error_sums(ab: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Σ|ab|², Σ ab·truth, Σ|truth|² and the count of a*b* values: any factor's a*b* error from four numbers."""
    return torch.stack(((ab**2).sum(), (ab * truth).sum(), (truth**2).sum(), torch.tensor(float(ab.numel()))))


@torch.no_grad()
def gate_examples(model: MobileUNet, photos: Sequence[Path], short_side: int, progress: bool = False) -> GateExamples:
    """Run ``model`` (float32, CPU) on each photo's L* at the working size; collect what the gate is fitted on."""
    rows = []
    for photo in tqdm(photos, unit="photo", disable=not progress):
        _, features, ab, truth = network_pass(model, read_rgb(photo), short_side)
        rows.append(torch.cat((model.frame_statistics(features, ab)[0], error_sums(ab, truth))))
    table = torch.stack(rows).double()
    return GateExamples(table[:, :-4].float(), *table[:, -4:].unbind(dim=1))


def fit_logistic(statistics: torch.Tensor, examples: GateExamples, steps: int = FIT_STEPS,
                 lr: float = FIT_LR) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The factor sigmoid(statistics @ weight + bias) that minimises ``examples.loss``: a logistic regression,
    fitted on standardised statistics (N, K) -> its (K,) weight and its bias in the statistics' own units, float64."""
    centre, spread = statistics.mean(dim=0), statistics.std(dim=0).clamp(min=1e-6)
    standard = ((statistics - centre) / spread).double()
    weight = torch.zeros(standard.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr)
    for _ in range(steps):
        loss = examples.loss(torch.sigmoid(standard @ weight + bias))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        centre, spread = centre.double(), spread.double()
        return weight / spread, bias - (weight * centre / spread).sum()


def fit_gate(examples: GateExamples, steps: int = FIT_STEPS, lr: float = FIT_LR) -> ColourGate:
    """The gate that minimises ``examples.loss`` (``fit_logistic`` on the gate's statistics)."""
    weight, bias = fit_logistic(examples.statistics, examples, steps, lr)
    gate = ColourGate().requires_grad_(False)
    gate.linear.weight.copy_(weight[None].float())
    gate.linear.bias.copy_(bias.float()[None])
    return gate


def gate_scores(examples: GateExamples, factor: torch.Tensor) -> dict[str, float]:
    """The photos' mean a*b* PSNR-like score (-10 log10(1 + MSE), dB) with the colour as it is, gated and grey."""

    def decibels(f: torch.Tensor) -> float:
        return float(-10 * torch.log10(examples.mean_squared_error(f) + ERROR_FLOOR).mean())

    ones = torch.ones_like(factor)
    return {"colour_db": decibels(ones), "gated_db": decibels(factor), "grey_db": decibels(0 * ones),
            "mean_factor": float(factor.mean())}  # fmt: skip


def train_colour_gate(weights: str | Path, folders: Sequence[str | Path], out: str | Path, *, count: int | None,
                      short_side: int, lift: float = 1.0, seed: int = 0, progress: bool = False,
                      command: str | None = None) -> dict:  # fmt: skip
    """Fit the colour gate of the bins model ``weights`` on the photos below ``folders``; write the checkpoint with
    the gate (the rest as it was, byte for byte) to ``out``; return what was learnt and how it scores."""
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    model = load_model(weights)
    if not isinstance(model, MobileUNet) or not model.config.ab_bins:
        raise WeightsError(f"{weights}: the colour gate reads a bins head's entropy; this model has none")
    photos = colour_photos(folders, count, seed)
    log.info("fitting the colour gate of %s on %d photos", Path(weights).name, len(photos))
    examples = gate_examples(model, photos, short_side, progress)
    gate = fit_gate(examples)
    with torch.no_grad():
        factor = (gate(examples.statistics, lift)).flatten().double()
    summary = {"photos": len(photos), "folders": [str(f) for f in folders], "short_side": short_side, "lift": lift,
               "weight": gate.linear.weight[0].tolist(), "bias": float(gate.linear.bias[0]),
               **gate_scores(examples, factor), "command": command}  # fmt: skip
    checkpoint["config"] = {**checkpoint["config"], "colour_gate": True, "render_gate_lift": lift}
    checkpoint["state_dict"].update({f"colour_gate.{k}": v.half() for k, v in gate.state_dict().items()})
    checkpoint.setdefault("info", {})["colour_gate"] = summary
    torch.save(checkpoint, out)
    return summary
