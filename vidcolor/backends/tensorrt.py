"""TensorRT backend: ONNX export -> strongly typed fp16 engine, cached on disk -> ``execute_async_v3``.

Torch owns the one CUDA context and all memory: the engine's input and output are torch CUDA tensors bound with
``set_tensor_address``, and it runs on torch's current stream. Importing this module fails where the
``tensorrt`` package is absent; ``vidcolor.backends`` treats that as "not available".
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tensorrt as trt
import torch
from torch import nn

from ..errors import BackendUnavailable
from ..models import SIZE_MULTIPLE
from .artifacts import default_engine_dir, weights_digest
from .base import Backend, leave_host_cores_to_codecs
from .onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

log = logging.getLogger("vidcolor")

PRECISION = "fp16"


@dataclass(frozen=True)
class ShapeProfile:
    """The input shapes one engine accepts: batch and sides (multiples of 32) within [min, max]."""

    max_batch: int = 8
    min_side: int = 2 * SIZE_MULTIPLE
    max_side: int = 32 * SIZE_MULTIPLE
    opt_batch: int = 8
    opt_size: tuple[int, int] = (256, 448)  # 16:9 at the default working size

    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        return (
            (1, 1, self.min_side, self.min_side),
            (self.opt_batch, 1, *self.opt_size),
            (self.max_batch, 1, self.max_side, self.max_side),
        )

    def accepts(self, shape: tuple[int, ...]) -> bool:
        batch, _, height, width = shape
        return 1 <= batch <= self.max_batch and all(self.min_side <= s <= self.max_side for s in (height, width))

    def tag(self) -> str:
        height, width = self.opt_size
        return f"b{self.max_batch}-s{self.min_side}-{self.max_side}-opt{self.opt_batch}x{height}x{width}"


def engine_path(model: nn.Module, profile: ShapeProfile, engine_dir: Path) -> Path:
    """One engine per GPU model, TensorRT version, precision, shape profile — and weights."""
    gpu = torch.cuda.get_device_name().replace(" ", "_").replace("/", "_")
    name = f"colorizer-{gpu}-trt{trt.__version__}-{PRECISION}-{profile.tag()}-{weights_digest(model)}.engine"
    return engine_dir / name


def build_engine(model: nn.Module, profile: ShapeProfile, path: Path, logger: trt.ILogger) -> None:
    """Export ONNX with fp16 inside, build a strongly typed engine for ``profile``, write it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        onnx_bytes = export_onnx(model, Path(scratch) / "colorizer.onnx", precision=PRECISION).read_bytes()
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        raise BackendUnavailable(f"TensorRT could not parse the ONNX export: {parser.get_error(0)}")
    config = builder.create_builder_config()
    optimization = builder.create_optimization_profile()
    optimization.set_shape(INPUT_NAME, *profile.shapes())
    config.add_optimization_profile(optimization)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailable("TensorRT failed to build an engine (see its log above)")
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    partial.write_bytes(bytes(serialized))
    os.replace(partial, path)


class TensorRTBackend(Backend):
    NAME = "tensorrt"

    def __init__(
        self, model: nn.Module, *, profile: ShapeProfile = ShapeProfile(), engine_dir: Path | None = None
    ) -> None:
        if not torch.cuda.is_available():
            raise BackendUnavailable("backend tensorrt: no CUDA GPU is visible to PyTorch")
        self.device = torch.device("cuda")
        torch.cuda.init()  # torch creates the context that TensorRT then uses
        leave_host_cores_to_codecs()
        self.profile = profile
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.engine_file = engine_path(model, profile, engine_dir or default_engine_dir())
        if not self.engine_file.is_file():
            log.info("building TensorRT engine %s (once per GPU, TensorRT version and weights)", self.engine_file.name)
            build_engine(model, profile, self.engine_file, self._logger)
        engine = trt.Runtime(self._logger).deserialize_cuda_engine(self.engine_file.read_bytes())
        if engine is None:
            raise BackendUnavailable(f"cannot load TensorRT engine {self.engine_file}; delete it to rebuild")
        self._engine = engine
        self._context = engine.create_execution_context()

    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        shape = tuple(lightness.shape)
        if not self.profile.accepts(shape):
            raise ValueError(f"input {shape} is outside the engine's profile ({self.profile.tag()})")
        source = lightness.to(self.device, torch.float32).contiguous()
        self._context.set_input_shape(INPUT_NAME, shape)
        # a*b*, or a*b* and daylight L*: the engine says how many planes for this input
        out = torch.empty(tuple(self._context.get_tensor_shape(OUTPUT_NAME)), device=self.device, dtype=torch.float32)
        self._context.set_tensor_address(INPUT_NAME, source.data_ptr())
        self._context.set_tensor_address(OUTPUT_NAME, out.data_ptr())
        if not self._context.execute_async_v3(torch.cuda.current_stream(self.device).cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        return out

    def describe(self) -> str:
        return f"tensorrt ({torch.cuda.get_device_name(self.device)}, TensorRT {trt.__version__}, {PRECISION})"
