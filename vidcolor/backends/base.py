"""The one interface every inference backend offers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch


class Backend(ABC):
    """Runs the colorizer: L* (B, 1, H, W) float32 in [0, 100] -> a*b* (B, 2, H, W) float32.

    Inputs and outputs live on ``device``; H and W are multiples of the model's size multiple.
    """

    NAME: ClassVar[str]
    device: torch.device

    @abstractmethod
    def infer(self, lightness: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def describe(self) -> str:
        """One line for the log: what runs where."""
