"""The daylight rendering of night vision: a model that predicts lightness too, and every output that shows it
(images, files, live), beside the sensor rendering, which keeps the camera's brightness."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, untrained
from media import luma_planes, write_video
from test_night_vision import pair_folder  # noqa: F401 (a fixture)
from test_train import needs_encoder

from vidcolor import Colorizer
from vidcolor.capture import LiveFrame
from vidcolor.color import luma_to_lightness_table, rgb_to_lab
from vidcolor.errors import WeightsError
from vidcolor.live import LiveOptions, LiveSession
from vidcolor.models.checkpoint import load_model, save_checkpoint
from vidcolor.models.mobile_unet import MobileUNet
from vidcolor.models.presets import DEFAULT_RENDER, PRESETS
from vidcolor.pipeline import colorize_file
from vidcolor.temporal_eval import evaluate_clip
from vidcolor.train.loop import TrainConfig, train

DAYLIGHT = replace(PRESETS["thermal"].config, predict_lightness=True)
BRIGHTER = 25.0  # L*: what the test model's relight head adds everywhere


@pytest.fixture(scope="module")
def daylight_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A daylight model whose lightness is the sensor's plus BRIGHTER: easy to see in every output."""
    torch.manual_seed(0)
    model = untrained(DAYLIGHT)
    torch.nn.init.constant_(model.relight.bias, BRIGHTER)
    path = tmp_path_factory.mktemp("daylight") / "daylight.pt"
    save_checkpoint(model, path)
    return path


def daylight(weights: Path, render: str = "auto") -> Colorizer:
    return Colorizer(backend="cpu", size=TEST_SIZE, weights=weights, sensor="thermal", render=render)


def lightness_of(luma: np.ndarray) -> np.ndarray:
    return luma_to_lightness_table(full_range=False)[torch.from_numpy(luma).long()].numpy()


def test_a_fresh_relight_head_starts_from_the_sensors_picture():
    """Untrained, the daylight L* is the input's (so training starts from the sensor rendering): what the loss
    sees at the output stride, and the correction the network hands on."""
    lightness = torch.full((1, 1, 64, 96), 37.0)
    lightness[..., :32, :] = 80.0  # two flat halves, each a whole number of output-stride cells
    network = MobileUNet(DAYLIGHT).eval()
    with torch.no_grad():
        out, (_, daylight) = network(lightness), network.head_output(lightness)
    assert out.shape == (1, 3, 64, 96) and out[:, 2].abs().max() == 0
    torch.testing.assert_close(daylight, torch.nn.functional.avg_pool2d(lightness, 4))


def test_the_rendering_follows_the_sensor_and_the_model(daylight_weights, weights):
    """Every sensor's default keeps the camera's brightness (issue 34: daylight hides what is hot); daylight is
    there where asked for."""
    assert DEFAULT_RENDER["thermal"] == DEFAULT_RENDER["thermal-blackhot"] == DEFAULT_RENDER["nir"] == "sensor"
    assert daylight(daylight_weights).render == "sensor"
    assert daylight(daylight_weights, "daylight").render == "daylight"
    assert daylight(daylight_weights, "sensor").render == "sensor"
    assert Colorizer(backend="cpu", size=TEST_SIZE, weights=daylight_weights).render == "sensor"  # visible light
    assert Colorizer(backend="cpu", size=TEST_SIZE, weights=weights, sensor="thermal").render == "sensor"
    with pytest.raises(WeightsError, match="needs a model that predicts lightness"):
        Colorizer(backend="cpu", size=TEST_SIZE, weights=weights, sensor="thermal", render="daylight")


def test_an_image_is_relit_or_keeps_its_lightness(daylight_weights):
    grey = np.full((48, 80), 90, np.uint8)
    source = rgb_to_lab(torch.full((3, 1, 1), 90 / 255))[0].item()
    for render, lift in (("daylight", BRIGHTER), ("sensor", 0.0)):
        out = daylight(daylight_weights, render).colorize_image(grey)
        lightness = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1).float() / 255)[0]
        assert abs(lightness.mean().item() - (source + lift)) < 1.5, render


def test_a_file_is_written_with_the_daylight_luma(daylight_weights, tmp_path):
    clip = tmp_path / "ir.mp4"
    write_video(clip, frames=6)
    colorize_file(clip, tmp_path / "day.mp4", colorizer=daylight(daylight_weights, "daylight"))
    colorize_file(clip, tmp_path / "side.mp4", colorizer=daylight(daylight_weights, "daylight"), compare="side")
    colorize_file(clip, tmp_path / "sensor.mp4", colorizer=daylight(daylight_weights, "sensor"))
    for source, day, side, sensor in zip(*(luma_planes(tmp_path / f"{name}.mp4")
                                           for name in ("ir", "day", "side", "sensor")), strict=True):  # fmt: skip
        lift = lightness_of(day) - lightness_of(source)
        assert abs(np.median(lift[source < 200]) - BRIGHTER) < 3  # (the brightest clip short of white)
        assert np.abs(sensor.astype(int) - source).mean() < 1.5  # only the encoder's rounding
        width = source.shape[1]
        grey, colour = side[:, :width], side[:, width:]  # the camera's picture on the left
        assert np.abs(grey.astype(int) - source).mean() < 1.5
        assert np.abs(colour.astype(int) - day).mean() < 1.5


def test_live_shows_the_daylight_luma_beside_the_cameras(daylight_weights):
    session = LiveSession(daylight(daylight_weights, "daylight"), LiveOptions(smooth=0.0, window=False))
    camera = np.full((64, 96), 100, np.uint8)
    picture = session.colorize(LiveFrame(camera, full_range=True, captured_at=0.0))
    assert np.array_equal(picture.grey, camera)
    assert picture.luma.mean() > camera.mean() + 20
    session.side_by_side = True
    assert np.array_equal(session.view(picture)[:, :96, 0], camera)


@needs_encoder
def test_daylight_training_learns_the_partners_lightness(pair_folder, tmp_path):  # noqa: F811
    """The pairs' sensor frames are the colour frames' inverted grey: a daylight model learns to undo it."""
    out = tmp_path / "thermal-day.pt"
    config = TrainConfig(data=str(pair_folder), out=str(out), steps=40, crop=64, batch=5, workers=0, lr=3e-3,
                         model="thermal", ab_bins=True, rebalance_mix=None, sensor="thermal", daylight=True)
    summary = train(config, progress_bar=False)
    assert summary["loss_last_100"] < summary["loss_first_10"]
    assert load_model(out).config.predict_lightness
    with pytest.raises(ValueError, match="give a sensor"):
        replace(config, sensor="visible")


def test_eval_video_scores_the_lightness_shown(daylight_weights, tmp_path):
    """The clips are the same pictures: the sensor's own lightness is the truth's, and relighting costs PSNR."""
    write_video(tmp_path / "scene_ir.mp4", frames=5)
    write_video(tmp_path / "scene_rgb.mp4", frames=5)
    scores = {render: evaluate_clip(daylight(daylight_weights, render), tmp_path / "scene_ir.mp4", [0.9], frames=5)
              ["scores"]["per-frame"]["psnr"] for render in ("sensor", "daylight")}  # fmt: skip
    assert scores["daylight"] < scores["sensor"] - 1


def test_black_hot_is_relit_as_the_white_hot_frame_it_inverts(daylight_weights):
    heat = (np.random.default_rng(0).random((64, 96)) * 255).astype(np.uint8)  # a white-hot frame's grey
    white = daylight(daylight_weights, "daylight").colorize_image(heat)
    black = Colorizer(backend="cpu", size=TEST_SIZE, weights=daylight_weights, sensor="thermal-blackhot",
                      render="daylight").colorize_image(255 - heat)  # fmt: skip
    assert np.abs(white.astype(int) - black).mean() < 1.0
    assert np.abs(white.astype(int) - (255 - heat)[..., None]).mean() > 20  # relit, not the black-hot grey
