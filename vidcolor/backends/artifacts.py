"""Where compiled forms of the model (TensorRT engines, ONNX graphs) are cached, and the digest that keys them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn


def default_engine_dir() -> Path:
    """The repository's ``engines/`` in a source checkout, else a per-user cache folder."""
    checkout = Path(__file__).resolve().parents[2] / "engines"
    return checkout if checkout.is_dir() else Path.home() / ".cache" / "vidcolor" / "engines"


def weights_digest(model: nn.Module) -> str:
    digest = hashlib.sha256()
    tensors = model.state_dict() | dict(model.named_buffers())  # and what it renders with (a bins head's bins)
    for name, tensor in tensors.items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]
