"""False colour, lost colour and wrong hue on pictures whose answer is known; the eval command writes them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, run_cli

from vidcolor.color import lab_to_rgb
from vidcolor.train.chroma_errors import ChromaErrors, chroma_errors, complex_ab, mean_chroma_errors
from vidcolor.train.evaluate import grey_baseline

GREY, RED = (128, 128, 128), (220, 30, 30)


def filled(rgb: tuple[int, int, int], height: int = 10, width: int = 10) -> np.ndarray:
    return np.full((height, width, 3), rgb, np.uint8)


def from_lab(lightness: float, chroma: float, hues_degrees: np.ndarray) -> np.ndarray:
    """One row of uint8 RGB pixels, one per hue, all of that L* and C*ab."""
    hues = torch.from_numpy(np.radians(hues_degrees))
    lab = torch.stack((torch.full_like(hues, lightness), chroma * hues.cos(), chroma * hues.sin()))[:, None]
    return (lab_to_rgb(lab) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (1, N, 3)


def test_neutral_truth_painted_red_is_all_false_colour():
    assert chroma_errors(filled(RED), filled(GREY)) == ChromaErrors(100.0, None, None)


def test_saturated_truth_predicted_grey_is_all_lost_colour():
    truth = filled(RED)
    assert chroma_errors(grey_baseline(truth), truth) == ChromaErrors(None, 100.0, None)


@pytest.mark.parametrize(("rotation", "wrong"), [(90.0, 100.0), (-90.0, 100.0), (30.0, 0.0), (-30.0, 0.0)])
def test_wrong_hue_counts_hues_more_than_60_degrees_apart(rotation, wrong):
    hues = np.arange(0.0, 360.0, 15.0)  # every direction, so the turn also crosses 0/360
    truth, prediction = from_lab(60, 30, hues), from_lab(60, 30, hues + rotation)
    assert (np.abs(complex_ab(truth)) > 20).all() and (np.abs(complex_ab(prediction)) > 20).all()  # in gamut
    assert chroma_errors(prediction, truth).wrong_hue_pct == wrong


def test_a_photo_counts_only_where_1_percent_of_it_is_in_the_class():
    few = np.concatenate([filled(GREY, 1, 1), filled(RED, 1, 199)], axis=1)  # 0.5 % neutral
    enough = np.concatenate([filled(GREY, 1, 1), filled(RED, 1, 99)], axis=1)  # 1 % neutral
    errors = [chroma_errors(filled(RED, 1, 200), few), chroma_errors(filled(RED, 1, 100), enough)]
    assert errors[0].false_colour_pct is None and errors[1].false_colour_pct == 100.0
    means = mean_chroma_errors(errors)
    assert means["false_colour_pct"] == 100.0 and means["counted"]["false_colour_pct"] == 1


def test_prediction_equal_to_truth_has_no_errors():
    hues = from_lab(60, 30, np.arange(0.0, 360.0, 10.0)).repeat(10, axis=0)  # coloured in both
    truth = np.concatenate([filled(GREY, 10, 36), filled(RED, 10, 36), hues])  # neutral, saturated, coloured
    assert chroma_errors(truth, truth) == ChromaErrors(0.0, 0.0, 0.0)


def test_means_are_over_the_photos_that_count():
    means = mean_chroma_errors([ChromaErrors(10.0, None, 50.0), ChromaErrors(30.0, 20.0, None)])
    assert means == {"false_colour_pct": 20.0, "lost_colour_pct": 20.0, "wrong_hue_pct": 50.0,
                     "counted": {"false_colour_pct": 2, "lost_colour_pct": 1, "wrong_hue_pct": 1}}  # fmt: skip
    assert mean_chroma_errors([ChromaErrors(None, None, None)])["wrong_hue_pct"] is None


def test_eval_command_writes_the_chroma_errors(photo_folder, weights, tmp_path):
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"training": {"steps": 1}}))
    result = run_cli("eval", photo_folder, "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu",
                     "--json", tmp_path / "scores.json", "--card", card, "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "false %" in result.stdout and "photos counted" in result.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    keys = {"false_colour_pct", "lost_colour_pct", "wrong_hue_pct"}
    assert set(scores["vidcolor"]) >= keys | {"counted", "photos_3db_below_grey"}
    assert scores["grey"]["wrong_hue_pct"] is None and scores["grey"]["counted"]["wrong_hue_pct"] == 0  # no colour
    assert [p["photo"] for p in scores["per_photo"]] == [f"p{i}.png" for i in range(6)]
    assert set(scores["per_photo"][0]["vidcolor"]) >= keys | {"psnr"}
    evaluation = json.loads(card.read_text())["evaluation"]
    assert evaluation == {photo_folder.name: {key: value for key, value in scores.items() if key != "per_photo"}}
