"""ONNX export of the colorizer: dynamic batch and picture size, float32 in and out.

``precision="fp16"`` bakes half precision into the graph (weights and activations) with float32 I/O, which is
what a strongly typed TensorRT build needs: TensorRT 11 dropped the FP16 builder flag, and on 10.12+ strong
typing is the recommended mode. The same graph runs on onnxruntime, which is how the export is checked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.export import Dim

from ..models import SIZE_MULTIPLE
from .artifacts import weights_digest

log = logging.getLogger("vidcolor")

Precision = Literal["fp32", "fp16"]
INPUT_NAME, OUTPUT_NAME = "lightness", "ab"
OPSET = 18
MAX_BATCH = 64


class _FixedPrecision(nn.Module):
    """Runs the network in ``dtype`` behind float32 input and output."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model.to(dtype), dtype

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.model(lightness.to(self.dtype)).float()


def export_onnx(model: nn.Module, path: str | Path, *, precision: Precision = "fp32") -> Path:
    """Write ``model`` (a copy of it, in eval mode) as ONNX with dynamic batch, height and width."""
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
    copy = deepcopy(model)
    wrapped = _FixedPrecision(copy, torch.float16 if precision == "fp16" else torch.float32).eval()
    example = torch.rand(1, 1, 4 * SIZE_MULTIPLE, 7 * SIZE_MULTIPLE) * 100
    dynamic = {INPUT_NAME: {0: Dim("batch", min=1, max=MAX_BATCH), 2: Dim.AUTO, 3: Dim.AUTO}}
    path = Path(path)
    with torch.no_grad():
        torch.onnx.export(
            wrapped, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic, opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
        )  # fmt: skip
    return path


def bins_head_index(nodes: Sequence) -> int | None:
    """Where a bins head's convolution stands in an exported graph's nodes (``onnx.NodeProto``s, float or
    quantized): a convolution that an exponential reads through no other convolution (the annealed mean's) and
    that does not read averaged features (the gates' entropy reads the head's input averaged over 4x4 places);
    None where the graph has no exponential (a regression head). By the graph's wiring, not its order: the exporter
    may put the gates' entropy first."""
    source = _sources(nodes)
    heads, seen = set(), set()
    stack = [name for node in nodes if node.op_type == "Exp" for name in node.input]
    while stack:
        index = source(stack.pop())
        if index is None or index in seen:
            continue
        seen.add(index)
        if nodes[index].op_type != "Conv":
            stack.extend(nodes[index].input)
        elif not _reads_pooled(nodes, index, source):
            heads.add(index)
    return min(heads, default=None)


def pooled_conv_indices(nodes: Sequence) -> list[int]:
    """Where the convolutions that read averaged features stand (the gates' entropy: ``colour_gate.pooled_entropy``)."""
    source = _sources(nodes)
    return [i for i, node in enumerate(nodes) if node.op_type == "Conv" and _reads_pooled(nodes, i, source)]


def _sources(nodes: Sequence) -> Callable[[str], int | None]:
    """A tensor's name -> the index of the node that makes it, quantization passed through (None: an input)."""
    producer = {output: i for i, node in enumerate(nodes) for output in node.output}

    def source(name: str) -> int | None:
        index = producer.get(name)
        while index is not None and nodes[index].op_type in ("QuantizeLinear", "DequantizeLinear"):
            index = producer.get(nodes[index].input[0])
        return index

    return source


def _reads_pooled(nodes: Sequence, conv: int, source: Callable[[str], int | None]) -> bool:
    made_by = source(nodes[conv].input[0])
    return made_by is not None and nodes[made_by].op_type == "AveragePool"


def onnx_path(model: nn.Module, folder: Path) -> Path:
    return folder / f"colorizer-{weights_digest(model)}-fp32.onnx"


def cached_onnx(model: nn.Module, folder: Path) -> Path:
    """The model's fp32 ONNX graph, exported once per weights (export takes seconds; loading it, milliseconds)."""
    path = onnx_path(model, folder)
    if not path.is_file():
        log.info("exporting the model to ONNX for onnxruntime: %s (once per weights)", path.name)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch, _exporter_quiet():
            os.replace(export_onnx(model, Path(scratch) / path.name), path)  # whole or not at all
    return path


@contextlib.contextmanager
def _exporter_quiet() -> Iterator[None]:
    """The exporter's notes (ops it skips, passes it ran, deprecations) mean nothing to a user: keep them off
    stderr, where the command line's own notices go."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnx_ir", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
