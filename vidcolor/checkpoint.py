"""Saving and loading colorizer weights: fp16 state dict plus the config that rebuilds the network."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from .errors import WeightsError, first_line
from .model import ColorizerNet, ModelConfig

FORMAT = "vidcolor-colorizer/1"
SHIPPED_WEIGHTS = Path(__file__).parent / "weights" / "colorizer.pt"


def save_checkpoint(model: ColorizerNet, path: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write the model as fp16 weights with its config, loadable with ``weights_only=True``."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()}
    state = {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "config": config, "state_dict": state, "info": info or {}}, path)


def load_model(path: str | Path | None = None) -> ColorizerNet:
    """Rebuild the network from a checkpoint (the shipped weights by default), in eval mode, float32."""
    path = Path(path) if path is not None else SHIPPED_WEIGHTS
    if not path.is_file():
        if path == SHIPPED_WEIGHTS:
            raise WeightsError(
                f"no trained weights are installed ({path} is missing); "
                "train them with the training code or pass --weights PATH"
            )
        raise WeightsError(f"weights file not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        reason = first_line(exc)[:80]
        raise WeightsError(f"cannot read weights {path}: not a loadable PyTorch checkpoint ({reason})") from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a vidcolor checkpoint (expected format {FORMAT})")
    config = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in checkpoint["config"].items()})
    model = ColorizerNet(config)
    model.load_state_dict(checkpoint["state_dict"], strict=True)  # copies fp16 into the fp32 parameters
    return model.eval()
