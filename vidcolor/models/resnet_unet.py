"""The first colorizer network, kept so its checkpoints still load: a small residual encoder with a U-Net style
skip decoder, L* in, a*b* out, learnt from scratch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_bn_relu


@dataclass(frozen=True)
class ModelConfig:
    """Widths and depths of the encoder stages; the decoder mirrors them."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: tuple[int, ...] = (1, 2, 2, 2)
    stem_width: int = 32
    ab_scale: float = 110.0  # a*, b* of sRGB colours stay within about ±110

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.blocks) or len(self.widths) != 4:
            raise ValueError("widths and blocks must each name four stages")


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions and a shortcut (1x1 where the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


def _stage(cin: int, cout: int, depth: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride=2), *(BasicBlock(cout, cout) for _ in range(depth - 1)))


class UpBlock(nn.Module):
    """Upsample x2, concatenate the encoder's skip at that scale, fuse with two convolutions."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.fuse = nn.Sequential(conv_bn_relu(cin + cskip, cout), conv_bn_relu(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat((x, skip), dim=1))


class ColorizerNet(nn.Module):
    """L* (B, 1, H, W) in [0, 100] -> a*b* (B, 2, H, W); H and W multiples of SIZE_MULTIPLE."""

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.stem = conv_bn_relu(1, config.stem_width, stride=2)  # 1/2
        inputs = (config.stem_width, *w[:-1])
        self.stages = nn.ModuleList(
            _stage(cin, cout, depth) for cin, cout, depth in zip(inputs, w, config.blocks, strict=True)
        )  # 1/4, 1/8, 1/16, 1/32
        skips = (config.stem_width, *w[:-1])  # channels at 1/2 … 1/16
        self.ups = nn.ModuleList()
        cin = w[-1]
        for cskip in reversed(skips):
            self.ups.append(UpBlock(cin, cskip, cskip))
            cin = cskip
        self.head = nn.Conv2d(cin, 2, 3, padding=1)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        x = self.stem(lightness / 50.0 - 1.0)  # (B, C0, H/2, W/2)
        skips = [x]
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        x = skips.pop()  # (B, C3, H/32, W/32)
        for up in self.ups:
            x = up(x, skips.pop())
        ab = torch.tanh(self.head(x)) * self.config.ab_scale  # (B, 2, H/2, W/2)
        return F.interpolate(ab, size=lightness.shape[-2:], mode="bilinear", align_corners=False)
