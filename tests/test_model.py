"""The network, its checkpoint format, and the colorizer built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import untrained

from vidcolor import BackendUnavailable, Colorizer, WeightsError
from vidcolor.color import rgb_to_lab
from vidcolor.colorizer import working_size
from vidcolor.models import presets
from vidcolor.models.checkpoint import FORMAT_V1, load_model, save_checkpoint
from vidcolor.models.mobile_unet import MobileUNet, MobileUNetConfig
from vidcolor.models.presets import PRESETS, choose_preset
from vidcolor.models.resnet_unet import ColorizerNet, ModelConfig

TINY_BINS = MobileUNetConfig(decoder_widths=(32, 16), scene_width=0, ab_bins=True)


@pytest.mark.parametrize("config", [PRESETS["fast"].config, PRESETS["quality"].config, TINY_BINS])
def test_shapes_and_ab_range(config):
    model = untrained(config)
    with torch.no_grad():
        ab = model(torch.rand(2, 1, 64, 96) * 100)
        low, daylight = model.head_output(torch.rand(2, 1, 64, 96) * 100)
    assert ab.shape == (2, 2, 64, 96)
    assert ab.abs().max() <= 110.0
    assert low.shape[-2:] == (64 // config.output_stride, 96 // config.output_stride)
    assert daylight is None  # visible-light presets keep the picture's lightness


def test_a_fresh_network_starts_grey():
    """The head starts at zero: before training, every pixel is neutral (regression) or the bins' centre."""
    with torch.no_grad():
        assert MobileUNet(PRESETS["fast"].config).eval()(torch.rand(1, 1, 64, 64) * 100).abs().max() == 0
        bins = MobileUNet(MobileUNetConfig(ab_bins=True)).eval()(torch.rand(1, 1, 64, 64) * 100)
    assert bins.abs().max() < 1e-4  # the annealed mean of a uniform spread over a symmetric grid


def test_presets_fit_the_weights_budget():
    """The visible-light models together stay under 24 MiB as fp16 (2 bytes a parameter), leaving room in the
    package's 32 MiB for the int8 graphs and the night-vision models (which ship as their decoders: the shipped
    files are checked in test_shipped.py)."""
    visible = (PRESETS["fast"], PRESETS["quality"])
    parameters = sum(sum(p.numel() for p in MobileUNet(p.config).parameters()) for p in visible)
    assert 2 * parameters < 24 * 2**20


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = untrained(MobileUNetConfig(decoder_widths=(32, 16, 16), scene_width=8))
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is MobileUNet and loaded.config == model.config
    stored = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    assert all(v.dtype != torch.float32 for v in stored.values())
    x = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), atol=0.5, rtol=0)  # fp16 storage


def test_first_format_checkpoints_still_load(tmp_path):
    """Weights trained before named architectures (format 1: the ResNet U-Net) keep working with --weights."""
    model = ColorizerNet(ModelConfig(widths=(16, 32, 64, 128), blocks=(1, 1, 1, 1), stem_width=16)).eval()
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    config = {"widths": [16, 32, 64, 128], "blocks": [1, 1, 1, 1], "stem_width": 16, "ab_scale": 110.0}
    torch.save({"format": FORMAT_V1, "config": config, "state_dict": state, "info": {}}, tmp_path / "v1.pt")
    loaded = load_model(tmp_path / "v1.pt")
    assert type(loaded) is ColorizerNet and loaded.config == model.config


def test_checkpoint_from_another_program_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="not a vidcolor checkpoint"):
        load_model(tmp_path / "other.pt")


def test_weights_that_do_not_fit_their_architecture_are_refused(tmp_path):
    save_checkpoint(untrained(), tmp_path / "m.pt")
    checkpoint = torch.load(tmp_path / "m.pt", weights_only=True)
    checkpoint["config"]["decoder_widths"] = [64, 32]
    torch.save(checkpoint, tmp_path / "m.pt")
    with pytest.raises(WeightsError, match="do not fit their stated architecture"):
        load_model(tmp_path / "m.pt")


def test_missing_shipped_weights_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsError, match="no trained weights are installed for model fast"):
        Colorizer(backend="cpu", model="fast")


@pytest.mark.parametrize("model, backend, expected", [("auto", "cpu", "fast"), ("auto", "cuda", "quality"),
                                                      ("auto", "tensorrt", "quality"), ("quality", "cpu", "quality"),
                                                      ("fast", "cuda", "fast")])  # fmt: skip
def test_auto_picks_the_model_by_backend(model, backend, expected, caplog):
    with caplog.at_level("INFO", logger="vidcolor"):
        assert choose_preset(model, backend).name == expected
    assert ("auto:" in caplog.text) == (model == "auto")


def test_auto_on_auto_backend_follows_the_gpu():
    assert choose_preset("auto", "auto").name == ("quality" if torch.cuda.is_available() else "fast")


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


def test_a_model_and_a_checkpoint_together_are_refused(weights):
    with pytest.raises(WeightsError, match="not both"):
        Colorizer(backend="cpu", weights=weights, model="quality")


def test_unreadable_weights_are_one_whole_sentence(tmp_path):
    """The message names the file and what it is not, with no library text cut off mid-word behind it."""
    (tmp_path / "junk.pt").write_bytes(b"\x00not a checkpoint\xff" * 64)
    with pytest.raises(WeightsError) as caught:
        load_model(tmp_path / "junk.pt")
    assert str(caught.value) == f"cannot read weights {tmp_path / 'junk.pt'}: not a loadable PyTorch checkpoint"
