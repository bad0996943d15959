"""PyTorch backends: CPU (float32) and CUDA (float16)."""

from __future__ import annotations

import torch
from torch import nn

from .base import Backend, cpu_model_threads, leave_host_cores_to_codecs


def cpu_inference_model(model: nn.Module) -> nn.Module:
    """The model as the CPU backend runs it: eval mode, float32, channels-last.

    oneDNN's depthwise and 1x1 convolutions run faster on NHWC: the fast preset at 256x448 took 50 instead of
    54 ms on one thread and 33 instead of 40 ms on two (AMD EPYC, avx512f).
    """
    return model.eval().to("cpu", torch.float32, memory_format=torch.channels_last)


class TorchCPUBackend(Backend):
    NAME = "cpu"

    def __init__(self, model: nn.Module, *, threads: int | None = None) -> None:
        torch.set_num_threads(threads or cpu_model_threads())
        # Tiny activations would otherwise take the CPU's slow denormal path (seen: 10-20x per frame).
        torch.set_flush_denormal(True)
        self.device = torch.device("cpu")
        self.model = cpu_inference_model(model)

    @torch.inference_mode()
    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.model(lightness.contiguous(memory_format=torch.channels_last)).contiguous()

    @property
    def takes_hints(self) -> bool:
        return True

    @torch.inference_mode()
    def infer_with_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, features = self.model.forward_with_features(lightness.contiguous(memory_format=torch.channels_last))
        return out.contiguous(), features

    @torch.inference_mode()
    def follow_hints(self, lightness: torch.Tensor, hints: torch.Tensor, out: torch.Tensor,
                     features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        planes, confidence = self.model.with_hints(features, lightness, hints, out)
        return planes.contiguous(), confidence

    def describe(self) -> str:
        return f"cpu (PyTorch {torch.__version__}, {torch.get_num_threads()} threads, float32, channels-last)"


class TorchCUDABackend(Backend):
    """fp16, channels-last; each input shape is captured once as a CUDA graph and replayed after."""

    NAME = "cuda"
    WARMUP_RUNS = 3  # cuDNN picks its kernels before capture

    def __init__(self, model: nn.Module, *, graphs: bool = True) -> None:
        self.device = torch.device("cuda")
        leave_host_cores_to_codecs()
        self.model = model.eval().to(self.device, dtype=torch.float16, memory_format=torch.channels_last)
        self.graphs = graphs
        self._captured: dict[tuple[int, ...], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def _forward(self, lightness: torch.Tensor) -> torch.Tensor:
        x = lightness.to(torch.float16).contiguous(memory_format=torch.channels_last)
        return self.model(x).float()

    def _capture(self, example: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_input = example.clone()
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(self.WARMUP_RUNS):
                self._forward(static_input)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_output = self._forward(static_input)
        return graph, static_input, static_output

    @property
    def takes_hints(self) -> bool:
        return True

    @torch.inference_mode()
    def infer_with_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # no CUDA graph: hinted frames are the exception, and a graph per hint layout would not pay
        x = lightness.to(torch.float16).contiguous(memory_format=torch.channels_last)
        out, features = self.model.forward_with_features(x)
        return out.float(), features

    @torch.inference_mode()
    def follow_hints(self, lightness: torch.Tensor, hints: torch.Tensor, out: torch.Tensor,
                     features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        x, hints = lightness.to(torch.float16), hints.to(torch.float16)
        planes, confidence = self.model.with_hints(features, x, hints, out.to(torch.float16))
        return planes.float(), confidence.float()

    @torch.inference_mode()
    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        if not self.graphs:
            return self._forward(lightness)
        key = tuple(lightness.shape)
        if key not in self._captured:
            self._captured[key] = self._capture(lightness)
        graph, static_input, static_output = self._captured[key]
        static_input.copy_(lightness)
        graph.replay()
        return static_output.clone()  # the next replay overwrites static_output

    def describe(self) -> str:
        graphs = ", CUDA graphs" if self.graphs else ""
        return f"cuda ({torch.cuda.get_device_name(self.device)}, PyTorch {torch.__version__}, float16{graphs})"
