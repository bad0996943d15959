"""The shipped weights and the bundled samples: what a new user runs first."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import run_cli
from media import decode_frames, frame_times

from vidcolor import Colorizer
from vidcolor.color import rgb_to_lab
from vidcolor.models.presets import PRESETS
from vidcolor.train.evaluate import colourfulness

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

SHIPPED = [pytest.param(name, marks=pytest.mark.skipif(not PRESETS[name].weights.is_file(), reason=f"no {name}.pt"))
           for name in ("fast", "quality")]  # the visible-light models; the night ones: test_night_vision.py


def test_every_preset_ships_weights():  # night-vision ones included
    assert all(preset.weights.is_file() and preset.card.is_file() for preset in PRESETS.values())
    shipped = [path for preset in PRESETS.values() for path in (preset.weights, preset.int8) if path.is_file()]
    assert sum(path.stat().st_size for path in shipped) <= 32 * 2**20  # the package's budget for weights


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_are_fp16_with_a_card(name):
    preset = PRESETS[name]
    state = torch.load(preset.weights, weights_only=True)["state_dict"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    card = json.loads(preset.card.read_text())
    assert card["training"]["command"] and card["evaluation"]["holdout"]["photos"] == 500
    assert card["evaluation"]["benchmark"]["photos"] == 48


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_colour_the_sample_still(name):
    grey = cv2.imread(str(SAMPLES / "street_gray.png"), cv2.IMREAD_GRAYSCALE)
    rgb = Colorizer(backend="cpu", model=name).colorize_image(grey)
    assert colourfulness(rgb) > 5.0  # visibly coloured, not grey
    lightness = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)[0]
    grey_lightness = rgb_to_lab(torch.from_numpy(np.repeat(grey[None], 3, 0)).double() / 255)[0]
    assert (lightness - grey_lightness).abs().median() < 1.0


@pytest.mark.skipif(not PRESETS["fast"].weights.is_file(), reason="no shipped fast weights")
def test_readme_sample_command(tmp_path):
    """README's first command, less the install: `vidcolor samples/indoor_gray.mp4 -o …`, on the fast path that
    comes with the plain install (onnxruntime, the shipped int8 graph), and saying so."""
    sample = SAMPLES / "indoor_gray.mp4"
    out = tmp_path / "indoor_colorized.mp4"
    result = run_cli(sample, "-o", out, timeout=300)
    assert result.returncode == 0, result.stderr
    if not torch.cuda.is_available():
        assert "backend onnxruntime (CPU" in result.stderr and "int8), model fast-int8" in result.stderr
    assert frame_times(out) == pytest.approx(frame_times(sample), abs=1e-6)
    chroma = np.frombuffer(decode_frames(out)[25].planes[2], np.uint8)
    assert np.abs(chroma.astype(int) - 128).mean() > 1.0  # the grey input came out coloured
