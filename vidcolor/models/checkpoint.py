"""Saving and loading colorizer weights: fp16 state dict plus the architecture and config that rebuild it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import WeightsError, first_line
from .mobile_unet import MobileUNet, MobileUNetConfig
from .resnet_unet import ColorizerNet, ModelConfig

FORMAT = "vidcolor-colorizer/2"
FORMAT_V1 = "vidcolor-colorizer/1"  # before architectures were named: always the ResNet U-Net

# Architecture name -> (network class, its config class). The name is stored in every checkpoint.
ARCHITECTURES: dict[str, tuple[type[nn.Module], type]] = {
    "mobilenetv2-unet": (MobileUNet, MobileUNetConfig),
    "resnet-unet": (ColorizerNet, ModelConfig),
}


def architecture_of(model: nn.Module) -> str:
    for name, (network, _) in ARCHITECTURES.items():
        if type(model) is network:
            return name
    raise TypeError(f"not a colorizer network: {type(model).__name__}")


def build_model(architecture: str, config: dict[str, Any]) -> nn.Module:
    """A fresh network from an architecture name and its config as stored in JSON (lists for tuples)."""
    network, config_class = ARCHITECTURES[architecture]
    return network(config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}))


def config_dict(model: nn.Module) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()}


def save_checkpoint(model: nn.Module, path: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write the model as fp16 weights with its architecture and config, loadable with ``weights_only=True``."""
    state = {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "architecture": architecture_of(model), "config": config_dict(model),
                "state_dict": state, "info": info or {}}, path)  # fmt: skip


def load_model(path: str | Path) -> nn.Module:
    """Rebuild the network from a checkpoint, in eval mode, float32."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise WeightsError(f"cannot read weights {path}: not a loadable PyTorch checkpoint") from exc
    fmt = checkpoint.get("format") if isinstance(checkpoint, dict) else None
    if fmt not in (FORMAT, FORMAT_V1):
        raise WeightsError(f"{path} is not a vidcolor checkpoint (expected format {FORMAT})")
    architecture = checkpoint.get("architecture", "resnet-unet")
    if architecture not in ARCHITECTURES:
        raise WeightsError(f"{path}: unknown architecture {architecture!r} (a newer vidcolor's checkpoint?)")
    model = build_model(architecture, checkpoint["config"])
    state = checkpoint["state_dict"]
    if "base" in checkpoint:  # only what differs from the base checkpoint beside it (``rebase``); of the base,
        # what this network has (the base may have grown: fast's hint attention, which the night models lack)
        wanted = model.state_dict()
        base = load_model(path.with_name(checkpoint["base"])).state_dict()
        state = {**{k: v for k, v in base.items() if k in wanted}, **state}
    try:
        model.load_state_dict(state, strict=True)  # copies fp16 into the fp32 parameters
    except RuntimeError as exc:
        raise WeightsError(f"{path}: weights do not fit their stated architecture ({first_line(exc)[:80]})") from exc
    return model.eval()


def rebase(path: str | Path, base: str | Path, out: str | Path) -> None:
    """Copy the checkpoint ``path`` to ``out`` keeping only the tensors that differ from ``base``'s, which must then
    lie beside ``out`` under its own name: a model fine-tuned with a frozen encoder (the night-vision ones) ships
    as its decoder, a third of its size."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    shared = torch.load(base, map_location="cpu", weights_only=True)["state_dict"]
    checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items()
                                if k not in shared or not torch.equal(shared[k], v)}  # fmt: skip
    checkpoint["base"] = Path(base).name
    torch.save(checkpoint, out)


def set_rendering(path: str | Path, out: str | Path, *, temperature: float, boost: float, chroma: float,
                  gate: float = 0.0, gate_width: float = 1.0, frame_gate: float = 0.0,
                  gate_lift: float = 1.0) -> None:  # fmt: skip
    """Copy the bins-head checkpoint ``path`` to ``out`` with another rendering of its a*b* distribution (the
    annealed mean's temperature, the prior's boost, the chroma restored, the confidence gate's entropies: 0 off;
    the colour gate's lift, where it has one): the weights are untouched, only how they are read
    (vidcolor/models/ab_bins.py, colour_gate.py)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not checkpoint.get("config", {}).get("ab_bins"):
        raise WeightsError(f"{path} has no bins head: its rendering cannot be set")
    checkpoint["config"] = {**checkpoint["config"], "render_temperature": temperature, "render_boost": boost,
                            "render_chroma": chroma, "render_gate": gate, "render_gate_width": gate_width,
                            "render_frame_gate": frame_gate, "render_gate_lift": gate_lift}  # fmt: skip
    torch.save(checkpoint, out)
