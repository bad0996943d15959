"""Hints on an ONNX graph built without them (the shipped int8 ones): the graph runs as it is, handing out also the
decoder's features, pooled to the hint attention's query grid; the attention (a few thousand weights) runs on them
and on the graph's own automatic a*b* in PyTorch. A hinted frame so costs the int8 network, not the float one.

The features are found by the graph's shape: the bins head's convolution (the last before the annealed mean's
exponential) reads them. A second session hands them out, pooled by an AveragePool node added after them (onnxruntime
pools 32 channels in a third of PyTorch's time, and hands out a quarter of the tensor), so the automatic path keeps
its own graph, fused as before. Editing the graph takes the ``onnx`` package (the ``cpu-fast`` extra); without it, or
for a graph of another shape, hinted frames run on PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from ..models.hint_attention import QUERY_STRIDE
from .onnx_export import INPUT_NAME, OUTPUT_NAME, bins_head_index

QUERY_FEATURES = "hint_query_features"


class HintedGraph:
    def __init__(self, session: ort.InferenceSession, model: nn.Module) -> None:
        self.session, self.model = session, model

    @classmethod
    def of(cls, model: nn.Module, graph: Path, options: ort.SessionOptions) -> HintedGraph | None:
        """The graph ``graph`` of ``model`` with its decoder's features handed out at the query grid, where the model
        takes hints, ``onnx`` imports and the graph has the bins head's shape; else None."""
        if getattr(model, "hints", None) is None:
            return None
        try:
            import onnx
        except ImportError:
            return None
        proto = onnx.load(str(graph))
        nodes = list(proto.graph.node)
        index = bins_head_index(nodes)
        if index is None:
            return None
        head = nodes[index]
        pool = QUERY_STRIDE // model.config.output_stride
        proto.graph.node.append(onnx.helper.make_node("AveragePool", [head.input[0]], [QUERY_FEATURES],
                                                      kernel_shape=[pool, pool], strides=[pool, pool]))  # fmt: skip
        proto.graph.output.append(onnx.ValueInfoProto(name=QUERY_FEATURES))
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return cls(session, model)

    def run(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """L* (B, 1, H, W) -> the graph's output and the decoder's features at the query grid."""
        feed = {INPUT_NAME: np.ascontiguousarray(lightness.numpy(), dtype=np.float32)}
        out, features = (torch.from_numpy(x) for x in self.session.run([OUTPUT_NAME, QUERY_FEATURES], feed))
        return out, features

    @torch.inference_mode()
    def follow(self, lightness: torch.Tensor, hints: torch.Tensor, out: torch.Tensor,
               features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """``run``'s output moved toward hint planes (B, 3, H, W), as the model's own forward, and how far each
        pixel took the hints' colour (B, 1, H, W)."""
        with _one_thread():
            return self.model.with_hints(features, lightness, hints, out)


@contextmanager
def _one_thread() -> Iterator[None]:
    """PyTorch on one thread, denormals flushed, for the attention's few milliseconds: beside onnxruntime's and the
    codecs' threads on a busy 2-core machine its thread pool waited 76 ms a frame for 2 ms of work (one thread:
    2.3 ms), and the exponentials' tiny results would take the slow denormal path."""
    threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
