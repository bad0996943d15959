"""onnxruntime backend for the CPU: the ONNX export (cached beside TensorRT engines), run by onnxruntime's CPU
provider on all cores but one. Importing this module fails where ``onnxruntime`` (the ``cpu-fast`` extra) is
absent; ``vidcolor.backends`` treats that as "not available"."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from .artifacts import default_engine_dir
from .base import Backend, cpu_model_threads
from .hinted_graph import HintedGraph
from .onnx_export import INPUT_NAME, OUTPUT_NAME, cached_onnx


class OnnxRuntimeCPUBackend(Backend):
    NAME = "onnxruntime"

    def __init__(self, model: nn.Module, *, cache_dir: Path | None = None, graph: Path | None = None,
                 threads: int | None = None) -> None:  # fmt: skip
        """Runs ``graph`` (an ONNX file, e.g. the int8 one) where given, else ``model``'s cached export, on
        ``threads`` threads (default: all cores but one)."""
        self.device = torch.device("cpu")
        options = ort.SessionOptions()
        # idle workers sleep instead of spinning beside them
        options.intra_op_num_threads = threads or cpu_model_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = graph or cached_onnx(model, cache_dir or default_engine_dir())
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.threads, self.precision = options.intra_op_num_threads, "int8" if graph else "float32"
        self._model, self._path, self._options = model, path, options

    @functools.cached_property
    def _hinted(self) -> HintedGraph | None:
        """Made at the first hinted frame: its graph editing and second session took 0.1-0.7 s of every run's
        start-up, and most runs have no hints."""
        return HintedGraph.of(self._model, self._path, self._options)

    @property
    def takes_hints(self) -> bool:
        return self._hinted is not None

    def infer_with_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._hinted is None:
            return super().infer_with_features(lightness)
        return self._hinted.run(lightness)

    def follow_hints(self, lightness: torch.Tensor, hints: torch.Tensor, out: torch.Tensor,
                     features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        if self._hinted is None:
            return super().follow_hints(lightness, hints, out, features)
        return self._hinted.follow(lightness, hints, out, features)

    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        feed = {INPUT_NAME: np.ascontiguousarray(lightness.numpy(), dtype=np.float32)}
        return torch.from_numpy(self.session.run([OUTPUT_NAME], feed)[0])

    def describe(self) -> str:
        return f"onnxruntime (CPU, onnxruntime {ort.__version__}, {self.threads} threads, {self.precision})"
