"""Inference backends behind one interface, and the choice between them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from ..errors import BackendUnavailable, first_line
from .base import Backend
from .pytorch import TorchCPUBackend, TorchCUDABackend

try:
    from .tensorrt import TensorRTBackend
except ImportError:  # the optional extra `vidcolor[tensorrt]` is not installed
    TensorRTBackend = None
try:
    from .openvino_cpu import OpenVINOCPUBackend
except ImportError:  # the optional extra `vidcolor[openvino]` is not installed
    OpenVINOCPUBackend = None
try:
    from .onnxruntime_cpu import OnnxRuntimeCPUBackend
except ImportError:  # a dependency of vidcolor's, yet an install may lack it
    OnnxRuntimeCPUBackend = None

log = logging.getLogger("vidcolor")

BackendName = Literal["auto", "cpu", "onnxruntime", "openvino", "cuda", "tensorrt"]
BACKEND_NAMES: tuple[str, ...] = ("auto", "cpu", "onnxruntime", "openvino", "cuda", "tensorrt")


def available_backends() -> list[str]:
    """The backends this machine can run, fastest last."""
    names = ["cpu"] + (["onnxruntime"] if OnnxRuntimeCPUBackend is not None else [])
    names += ["openvino"] if OpenVINOCPUBackend is not None else []
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
    if install := _install_command(name):
        raise BackendUnavailable(f"backend {name}: the {name} package is not installed ({install})")
    if name in ("cuda", "tensorrt") and not torch.cuda.is_available():
        raise BackendUnavailable(f"backend {name}: no CUDA GPU is visible to PyTorch")


def _install_command(name: str) -> str | None:
    """What installs CPU runtime ``name``, where its package does not import."""
    if name == "onnxruntime" and OnnxRuntimeCPUBackend is None:
        return "pip install onnxruntime"  # a dependency of vidcolor's: something removed it
    if name == "openvino" and OpenVINOCPUBackend is None:
        return "pip install 'vidcolor[openvino]'"
    return None


def runs_int8(name: str) -> bool:
    """Whether backend ``name`` would run an int8 graph here: onnxruntime, named or as ``auto``'s CPU choice."""
    if OnnxRuntimeCPUBackend is None:
        return False
    return name == "onnxruntime" or (name == "auto" and not torch.cuda.is_available())


def create_backend(
    name: BackendName, model: nn.Module, *, int8_graph: Path | None = None, threads: int | None = None
) -> Backend:
    """Build the named backend; ``auto`` takes TensorRT, then CUDA, then the fastest CPU runtime installed — the
    first this machine can run. With ``int8_graph`` (an int8 ONNX file) only onnxruntime will do. ``threads``: a
    CPU backend's model threads (default: all cores but one; a batch worker gets its share of the machine)."""
    check_backend(name)
    if int8_graph is not None:
        if name not in ("auto", "onnxruntime") or OnnxRuntimeCPUBackend is None:
            raise BackendUnavailable("int8 runs on the onnxruntime backend: use --backend onnxruntime (or auto), "
                                     "with onnxruntime installed (pip install onnxruntime)")  # fmt: skip
        return OnnxRuntimeCPUBackend(model, graph=int8_graph, threads=threads)
    if name == "cpu":
        return TorchCPUBackend(model, threads=threads)
    if name == "onnxruntime":
        return OnnxRuntimeCPUBackend(model, threads=threads)
    if name == "openvino":
        return OpenVINOCPUBackend(model, threads=threads)
    cuda_ok = torch.cuda.is_available()
    if name == "tensorrt":
        return TensorRTBackend(model)
    if name == "auto" and not cuda_ok:
        return _fastest_cpu_backend(model, threads)
    if name == "auto" and TensorRTBackend is not None:
        try:
            return TensorRTBackend(model)
        except Exception as exc:  # noqa: BLE001 (whatever stops it starting, auto goes on to the next)
            log.warning("tensorrt could not start (%s): running on cuda", first_line(exc))
    return TorchCUDABackend(model)


def _fastest_cpu_backend(model: nn.Module, threads: int | None) -> Backend:
    """onnxruntime, then OpenVINO, then PyTorch: their order on the fast model (34.8, 32.1 and 17.7 frames/s at
    256x448 on a 2-core EPYC; benchmarks/README.md). One that cannot start (a checkpoint of the user's needs the
    ONNX exporter, an extra) is said in one line, and the next one runs."""
    for runtime in (OnnxRuntimeCPUBackend, OpenVINOCPUBackend):
        if runtime is not None:
            try:
                return runtime(model, threads=threads)
            except Exception as exc:  # noqa: BLE001 (whatever stops it starting, auto goes on to the next)
                log.warning("%s could not start (%s): trying the next CPU runtime", runtime.NAME, first_line(exc))
    return TorchCPUBackend(model, threads=threads)


__all__ = ["BACKEND_NAMES", "Backend", "BackendName", "available_backends", "check_backend", "create_backend",
           "runs_int8"]
