"""Inference backends behind one interface, and the choice between them."""

from __future__ import annotations

from typing import Literal

import torch

from ..errors import BackendUnavailable
from ..model import ColorizerNet
from .base import Backend
from .pytorch import TorchCPUBackend, TorchCUDABackend

BackendName = Literal["auto", "cpu", "cuda"]
BACKEND_NAMES: tuple[str, ...] = ("auto", "cpu", "cuda")


def create_backend(name: BackendName, model: ColorizerNet) -> Backend:
    """Build the named backend; ``auto`` takes the fastest one this machine can run."""
    if name not in BACKEND_NAMES:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    cuda_ok = torch.cuda.is_available()
    if name == "cuda" and not cuda_ok:
        raise BackendUnavailable("backend cuda: no CUDA GPU is visible to PyTorch")
    if name == "cuda" or (name == "auto" and cuda_ok):
        return TorchCUDABackend(model)
    return TorchCPUBackend(model)


__all__ = ["BACKEND_NAMES", "Backend", "BackendName", "create_backend"]
