"""The one interface every inference backend offers."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import ClassVar

import cv2
import torch

# With the model on a GPU the host runs only small tensor ops and the smoother's optical flow, beside the codec
# threads. Thread pools sized to every core starve libx264: on an H100 host (16 cores), 1080p batch 4 reached
# 0.66-0.68x the decode->encode ceiling with the default pools and 0.80x with 2 threads each (benchmarks/README.md).
HOST_THREADS_BESIDE_GPU = 2


def usable_cores() -> int:
    """The cores this process may run on, where the OS says (a container or taskset may allow fewer)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def cpu_model_threads() -> int:
    """Threads for a model on the CPU: all cores but one. With every core taken, the runtime's workers and the
    decoder and encoder threads starve each other (10-40x slowdowns seen on 2 cores). Batch workers sharing a
    machine pass their share to the backend instead."""
    return max(1, usable_cores() - 1)


def leave_host_cores_to_codecs() -> None:
    """Size PyTorch's and OpenCV's CPU thread pools for a process whose model runs on a GPU."""
    torch.set_num_threads(HOST_THREADS_BESIDE_GPU)
    cv2.setNumThreads(HOST_THREADS_BESIDE_GPU)


class Backend(ABC):
    """Runs the colorizer: L* (B, 1, H, W) float32 in [0, 100] -> a*b* (B, 2, H, W) float32, and daylight L* after
    it (B, 3, H, W) for a model that predicts lightness.

    Inputs and outputs live on ``device``; H and W are multiples of the model's size multiple.
    """

    NAME: ClassVar[str]
    device: torch.device

    @abstractmethod
    def infer(self, lightness: torch.Tensor) -> torch.Tensor: ...

    @property
    def takes_hints(self) -> bool:
        """Whether hinted frames run here (a graph built without what hints need cannot)."""
        return False

    def infer_with_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``infer``, and the decoder's features that ``follow_hints`` needs, where ``takes_hints``."""
        raise NotImplementedError(f"backend {self.NAME} runs a graph without hint inputs")

    def follow_hints(self, lightness: torch.Tensor, hints: torch.Tensor, out: torch.Tensor,
                     features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """``infer_with_features``'s output moved toward hint planes (B, 3, H, W): a*b* and a mask
        (``models/hint_attention.py``), and how far each pixel took the hints' colour (B, 1, H, W, 0..1). Apart
        from the network, so a pipeline can run it on another thread."""
        raise NotImplementedError(f"backend {self.NAME} runs a graph without hint inputs")

    def infer_hinted(self, lightness: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        """``infer`` with hint planes: the two steps above at once."""
        return self.follow_hints(lightness, hints, *self.infer_with_features(lightness))[0]

    @abstractmethod
    def describe(self) -> str:
        """One line for the log: what runs where."""
