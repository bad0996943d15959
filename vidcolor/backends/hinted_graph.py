"""Hints on an ONNX graph built without them (the shipped int8 ones): the graph runs as it is, handing out also the
decoder's features and the automatic a*b* before they are brought to full size; the hint attention (a few thousand
weights) runs on them in PyTorch, and the upsampling after. A hinted frame so costs the int8 network, not the
float one.

The two tensors are found by the graph's shape: the bins head's convolution (the last before the annealed mean's
exponential) reads the features, and the final resize reads the coarse a*b*. They are added as outputs of a second
session, so the automatic path keeps its own, fused as before. Editing the graph takes the ``onnx`` package (the
``cpu-fast`` extra); without it, or for a graph of another shape, hinted frames run on PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from .onnx_export import INPUT_NAME, OUTPUT_NAME


class HintedGraph:
    def __init__(self, session: ort.InferenceSession, features: str, coarse: str, model: nn.Module) -> None:
        self.session, self.outputs, self.model = session, [features, coarse], model

    @classmethod
    def of(cls, model: nn.Module, graph: Path, options: ort.SessionOptions) -> HintedGraph | None:
        """The graph ``graph`` of ``model`` with its two tensors handed out, where the model takes hints, ``onnx``
        imports and the graph has the bins head's shape; else None."""
        if getattr(model, "hints", None) is None:
            return None
        try:
            import onnx
        except ImportError:
            return None
        proto = onnx.load(str(graph))
        nodes = list(proto.graph.node)
        first_exp = next((i for i, node in enumerate(nodes) if node.op_type == "Exp"), None)
        head = next((node for node in reversed(nodes[:first_exp or 0]) if node.op_type == "Conv"), None)
        resize = next((node for node in nodes if node.op_type == "Resize" and OUTPUT_NAME in node.output), None)
        if head is None or resize is None:
            return None
        features, coarse = head.input[0], resize.input[0]
        proto.graph.output.extend([onnx.ValueInfoProto(name=features), onnx.ValueInfoProto(name=coarse)])
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return cls(session, features, coarse, model)

    @torch.inference_mode()
    def infer(self, lightness: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        """L* (B, 1, H, W) and hint planes (B, 3, H, W) -> a*b* (B, 2, H, W), as the model's own forward."""
        feed = {INPUT_NAME: np.ascontiguousarray(lightness.numpy(), dtype=np.float32)}
        features, coarse = (torch.from_numpy(out) for out in self.session.run(self.outputs, feed))
        with _one_thread():
            automatic = F.interpolate(coarse, size=lightness.shape[-2:], mode="bilinear", align_corners=False)
            return self.model.follow_hints(features, lightness, hints, automatic)


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
