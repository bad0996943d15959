"""Colour maths: Y'->L* table, sRGB<->Lab, Lab->Cb/Cr against OpenCV's own conversions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vidcolor.color import (
    YuvFormat,
    _lab_to_chroma_torch,
    lab_to_chroma,
    lab_to_rgb,
    lightness_to_luma,
    luma_to_lightness_table,
    rgb_to_lab,
)


def _random_rgb(seed: int, shape=(48, 48)) -> np.ndarray:
    return (np.random.default_rng(seed).random((*shape, 3)) * 255).astype(np.uint8)


def _lab(rgb8: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb8).permute(2, 0, 1).double() / 255)  # (3, H, W)


@pytest.mark.parametrize("full_range, black, white", [(False, 16, 235), (True, 0, 255)])
def test_lightness_table_spans_range(full_range, black, white):
    table = luma_to_lightness_table(full_range)
    assert table.shape == (256,)
    assert table[black].item() == pytest.approx(0.0, abs=1e-6)
    assert table[white].item() == pytest.approx(100.0, abs=1e-4)
    assert torch.all(table[1:] >= table[:-1])


def test_lightness_table_matches_lab_of_grey():
    grey = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # (1, 256, 3)
    lab_lightness = _lab(grey)[0, 0].float()
    torch.testing.assert_close(luma_to_lightness_table(True), lab_lightness, atol=1e-4, rtol=0)


def test_lab_round_trip():
    rgb = torch.from_numpy(_random_rgb(1)).permute(2, 0, 1).double() / 255
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-9, rtol=0)


def test_lab_agrees_with_opencv():
    rgb = _random_rgb(2)
    ours = _lab(rgb).permute(1, 2, 0).numpy()
    theirs = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    # OpenCV interpolates its gamma curve from a table: agreement is to a fraction of a Lab unit.
    assert np.abs(ours - theirs).max() < 0.5


def test_chroma_matches_opencv_bt601_full_range():
    rgb = _random_rgb(3)
    lab = _lab(rgb)[None]
    cb, cr = lab_to_chroma(lab[:, :1], lab[:, 1:], YuvFormat(full_range=True, matrix="bt601"))
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(int)
    assert np.abs(cr[0].numpy().astype(int) - ycrcb[..., 1]).max() <= 1
    assert np.abs(cb[0].numpy().astype(int) - ycrcb[..., 2]).max() <= 1


@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
def test_neutral_ab_gives_neutral_chroma(full_range, matrix):
    lightness = torch.linspace(0, 100, 50, dtype=torch.float64).view(1, 1, 5, 10)
    cb, cr = lab_to_chroma(lightness, torch.zeros(1, 2, 5, 10, dtype=torch.float64), YuvFormat(full_range, matrix))
    assert cb.dtype == torch.uint8 and torch.all(cb == 128) and torch.all(cr == 128)


def test_limited_range_chroma_stays_in_range():
    lightness = torch.full((1, 1, 4, 4), 50.0)
    ab = torch.full((1, 2, 4, 4), 120.0)  # far outside sRGB: clipped, never wraps
    cb, cr = lab_to_chroma(lightness, ab, YuvFormat(full_range=False, matrix="bt709"))
    assert cb.min() >= 16 and cb.max() <= 240 and cr.min() >= 16 and cr.max() <= 240


@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
def test_opencv_chroma_agrees_with_the_torch_maths_gpus_run(full_range, matrix):
    """The CPU computes Cb/Cr with OpenCV, a GPU with torch: the two must give the same picture."""
    rng = torch.Generator().manual_seed(0)
    lab = torch.cat((torch.rand(2, 1, 30, 40, generator=rng) * 100, torch.randn(2, 2, 30, 40, generator=rng) * 40), 1)
    fmt = YuvFormat(full_range, matrix)
    low, high = (0, 255) if full_range else (16, 240)
    expected = _lab_to_chroma_torch(lab.double(), fmt, low, high)  # randn * 40: many colours outside sRGB
    for ours, theirs in zip(lab_to_chroma(lab[:, :1], lab[:, 1:], fmt), expected, strict=True):
        difference = (ours.int() - theirs.int()).abs()
        assert difference.max() <= 1 and (difference > 0).float().mean() < 0.01


def test_unknown_matrix_is_refused():
    with pytest.raises(ValueError, match="bt601"):
        YuvFormat(full_range=False, matrix="bt2020")  # type: ignore[arg-type]


@pytest.mark.parametrize("full_range", [False, True])
def test_lightness_to_luma_inverts_the_luma_table(full_range):
    codes = torch.arange(0, 256) if full_range else torch.arange(16, 236)
    lightness = luma_to_lightness_table(full_range)[codes]
    assert torch.equal(lightness_to_luma(lightness, full_range).long(), codes)
