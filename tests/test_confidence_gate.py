"""The bins head's own uncertainty and the confidence gate on its colour (issue 34, "do no harm")."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import untrained

from vidcolor.models.ab_bins import bin_entropy, confidence_gate
from vidcolor.models.checkpoint import load_model, save_checkpoint, set_rendering
from vidcolor.models.mobile_unet import MobileUNetConfig

BINS = MobileUNetConfig(decoder_widths=(32, 24, 16, 16), scene_width=8, ab_bins=True)


def test_bin_entropy_is_zero_for_one_bin_and_log_q_for_all_alike():
    sure = torch.full((1, 10, 2, 3), -50.0)
    sure[:, 4] = 50.0
    entropy = bin_entropy(torch.cat((sure, torch.zeros(1, 10, 2, 3))))
    assert entropy.shape == (2, 1, 2, 3)
    torch.testing.assert_close(entropy[0], torch.zeros(1, 2, 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(entropy[1], torch.full((1, 2, 3), math.log(10)), atol=1e-5, rtol=0)


def test_the_gate_keeps_what_is_sure_greys_what_is_not_and_is_off_at_zero():
    entropy = torch.full((2, 1, 8, 8), 1.0)
    entropy[0, :, :, 4:] = 5.0  # frame 0: its right half unsure; frame 1 sure everywhere
    assert torch.equal(confidence_gate(entropy), torch.ones_like(entropy))
    factor = confidence_gate(entropy, pixel_entropy=4.0, width=1.0)
    assert torch.equal(factor[0, :, :, :3], torch.ones(1, 8, 3))
    assert torch.equal(factor[0, :, :, 5:], torch.zeros(1, 8, 3))
    assert torch.equal(factor[1], torch.ones(1, 8, 8))
    framed = confidence_gate(entropy, frame_entropy=3.5)  # frame 0's mean entropy is 3: half its colour
    torch.testing.assert_close(framed[0], torch.full((1, 8, 8), 0.5))
    torch.testing.assert_close(framed[1], torch.ones(1, 8, 8))


def test_a_gated_rendering_is_stored_and_scales_the_models_colour_toward_grey(tmp_path: Path):
    torch.manual_seed(0)
    plain = tmp_path / "plain.pt"
    save_checkpoint(untrained(BINS), plain)
    lightness = torch.rand(1, 1, 64, 64) * 100
    renders = {}
    for name, gate in (("off", 0.0), ("lenient", 100.0), ("strict", 1e-3)):
        set_rendering(plain, tmp_path / f"{name}.pt", temperature=0.5, boost=0.0, chroma=0.0, gate=gate)
        model = load_model(tmp_path / f"{name}.pt")
        assert model.config.render_gate == gate
        with torch.inference_mode():
            renders[name] = model(lightness)
    assert load_model(plain).config.render_gate == 0.0  # the default: no gate
    assert renders["off"].abs().max() > 1  # the random head gives colour
    torch.testing.assert_close(renders["lenient"], renders["off"], atol=1e-3, rtol=1e-4)  # entropy far below 99 nats
    assert torch.equal(renders["strict"], torch.zeros_like(renders["strict"]))  # every entropy is above 0.001 - 1


def test_the_gate_width_must_be_positive():
    with pytest.raises(ValueError, match="render_gate_width"):
        MobileUNetConfig(ab_bins=True, render_gate=4.0, render_gate_width=0.0)
