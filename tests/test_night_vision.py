"""Night-vision sensors: pairs of a sensor frame and its colour frame train and score a model; --sensor picks it;
a black-hot thermal frame is coloured as the white-hot one it inverts; a slim checkpoint loads over its base."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, run_cli, untrained
from media import picture, write_video
from test_train import needs_encoder

from vidcolor import Colorizer
from vidcolor.color import grey_to_lightness, rgb_to_lab
from vidcolor.errors import WeightsError
from vidcolor.models.ab_bins import bin_index
from vidcolor.models.checkpoint import load_model, rebase, save_checkpoint
from vidcolor.models.presets import PRESETS, choose_preset
from vidcolor.temporal_eval import clip_paths, load_clip
from vidcolor.train.evaluate import evaluate
from vidcolor.train.loop import TrainConfig, train

PAIRS = 5


@pytest.fixture
def pair_folder(tmp_path: Path) -> Path:
    """Sensor frames (grey, its tones not the colour's lightness: inverted) beside their colour frames, and one
    colour photo without a partner, which a pair folder ignores."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    for i in range(PAIRS):
        rgb = picture(i * 5, 96, 80)
        cv2.imwrite(str(folder / f"cam_{i:05d}_rgb.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(folder / f"cam_{i:05d}_ir.png"), 255 - cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    cv2.imwrite(str(folder / "lonely.png"), picture(99, 96, 80))
    return folder


def test_a_pair_folder_is_scored_against_the_colour_partner(pair_folder, colorizer):
    scores = evaluate(colorizer, pair_folder)
    assert scores["photos"] == PAIRS and [p["photo"] for p in scores["per_photo"]][0] == "cam_00000_ir.png"
    # the grey baseline is the sensor frame as shown: inverted tones, far from the colour frame
    assert scores["grey"]["psnr"] < 15 and scores["grey"]["colourfulness"] == 0


@needs_encoder
def test_pair_training_learns_the_colour_partner(pair_folder, tmp_path):
    out = tmp_path / "thermal.pt"
    config = TrainConfig(data=str(pair_folder), out=str(out), steps=30, crop=64, batch=5, workers=0, lr=3e-3,
                         model="thermal", ab_bins=True, rebalance_mix=None, sensor="thermal")  # fmt: skip
    summary = train(config, progress_bar=False)
    assert summary["loss_last_100"] < summary["loss_first_10"]
    assert summary["config"]["sensor"] == "thermal"
    # the a*b* prior is the colour partners', not the grey frames' (every pixel in the neutral bin)
    neutral = int(bin_index(torch.zeros(1, 2, 1, 1)))
    colours = [cv2.imread(str(p))[..., ::-1].copy() for p in sorted(pair_folder.glob("*_rgb.png"))]
    ab = rgb_to_lab(torch.from_numpy(np.stack(colours)).permute(0, 3, 1, 2).float() / 255)[:, 1:]
    assert (bin_index(ab) == neutral).float().mean() < 0.5
    assert load_model(out).ab_prior[neutral] < 0.5


def test_sensor_picks_its_own_model_and_refuses_another():
    assert choose_preset("auto", "cpu", "thermal").name == "thermal"
    assert choose_preset("auto", "cpu", "thermal-blackhot").name == "thermal"
    assert choose_preset("auto", "cpu", "nir").name == "nir"
    assert choose_preset("fast", "cpu", "visible").name == "fast"
    with pytest.raises(WeightsError, match="has a model of its own"):
        choose_preset("quality", "cpu", "thermal")


def test_the_command_line_says_so_in_one_line(tmp_path):
    grey = tmp_path / "ir.png"
    cv2.imwrite(str(grey), np.full((40, 60), 90, np.uint8))
    result = run_cli(grey, "-o", tmp_path / "out.png", "--sensor", "thermal", "--model", "quality")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["vidcolor: error: --sensor thermal has a model of its own: leave "
                                                  "out --model quality"]  # fmt: skip


def test_black_hot_is_coloured_as_the_white_hot_frame_it_inverts(weights):
    """The same scene from a black-hot camera gets the white-hot model's colours (its own brightness kept)."""
    white = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights, sensor="thermal")
    black = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights, sensor="thermal-blackhot")
    heat = torch.rand(1, 1, TEST_SIZE, TEST_SIZE)  # grey levels of a white-hot frame, as sRGB in [0, 1]
    shown_white_hot, shown_black_hot = grey_to_lightness(heat), grey_to_lightness(1 - heat)
    torch.testing.assert_close(black.infer(shown_black_hot), white.infer(shown_white_hot), atol=2e-3, rtol=0)
    assert (black.infer(shown_white_hot) - white.infer(shown_white_hot)).abs().max() > 0.1  # not a no-op


def test_a_rebased_checkpoint_loads_as_the_whole(tmp_path):
    """A model fine-tuned with the encoder frozen ships as what differs from its base, which lies beside it."""
    base, tuned = untrained(), untrained()
    tuned.encoder.load_state_dict(base.encoder.state_dict())
    save_checkpoint(base, tmp_path / "base.pt")
    save_checkpoint(tuned, tmp_path / "tuned.pt")
    rebase(tmp_path / "tuned.pt", tmp_path / "base.pt", tmp_path / "slim.pt")
    assert (tmp_path / "slim.pt").stat().st_size < 0.5 * (tmp_path / "tuned.pt").stat().st_size
    whole, slim = load_model(tmp_path / "tuned.pt").state_dict(), load_model(tmp_path / "slim.pt").state_dict()
    assert all(torch.equal(whole[k], slim[k]) for k in whole)


def test_a_paired_clip_is_scored_against_its_colour_partner(tmp_path, colorizer):
    write_video(tmp_path / "scene_ir.mp4", frames=8)
    write_video(tmp_path / "scene_rgb.mp4", frames=6)  # a partner that ends first ends the pair
    write_video(tmp_path / "daylight.mp4", frames=4)
    assert [p.name for p in clip_paths(tmp_path)] == ["daylight.mp4", "scene_ir.mp4"]
    clip = load_clip(colorizer, tmp_path / "scene_ir.mp4", frames=30)
    assert clip.lightness.shape[0] == 6 and clip.truth_lab.shape[0] == 6


@pytest.mark.parametrize("name", ["thermal", "nir"])
def test_night_models_ship_slim_over_fast(name):
    preset = PRESETS[name]
    checkpoint = torch.load(preset.weights, weights_only=True)
    assert checkpoint["base"] == "fast.pt" and checkpoint["config"]["ab_bins"]
    card = json.loads(preset.card.read_text())
    assert card["training"]["config"]["sensor"] == name and "holdout" in card["evaluation"]
