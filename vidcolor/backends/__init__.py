"""Inference backends behind one interface, and the choice between them."""

from __future__ import annotations

import logging
from typing import Literal

import torch
from torch import nn

from ..errors import BackendUnavailable
from .base import Backend
from .pytorch import TorchCPUBackend, TorchCUDABackend

try:
    from .tensorrt import TensorRTBackend
except ImportError:  # the optional extra `vidcolor[tensorrt]` is not installed
    TensorRTBackend = None
try:
    from .onnxruntime_cpu import OnnxRuntimeCPUBackend
except ImportError:  # the optional extra `vidcolor[cpu-fast]` is not installed
    OnnxRuntimeCPUBackend = None

log = logging.getLogger("vidcolor")

BackendName = Literal["auto", "cpu", "onnxruntime", "cuda", "tensorrt"]
BACKEND_NAMES: tuple[str, ...] = ("auto", "cpu", "onnxruntime", "cuda", "tensorrt")


def available_backends() -> list[str]:
    """The backends this machine can run, fastest last."""
    names = ["cpu"] + (["onnxruntime"] if OnnxRuntimeCPUBackend is not None else [])
    if torch.cuda.is_available():
        names.append("cuda")
        if TensorRTBackend is not None:
            names.append("tensorrt")
    return names


def check_backend(name: str) -> None:
    """Raise BackendUnavailable if this machine cannot run backend ``name`` (before any weights are loaded)."""
    if name not in BACKEND_NAMES:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if name == "tensorrt" and TensorRTBackend is None:
        raise BackendUnavailable(
            "backend tensorrt: the tensorrt package is not installed (pip install 'vidcolor[tensorrt]')"
        )
    if name == "onnxruntime" and OnnxRuntimeCPUBackend is None:
        raise BackendUnavailable(
            "backend onnxruntime: the onnxruntime package is not installed (pip install 'vidcolor[cpu-fast]')"
        )
    if name in ("cuda", "tensorrt") and not torch.cuda.is_available():
        raise BackendUnavailable(f"backend {name}: no CUDA GPU is visible to PyTorch")


def create_backend(name: BackendName, model: nn.Module) -> Backend:
    """Build the named backend; ``auto`` takes TensorRT, then CUDA, then CPU — the first this machine can run."""
    check_backend(name)
    if name == "cpu":
        return TorchCPUBackend(model)
    if name == "onnxruntime":
        return OnnxRuntimeCPUBackend(model)
    cuda_ok = torch.cuda.is_available()
    if name == "tensorrt":
        return TensorRTBackend(model)
    if name == "auto" and not cuda_ok:
        return TorchCPUBackend(model)
    if name == "auto" and TensorRTBackend is not None:
        try:
            return TensorRTBackend(model)
        except BackendUnavailable as exc:
            log.warning("tensorrt unavailable (%s); using cuda", exc)
    return TorchCUDABackend(model)


__all__ = ["BACKEND_NAMES", "Backend", "BackendName", "available_backends", "check_backend", "create_backend"]
