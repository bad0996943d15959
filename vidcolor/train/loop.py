"""The training loop: random crops -> Lab on the device -> L* in, a*b* out -> rebalanced loss.

The network is a preset's (`vidcolor/models/presets.py`) on MobileNetV2's ImageNet weights, read from the
TFLite file. The photos come from a folder, or from the shards ``vidcolor pack-photos`` made of one (``pack.py``).
The encoder stays frozen while the decoder learns; from ``finetune_from`` (a fraction of the budget) its deepest
stage trains too, at ``finetune_lr_scale`` times the rate. AdamW with warm-up and a cosine
decay over the budget (steps or minutes), mixed precision on CUDA, a resumable state file beside the output,
and the shipped fp16 format at the end (the whole network, encoder included).
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, WeightedRandomSampler
from tqdm import tqdm

from ..color import grey_to_lightness, rgb_to_lab
from ..errors import WeightsError
from ..models.checkpoint import load_model, save_checkpoint
from ..models.mobile_unet import MobileUNet
from ..models.mobilenetv2 import TAP_BLOCKS
from ..models.presets import PRESETS
from ..models.tflite_import import DEFAULT_TFLITE, load_imagenet_mobilenetv2
from .clock import TrainingClock
from .data import (
    RandomCrops,
    list_images,
    list_pairs,
    read_pair,
    read_rgb,
    rgb_partner,
    source_balanced_weights,
)
from .losses import Rebalancing, ab_histogram, colour_loss, lightness_loss
from .pack import PackedPhotos, list_packs, read_index

log = logging.getLogger("vidcolor")

WARMUP_STEPS = 200
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
PRIOR_IMAGES = 2000  # images sampled to estimate the a*b* distribution
SENSOR_GAIN, SENSOR_OFFSET, SENSOR_NOISE = (0.7, 1.3), 20.0, 4.0  # night-vision frames: contrast x, level ±, noise σ
SENSORS = ("visible", "thermal", "nir")


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    steps: int | None = None
    minutes: float | None = None
    model: str = "fast"  # a preset: its architecture is what gets trained
    ab_bins: bool = False  # classification over a*b* bins instead of the preset's regression head
    encoder: str = str(DEFAULT_TFLITE)
    finetune_from: float | None = None  # fraction of the budget after which the deepest encoder stage trains too
    finetune_lr_scale: float = 0.1
    crop: int = 128
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    rebalance_mix: float | None = 0.9  # None: plain smooth-L1
    workers: int = 1
    threads: int | None = None  # CPU threads for the network (default: PyTorch's)
    seed: int = 0
    checkpoint_minutes: float = 5.0
    snapshot_minutes: float | None = None  # also write the weights every this many minutes of training (scores)
    init_from: str | None = None  # start from these trained weights (same preset); a new head starts afresh
    source_cap: int | None = None  # at most this many photos of one collection an epoch (None: every photo)
    sensor: str = "visible"  # thermal, nir: learn from *_ir/*_rgb pairs (sensor frame in, partner colour out)
    daylight: bool = False  # a sensor's model learns the partner's lightness too (the daylight rendering)

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.minutes is None):
            raise ValueError("give exactly one budget: steps or minutes")
        if self.model not in PRESETS:
            raise ValueError(f"model must be one of {', '.join(PRESETS)}, got {self.model!r}")
        if self.finetune_from is not None and not 0.0 <= self.finetune_from < 1.0:
            raise ValueError(f"finetune_from must be in [0, 1), got {self.finetune_from}")
        if self.sensor not in SENSORS:
            raise ValueError(f"sensor must be one of {', '.join(SENSORS)}, got {self.sensor!r}")
        if self.daylight and self.sensor == "visible":
            raise ValueError("daylight lightness is learnt from a night sensor's pairs: give a sensor")
        if self.crop % 32:
            raise ValueError(f"crop must be a multiple of 32, got {self.crop}")


def state_path(out: str | Path) -> Path:
    """Where the resumable training state of ``out`` lives."""
    out = Path(out)
    return out.with_name(out.stem + ".state.pt")


def card_path(out: str | Path) -> Path:
    """The JSON that describes the weights ``out``: architecture, training, evaluation."""
    return Path(out).with_suffix(".json")


def snapshot_path(out: str | Path, minutes: float) -> Path:
    """Where the weights of ``out`` after ``minutes`` of training go: ``runs/long-fast.30min.pt``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.{minutes:g}min{out.suffix}")


def write_snapshot(model: torch.nn.Module, path: Path, step: int, elapsed: float) -> None:
    """The weights as trained so far, in the shipped format, for scoring a long run while it goes on."""
    save_checkpoint(model.eval(), path, info={"training": {"steps": step, "train_minutes": round(elapsed / 60, 2)}})
    model.train()
    log.info("step %d: wrote %s", step, path)


def lab_batch(rgb: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB (B, 3, H, W) -> L* (B, 1, H, W), a*b* (B, 2, H, W), float32 on ``device``."""
    lab = rgb_to_lab(rgb.to(device, non_blocking=True).float() / 255)
    return lab[:, :1], lab[:, 1:]


def pair_batch(pairs: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 sensor grey + RGB (B, 4, H, W) -> the sensor frame's L* as inference sees it (its grey taken as sRGB
    grey), varied as sensors and scenes vary it, and the colour partner's a*b* and L*, float32 on ``device``."""
    pairs = pairs.to(device, non_blocking=True).float()
    grey, rgb = pairs[:, :1], pairs[:, 1:]
    shape = (grey.shape[0], 1, 1, 1)
    gain = torch.empty(shape, device=device).uniform_(*SENSOR_GAIN)  # contrast about the frame's mean, and level
    mean = grey.mean(dim=(2, 3), keepdim=True)
    grey = (grey - mean) * gain + mean + torch.empty(shape, device=device).uniform_(-SENSOR_OFFSET, SENSOR_OFFSET)
    grey = grey + torch.randn_like(grey) * torch.empty(shape, device=device).uniform_(0, SENSOR_NOISE)
    truth = rgb_to_lab(rgb / 255)
    return grey_to_lightness(grey / 255), truth[:, 1:], truth[:, :1]


def estimate_rebalancing(images: Sequence[Any], mix: float, device: torch.device, seed: int,
                         read: Callable[[Any], torch.Tensor] = read_rgb) -> Rebalancing:  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    picked = [images[int(i)] for i in torch.randperm(len(images), generator=generator)[:PRIOR_IMAGES]]
    loader = DataLoader(RandomCrops(picked, 96, read), batch_size=64, num_workers=0)
    counts = sum(ab_histogram(lab_batch(rgb, device)[1]).cpu() for rgb in loader)
    return Rebalancing.from_histogram(counts, mix=mix)


def build_network(config: TrainConfig) -> MobileUNet:
    """The preset's network on the ImageNet encoder (or on ``init_from``'s weights), the encoder frozen."""
    architecture = replace(PRESETS[config.model].config, ab_bins=config.ab_bins, predict_lightness=config.daylight)
    if config.init_from is None:
        model = MobileUNet(architecture, encoder=load_imagenet_mobilenetv2(config.encoder, in_channels=1))
    else:
        model = MobileUNet(architecture)
        copy_trained_weights(load_model(config.init_from), model)
    model.encoder.requires_grad_(False)
    return model


def copy_trained_weights(trained: torch.nn.Module, model: MobileUNet) -> None:
    """Copy every tensor of ``trained`` into ``model``; only a head of another kind (regression vs bins), or a
    lightness head one of them lacks, is left as initialised or out. Anything else that does not fit is an
    error: a different preset, not a warm start."""
    same_shape = isinstance(trained, MobileUNet) and (trained.config.decoder_widths, trained.config.scene_width) == (
        model.config.decoder_widths, model.config.scene_width)
    if not same_shape:
        raise WeightsError(f"--init-from must be weights of the {model.config.decoder_widths} decoder's preset")
    fresh = ("head.", "ab_prior") if trained.config.ab_bins != model.config.ab_bins else ()
    state = model.state_dict()
    state.update({k: v for k, v in trained.state_dict().items() if not k.startswith(fresh) and k in state})
    model.load_state_dict(state, strict=True)


def deep_encoder_parameters(model: MobileUNet) -> list[torch.nn.Parameter]:
    """The stride-32 stage (the blocks after the stride-16 tap) and the 1280-d layer: what fine-tuning frees."""
    blocks = model.encoder.blocks[TAP_BLOCKS[3] + 1 :]
    return [p for module in (*blocks, model.encoder.last) for p in module.parameters()]


def fix_malloc_mmap_threshold() -> None:
    """Pin glibc's mmap threshold, so the step's largest tensors are returned to the system when freed.

    By default glibc raises the threshold after each large free, up to 32 MiB; the bins head's 30-MiB tensors
    then come from the heap, whose fragmentation grew a CPU training run by about 1 GiB a minute until the
    kernel killed it (21 GiB, twice). Pinned at 16 MiB, the same run stays near 0.5 GiB, but steps run slower
    (every such tensor is a fresh mapping: on this project's VM half a step's CPU time went to the kernel), so
    only the bins head asks for it. Keeping large blocks in glibc's heap instead (a 1 GiB threshold, no trimming)
    grew runs to 13 and 23 GiB within minutes. jemalloc without purging (``LD_PRELOAD=libjemalloc.so.2
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1``) keeps them flat (0.8 and 1.2 GiB) at twice the step
    rate, no system time: vidcolor/train/README.md gives the command. Under jemalloc this call changes nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(M_MMAP_THRESHOLD, 16 << 20)


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to zero at ``progress`` = 1."""
    warm = min(1.0, (step + 1) / WARMUP_STEPS)
    return config.lr * warm * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(
    config: TrainConfig, *, resume: bool = False, progress_bar: bool = True, command: str | None = None
) -> dict[str, Any]:
    """Train; write the fp16 weights to ``config.out`` and their JSON card beside; return the summary.

    ``command`` is recorded in the card, so the weights say how they were made.
    """
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(config.seed)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    torch.set_flush_denormal(True)  # tiny activations otherwise slow CPU convolutions several-fold
    if config.ab_bins:
        fix_malloc_mmap_threshold()
    paired = config.sensor != "visible"
    packs = [] if paired else list_packs(config.data)
    if packs:  # photos packed small (pack.py): the datasets' items are their indices
        packed = PackedPhotos(packs)
        images, names, read = range(len(packed)), packed.names, packed.read
        colour_images, read_colour = images, read
    else:
        images = list_pairs(config.data) if paired else list_images(config.data)
        names, read = images, read_pair if paired else read_rgb
        colour_images, read_colour = ([rgb_partner(image) for image in images] if paired else images), read_rgb
    data = {"photos": len(images), **pack_settings(config.data, packs)}
    log.info("training on %d %s in %s", len(images), f"photos in {len(packs)} packs" if packs else "images",
             config.data)  # fmt: skip
    model = build_network(config).to(device)
    if device.type == "cuda":  # tensor-core friendly layout; fixed crop size, so cuDNN may pick its fastest kernels
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    deep_encoder = deep_encoder_parameters(model)
    decoder = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": decoder, "scale": 1.0}, {"params": deep_encoder, "scale": config.finetune_lr_scale}],
        lr=config.lr, weight_decay=config.weight_decay,
    )  # fmt: skip
    step, elapsed, rebalancing = 0, 0.0, None
    saved = state_path(config.out)
    if resume and saved.is_file():
        state = torch.load(saved, map_location=device, weights_only=True)
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        if state["rebalance_weights"] is not None:
            rebalancing = Rebalancing(state["rebalance_prior"], state["rebalance_weights"])
        log.info("resumed %s at step %d (%.1f min trained)", saved, step, elapsed / 60)
    elif config.rebalance_mix is not None or config.ab_bins:
        # the bins head keeps the data's a*b* prior for rendering, whether or not the loss is rebalanced
        estimated = estimate_rebalancing(colour_images, config.rebalance_mix or 1.0, device, config.seed, read_colour)
        if config.ab_bins:
            model.ab_prior.copy_(estimated.prior.float())
        rebalancing = estimated if config.rebalance_mix is not None else None

    sampler = None
    if config.source_cap is not None:
        weights = source_balanced_weights(names, config.source_cap)
        sampler = WeightedRandomSampler(weights, num_samples=round(float(weights.sum())), replacement=False)
    loader = DataLoader(
        RandomCrops(images, config.crop, read), batch_size=config.batch,
        shuffle=sampler is None, sampler=sampler,
        drop_last=True,
        num_workers=config.workers, pin_memory=device.type == "cuda", persistent_workers=config.workers > 0,
    )  # fmt: skip
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    budget = config.steps if config.steps is not None else config.minutes * 60

    def fraction_done() -> float:
        return step / budget if config.steps is not None else elapsed / budget

    def unfreeze_when_due() -> None:
        if (
            config.finetune_from is not None
            and fraction_done() >= config.finetune_from
            and not deep_encoder[0].requires_grad
        ):
            for p in deep_encoder:
                p.requires_grad_(True)
            log.info("step %d: fine-tuning the deepest encoder stage from here", step)

    def save_state() -> None:
        torch.save({
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "elapsed": elapsed,
            "config": asdict(config),
            "rebalance_prior": rebalancing.prior if rebalancing else None,
            "rebalance_weights": rebalancing.weights if rebalancing else None,
        }, saved)  # fmt: skip

    model.train()
    losses: list[torch.Tensor] = []  # kept on the device: reading each one back would stall the GPU every step
    bar = tqdm(total=config.steps, unit="step", disable=not progress_bar, initial=step if config.steps else 0)
    last_save, images_seen, elapsed_before = time.monotonic(), 0, elapsed
    snapshots_taken = int(elapsed // (config.snapshot_minutes * 60)) if config.snapshot_minutes else 0
    with TrainingClock(elapsed) as clock:
        while fraction_done() < 1.0:
            for crops in loader:
                if paired:
                    lightness, ab, truth_lightness = pair_batch(crops, device)
                else:
                    (lightness, ab), truth_lightness = lab_batch(crops, device), None
                unfreeze_when_due()
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, step, fraction_done()) * group["scale"]
                with autocast:
                    predicted, daylight = model.head_output(lightness)  # at the output stride
                # The losses are taken at the heads' resolution, against the truth averaged down to it.
                size = predicted.shape[-2:]
                target = torch.nn.functional.interpolate(ab, size=size, mode="area")
                loss = colour_loss(predicted.float(), target, rebalancing)
                if daylight is not None:
                    truth = torch.nn.functional.interpolate(truth_lightness, size=size, mode="area")
                    loss = loss + lightness_loss(daylight.float(), truth)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                images_seen += crops.shape[0]
                elapsed = clock.tick()  # wall clock, data loading included, pauses (kill -STOP) not
                losses.append(loss.detach())
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(loss=f"{_mean(losses[-50:]):.3f}",
                                    img_s=f"{images_seen / max(elapsed - elapsed_before, 1e-9):.0f}")  # fmt: skip
                if time.monotonic() - last_save > config.checkpoint_minutes * 60:
                    save_state()
                    last_save = time.monotonic()
                if config.snapshot_minutes and elapsed >= (snapshots_taken + 1) * config.snapshot_minutes * 60:
                    snapshots_taken = int(elapsed // (config.snapshot_minutes * 60))
                    minutes = snapshots_taken * config.snapshot_minutes
                    write_snapshot(model, snapshot_path(config.out, minutes), step, elapsed)
                if fraction_done() >= 1.0:
                    break
    bar.close()
    save_state()
    summary = {
        "steps": step, "images_seen_total": step * config.batch, "train_minutes": round(elapsed / 60, 2),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "loss_first_10": _mean(losses[:10]), "loss_last_100": _mean(losses[-100:]),
        "data": data, "config": asdict(config), "command": command,
    }  # fmt: skip
    save_checkpoint(model.eval(), config.out, info={"training": summary})
    card = {
        "architecture": f"MobileUNet {asdict(model.config)} on MobileNetV2 1.0 (ImageNet, {Path(config.encoder).name})",
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights": f"{Path(config.out).name}, float16 state dict, load with weights_only=True",
        "training": summary,
    }  # fmt: skip
    card_path(config.out).write_text(json.dumps(card, indent=2) + "\n")
    return summary


def pack_settings(folder: str, packs: list[Path]) -> dict[str, Any]:
    """For the card: which packs were read and how their photos were packed (none: a folder of images)."""
    if not packs:
        return {}
    index = read_index(folder) or {}
    return {"packs": [p.name for p in packs],
            **{k: index[k] for k in ("side", "aspect", "format", "quality", "source") if k in index}}  # fmt: skip


def _mean(values: list[torch.Tensor]) -> float:
    return torch.stack(values).mean().item() if values else float("nan")
