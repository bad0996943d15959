"""MobileNetV2 1.0 (Sandler et al. 2018) laid out as TensorFlow built it, so its ImageNet weights fit unchanged.

Batch norm is folded into every convolution's bias (as in the TFLite file the weights come from), the
activation is ReLU6, and stride-2 convolutions pad TensorFlow's 'SAME' way: the extra pixel goes bottom/right.
Symmetric padding would shift every feature map by half a pixel against the one the weights were trained on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (expansion t, output channels c, repeats n, first stride s) of the 17 inverted-residual blocks.
BLOCK_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                  (6, 320, 1, 1))  # fmt: skip
STEM_WIDTH = 32
LAST_WIDTH = 1280
IMAGENET_CLASSES = 1001  # index 0 is 'background'
# Blocks (0-based) whose output is the last one at strides 2, 4, 8, 16, 32: the U-Net's skip taps.
TAP_BLOCKS = (0, 2, 5, 12, 16)
TAP_CHANNELS = (16, 24, 32, 96, 320)


class TFConv(nn.Module):
    """Conv (+ folded BN bias) with TensorFlow 'SAME' padding for even inputs, then ReLU6 unless ``relu`` is off."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, groups=groups, bias=True,
                              padding=kernel // 2 if stride == 1 else 0)  # fmt: skip
        # SAME at stride 2 on an even side pads (k - 2) in total, the odd pixel after: (0, 1) for a 3x3.
        self.pad = (0, 1, 0, 1) if stride == 2 and kernel == 3 else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv(x)
        return F.relu6(x) if self.relu else x


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when t = 1) -> 3x3 depthwise -> 1x1 linear projection, plus the input when shapes agree."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = TFConv(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = TFConv(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = TFConv(hidden, cout, 1, relu=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """Input (B, in_channels, H, W) in [-1, 1], H and W multiples of 32.

    ``in_channels`` = 1 takes a grey picture with the stem's RGB filters summed over colour (the same output as
    the grey value repeated on three channels). ``classifier`` keeps the ImageNet head.
    """

    def __init__(self, in_channels: int = 3, classifier: bool = False) -> None:
        super().__init__()
        self.stem = TFConv(in_channels, STEM_WIDTH, 3, stride=2)
        blocks, cin = [], STEM_WIDTH
        for expansion, cout, repeats, stride in BLOCK_SETTINGS:
            for i in range(repeats):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.last = TFConv(cin, LAST_WIDTH, 1)
        self.classifier = nn.Conv2d(LAST_WIDTH, IMAGENET_CLASSES, 1) if classifier else None

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The taps at strides 2, 4, 8, 16, 32 (channels TAP_CHANNELS) and the pooled scene descriptor (B, 1280)."""
        x = self.stem(x)
        taps = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in TAP_BLOCKS:
                taps.append(x)
        return taps, self.last(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1001); needs ``classifier``."""
        if self.classifier is None:
            raise RuntimeError("built without the classifier head")
        _, scene = self.features(x)
        return self.classifier(scene[:, :, None, None]).flatten(1)
