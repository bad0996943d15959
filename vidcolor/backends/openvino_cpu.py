"""OpenVINO backend for the CPU: the ONNX export (cached beside TensorRT engines) compiled by OpenVINO for this
CPU's vector units, on all cores but one. Importing this module fails where ``openvino`` (the ``openvino`` extra)
is absent; ``vidcolor.backends`` treats that as "not available"."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .artifacts import default_engine_dir
from .base import Backend, cpu_model_threads
from .onnx_export import cached_onnx

if importlib.util.find_spec("openvino") is None:
    raise ImportError("openvino is not installed")


class OpenVINOCPUBackend(Backend):
    NAME = "openvino"

    def __init__(self, model: nn.Module, *, cache_dir: Path | None = None, threads: int | None = None) -> None:
        self.device = torch.device("cpu")
        self.threads = threads or cpu_model_threads()
        # float32 as the other CPU backends: left to itself OpenVINO runs bfloat16 where the CPU has it (a*b* off
        # by up to 1.8), a choice that would need its own quality check
        config = {"INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "f32"}  # fmt: skip
        import openvino as ov  # here, not above: importing it took 0.26 s of every run's start-up, used or not

        path = cached_onnx(model, cache_dir or default_engine_dir())
        self._version = ov.__version__.split("-")[0]
        self._compiled = ov.Core().compile_model(str(path), "CPU", config)
        self._request = self._compiled.create_infer_request()

    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        self._request.infer({0: np.ascontiguousarray(lightness.numpy(), dtype=np.float32)})
        return torch.from_numpy(self._request.get_output_tensor(0).data.copy())  # the next call reuses its buffer

    def describe(self) -> str:
        return f"openvino (CPU, OpenVINO {self._version}, {self.threads} threads, float32)"
