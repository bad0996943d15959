"""PyTorch backends: CPU (float32) and CUDA (float16)."""

from __future__ import annotations

import os

import torch

from ..model import ColorizerNet
from .base import Backend


class TorchCPUBackend(Backend):
    NAME = "cpu"

    def __init__(self, model: ColorizerNet) -> None:
        # Leave a core to the decoder and encoder threads: with every core taken, OpenMP's spinning
        # workers and the codec threads starve each other (10-40x slowdowns seen on 2 cores).
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
        self.device = torch.device("cpu")
        self.model = model.eval().to(self.device)

    @torch.inference_mode()
    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.model(lightness)

    def describe(self) -> str:
        return f"cpu (PyTorch {torch.__version__}, {torch.get_num_threads()} threads, float32)"


class TorchCUDABackend(Backend):
    NAME = "cuda"

    def __init__(self, model: ColorizerNet) -> None:
        self.device = torch.device("cuda")
        self.model = model.eval().to(self.device, dtype=torch.float16, memory_format=torch.channels_last)

    @torch.inference_mode()
    def infer(self, lightness: torch.Tensor) -> torch.Tensor:
        x = lightness.to(torch.float16).contiguous(memory_format=torch.channels_last)
        return self.model(x).float()

    def describe(self) -> str:
        return f"cuda ({torch.cuda.get_device_name(self.device)}, PyTorch {torch.__version__}, float16)"
