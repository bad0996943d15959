"""Teaching a trained colorizer to follow hints: its network frozen, only the hint attention learns.

Each crop gets simulated hints — a random number of 5x5 means of its true colours at random places (a person's
clicks), or now and then a dense patch of its true colours (what a reference picture of the same view gives) —
and the loss is the squared a*b* error at the working size, where the colour is automatic + confidence *
(hinted - automatic), plus the squared chroma given to what is grey in truth (``neutral_excess``). The network
runs without gradients, so a step costs little more than its forward pass, and without hints the trained model is
the automatic one to the bit (``hint_attention.py``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, WeightedRandomSampler
from tqdm import tqdm

from ..guidance.hints import sample_hints
from ..models.checkpoint import load_model, save_checkpoint
from ..models.mobile_unet import MobileUNet
from .chroma_errors import NEUTRAL_BELOW
from .clock import TrainingClock
from .data import RandomCrops, list_images, source_balanced_weights
from .loop import card_path, lab_batch, state_path

log = logging.getLogger("vidcolor")

MAX_HINTS = 64  # a crop gets 1 .. MAX_HINTS hints, log-uniformly (few clicks are the common case)
DENSE_SHARE = 0.2  # crops whose hints are a dense patch of the truth instead of clicks
KEY_CHANNELS = 32


@dataclass(frozen=True)
class HintTrainConfig:
    data: str
    out: str
    base: str  # the trained automatic model (a checkpoint) the hints are taught to
    steps: int | None = None
    minutes: float | None = None
    crop: int = 192
    batch: int = 12
    lr: float = 3e-3
    neutral_weight: float = 1.0  # of ``neutral_excess`` beside the squared error
    threads: int | None = None
    seed: int = 0
    checkpoint_minutes: float = 5.0
    source_cap: int | None = 1500

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.minutes is None):
            raise ValueError("give exactly one budget: steps or minutes")
        if self.crop % 32:
            raise ValueError(f"crop must be a multiple of 32, got {self.crop}")


def simulated_hints(ab: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """True a*b* (B, 2, H, W) -> hint planes (B, 3, H, W): clicks, or (DENSE_SHARE of crops) a dense patch."""
    planes = []
    height, width = ab.shape[-2:]
    for truth in ab:
        if torch.rand((), generator=generator) < DENSE_SHARE:
            patch = torch.zeros(3, height, width)
            h, w = (int(side * torch.empty(()).uniform_(0.2, 0.7, generator=generator)) for side in (height, width))
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            patch[:2, top : top + h, left : left + w] = truth[:, top : top + h, left : left + w]
            patch[2, top : top + h, left : left + w] = 1.0
            planes.append(patch)
        else:
            count = int(math.exp(torch.empty(()).uniform_(0, math.log(MAX_HINTS + 1), generator=generator)))
            planes.append(sample_hints(truth, max(1, count), generator))
    return torch.stack(planes)


def hint_network(base: str | Path) -> MobileUNet:
    """The base checkpoint's network with hint attention added (zero hints: the base, exactly), all but the hint
    attention frozen."""
    trained = load_model(base)
    if not isinstance(trained, MobileUNet):
        raise ValueError(f"{base}: hints are taught to the MobileNetV2 presets' networks")
    model = MobileUNet(replace(trained.config, hint_keys=KEY_CHANNELS))
    state = model.state_dict()
    state.update(trained.state_dict())
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)
    model.hints.requires_grad_(True)
    return model


def hinted_colour(model: MobileUNet, lightness: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
    """a*b* at the working size, the frozen network run without gradients and the hint attention with them."""
    with torch.no_grad():
        features = model.decode(lightness)
        automatic = F.interpolate(model.colour(features), size=lightness.shape[-2:], mode="bilinear",
                                  align_corners=False)  # fmt: skip
    return model.follow_hints(features, lightness, hints, automatic)[0]


def neutral_excess(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean squared chroma beyond NEUTRAL_BELOW that ``predicted`` a*b* gives places grey in ``target`` (both
    (B, 2, H, W)): false colour, weighed once more than the squared error already weighs it."""
    neutral = target.norm(dim=1) < NEUTRAL_BELOW
    return (F.relu(predicted.norm(dim=1) - NEUTRAL_BELOW) ** 2 * neutral).mean()


def train_hints(config: HintTrainConfig, *, resume: bool = False, progress_bar: bool = True,
                command: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Train; write the whole network (the base's weights and the hint attention's) to ``config.out``."""
    torch.manual_seed(config.seed)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    torch.set_flush_denormal(True)
    generator = torch.Generator().manual_seed(config.seed)
    model = hint_network(config.base)
    model.eval()  # batch norm keeps the base's statistics
    optimizer = torch.optim.AdamW(model.hints.parameters(), lr=config.lr, weight_decay=0.0)
    step, elapsed = 0, 0.0
    saved = state_path(config.out)
    if resume and saved.is_file():
        state = torch.load(saved, map_location="cpu", weights_only=True)
        model.hints.load_state_dict(state["hints"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        generator.manual_seed(config.seed + step)
        log.info("resumed %s at step %d (%.1f min trained)", saved, step, elapsed / 60)
    images = list_images(config.data)
    sampler = None
    if config.source_cap is not None:
        weights = source_balanced_weights(images, config.source_cap)
        sampler = WeightedRandomSampler(weights, num_samples=round(float(weights.sum())), replacement=False)
    loader = DataLoader(RandomCrops(images, config.crop), batch_size=config.batch, shuffle=sampler is None,
                        sampler=sampler, drop_last=True, num_workers=0)  # fmt: skip
    budget = config.steps if config.steps is not None else config.minutes * 60

    def fraction_done() -> float:
        return step / budget if config.steps is not None else elapsed / budget

    def save_state() -> None:
        torch.save({"hints": model.hints.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "elapsed": elapsed, "config": asdict(config)}, saved)  # fmt: skip

    losses: list[float] = []
    bar = tqdm(total=config.steps, unit="step", disable=not progress_bar, initial=step if config.steps else 0)
    last_save = time.monotonic()
    with TrainingClock(elapsed) as clock:
        while fraction_done() < 1.0:
            for crops in loader:
                lightness, ab = lab_batch(crops, torch.device("cpu"))
                hints = simulated_hints(ab, generator)
                for group in optimizer.param_groups:  # cosine decay over the budget
                    group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * min(fraction_done(), 1.0)))
                predicted = hinted_colour(model, lightness, hints)
                target = F.interpolate(ab, size=predicted.shape[-2:], mode="area")
                loss = F.mse_loss(predicted, target) + config.neutral_weight * neutral_excess(predicted, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                elapsed = clock.tick()
                losses.append(loss.item())
                bar.update(1)
                if step % 20 == 0:
                    bar.set_postfix(mse=f"{sum(losses[-20:]) / 20:.1f}")
                if time.monotonic() - last_save > config.checkpoint_minutes * 60:
                    save_state()
                    last_save = time.monotonic()
                if fraction_done() >= 1.0:
                    break
    bar.close()
    save_state()
    summary = {"steps": step, "images_seen_total": step * config.batch, "train_minutes": round(elapsed / 60, 2),
               "device": "cpu", "mse_first_20": _mean(losses[:20]), "mse_last_100": _mean(losses[-100:]),
               "config": asdict(config), "command": command}  # fmt: skip
    save_checkpoint(model.eval(), config.out, info={"hint_training": summary})
    card_path(config.out).write_text(json.dumps({"hint_training": summary}, indent=2) + "\n")
    return summary


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def set_hint_caution(path: str | Path, out: str | Path, caution: float) -> None:
    """Copy the hinted checkpoint ``path`` to ``out`` with its "nothing matches" logit raised by ``caution``: a hint
    then reaches only what resembles it more closely (fewer cells coloured by a hint of something else, fewer
    far ones coloured at all). Read at render time, like the bins' rendering (``checkpoint.set_rendering``)."""
    model = load_model(path)
    if not isinstance(model, MobileUNet) or model.hints is None:
        raise ValueError(f"{path} has no hint attention")
    with torch.no_grad():
        model.hints.nothing += caution
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    save_checkpoint(model, out, info=checkpoint.get("info"))
