"""The network, its checkpoint format, and the colorizer built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidcolor import BackendUnavailable, Colorizer, WeightsError, checkpoint
from vidcolor.checkpoint import load_model, save_checkpoint
from vidcolor.color import rgb_to_lab
from vidcolor.colorizer import working_size
from vidcolor.model import ColorizerNet, ModelConfig


def test_shapes_and_ab_range():
    model = ColorizerNet().eval()
    with torch.no_grad():
        ab = model(torch.rand(2, 1, 64, 96) * 100)
    assert ab.shape == (2, 2, 64, 96)
    assert ab.abs().max() <= ModelConfig().ab_scale


def test_parameter_budget():
    assert sum(p.numel() for p in ColorizerNet().parameters()) < 8_000_000


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = ColorizerNet(ModelConfig(widths=(16, 32, 64, 128), blocks=(1, 1, 1, 1), stem_width=16)).eval()
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.config == model.config
    stored = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    assert all(v.dtype != torch.float32 for v in stored.values())
    x = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), atol=0.5, rtol=0)  # fp16 storage


def test_checkpoint_from_another_program_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="not a vidcolor checkpoint"):
        load_model(tmp_path / "other.pt")


def test_missing_shipped_weights_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "SHIPPED_WEIGHTS", tmp_path / "colorizer.pt")
    with pytest.raises(WeightsError, match="no trained weights are installed"):
        Colorizer(backend="cpu")


@pytest.mark.parametrize("hw, size, expected", [((480, 854), 256, (256, 448)), ((359, 641), 256, (256, 448)),
                                                ((1080, 1920), 256, (256, 448)), ((100, 50), 64, (128, 64))])
def test_working_size(hw, size, expected):
    assert working_size(*hw, size) == expected


def test_colorize_image_keeps_lightness(colorizer):
    grey = np.tile(np.linspace(0, 255, 90, dtype=np.uint8), (60, 1))
    out = colorizer.colorize_image(grey)
    assert out.shape == (60, 90, 3) and out.dtype == np.uint8
    lab_in = rgb_to_lab(torch.from_numpy(np.repeat(grey[..., None], 3, 2)).permute(2, 0, 1).double() / 255)
    lab_out = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1).double() / 255)
    # L* is kept wherever the predicted colour is inside the sRGB gamut; gamut clipping moves it a little.
    assert (lab_out[0] - lab_in[0]).abs().median() < 1.0


def test_unknown_backend_is_refused(weights):
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        Colorizer(backend="tpu", weights=weights)  # type: ignore[arg-type]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_backend_without_gpu_is_refused(weights):
    with pytest.raises(BackendUnavailable, match="no CUDA GPU"):
        Colorizer(backend="cuda", weights=weights)
