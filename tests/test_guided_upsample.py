"""Guided upsampling of a*b*: colour follows the luma's edges, flat colour stays flat, numpy and torch agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidcolor.guided_upsample import guided_upsample, guided_upsample_torch

STEP_L, STEP_A = (30.0, 70.0), (40.0, -40.0)  # the two sides' L* and a*


def _step_scene(high: tuple[int, int], low: tuple[int, int], stride: int = 4) -> tuple[torch.Tensor, ...]:
    """A vertical edge at the middle: sharp in the output-size L*, and a*b* predicted at ``stride`` of the working
    size then upsampled bilinearly to it, as the model does. -> a*b* (1, 2, *low), L* (1, 1, *low), L* (1, 1, *high)."""
    guide = torch.full((1, 1, *high), STEP_L[0])
    guide[..., high[1] // 2 :] = STEP_L[1]
    coarse = torch.zeros(1, 2, low[0] // stride, low[1] // stride)
    coarse[:, 0, :, : coarse.shape[-1] // 2] = STEP_A[0]
    coarse[:, 0, :, coarse.shape[-1] // 2 :] = STEP_A[1]
    ab = F.interpolate(coarse, size=low, mode="bilinear", align_corners=False)
    return ab, F.interpolate(guide, size=low, mode="area"), guide


def _jump_at_edge(a: torch.Tensor, edge: int) -> float:
    """The share of the step in a* (…, H, W) made between the two columns either side of the luma edge."""
    return float((a[..., edge - 1] - a[..., edge]).min()) / (STEP_A[0] - STEP_A[1])


@pytest.mark.parametrize("high", [(64, 128), (60, 90)])  # 2x the working size; 480p-like, below 2x and uneven
def test_a_step_in_colour_is_sharp_at_the_luma_edge(high):
    ab, guide_low, guide = _step_scene(high, low=(32, 64))
    edge = high[1] // 2
    bilinear = F.interpolate(ab, size=high, mode="bilinear", align_corners=False)
    guided = guided_upsample(ab, guide_low, guide)
    assert _jump_at_edge(bilinear[:, 0], edge) < 0.25  # the model's stride-4 ramp, stretched over several pixels
    assert _jump_at_edge(guided[:, 0], edge) > 0.5
    left, right = guided[0, 0, :, : edge - 4], guided[0, 0, :, edge + 4 :]
    assert left.min() > 0.75 * STEP_A[0] and right.max() < 0.75 * STEP_A[1]  # each side keeps most of its colour
    assert guided[0, 1].abs().max() < 1e-3  # b* was 0 everywhere


def test_flat_colour_stays_flat_whatever_the_luma():
    rng = np.random.default_rng(0)
    guide = torch.from_numpy(rng.uniform(0, 100, (2, 1, 90, 120)).astype(np.float32))
    guide_low = F.interpolate(guide, size=(64, 96), mode="area")
    ab = torch.tensor([12.0, -30.0]).view(1, 2, 1, 1).expand(2, 2, 64, 96)
    out = guided_upsample(ab, guide_low, guide)
    assert out.shape == (2, 2, 90, 120)
    torch.testing.assert_close(out, ab[:, :, :1, :1].expand_as(out), atol=1e-3, rtol=0)


@pytest.mark.parametrize("high, low", [((240, 427), (256, 448)), ((135, 240), (64, 96)), ((33, 47), (32, 32))])
def test_numpy_and_torch_agree(high, low):
    """The CPU path (OpenCV, frame by frame) against the GPU's maths run on the CPU: 480p's downsizing, an upsizing,
    and a working size so small the window has to shrink."""
    rng = np.random.default_rng(1)
    guide = torch.from_numpy(rng.uniform(0, 100, (2, 1, *high)).astype(np.float32))
    guide = F.avg_pool2d(guide, 5, stride=1, padding=2)  # some structure, not pure noise
    guide_low = F.interpolate(guide, size=low, mode="bilinear", antialias=True, align_corners=False)
    ab = F.interpolate(torch.from_numpy(rng.normal(0, 30, (2, 2, low[0] // 4, low[1] // 4)).astype(np.float32)),
                       size=low, mode="bilinear", align_corners=False)  # fmt: skip
    opencv = guided_upsample(ab, guide_low, guide)
    torch.testing.assert_close(opencv, guided_upsample_torch(ab, guide_low, guide), atol=2e-3, rtol=0)


def test_half_precision_is_computed_in_float32():
    """A GPU backend may hand over fp16 a*b*; L*^2 in fp16 would lose the window's variance."""
    ab, guide_low, guide = _step_scene((64, 128), low=(32, 64))
    full = guided_upsample_torch(ab, guide_low, guide)
    half = guided_upsample_torch(ab.half(), guide_low, guide)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, full, atol=0.05, rtol=0)
