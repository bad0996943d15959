"""Night vision never hides what the sensor shows (issue 34): the hot-object contrast, output over sensor, by hand on
synthetic frames; reported by `vidcolor eval` and `vidcolor eval-video` for a night sensor; every sensor's default
rendering keeps it (the shipped thermal model on held-out pairs, where ../shared is present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media import write_video
from test_daylight import daylight, daylight_weights  # noqa: F401 (a fixture)
from test_night_vision import pair_folder  # noqa: F401 (a fixture)

from vidcolor import Colorizer
from vidcolor.cli.train import format_scores
from vidcolor.models.presets import SENSORS, choose_render
from vidcolor.temporal_eval import evaluate_clip, format_hot_contrast
from vidcolor.train.evaluate import evaluate
from vidcolor.train.hot_contrast import hot_contrast

THERMAL_HOLDOUT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ir" / "thermal" / "holdout"


def frame(hot: float, rest: float) -> np.ndarray:
    """L* (10, 10): the first 5 pixels (the hottest 5 %) at ``hot``, the other 95 at ``rest``."""
    lightness = np.full(100, rest)
    lightness[:5] = hot
    return lightness.reshape(10, 10)


def test_the_ratio_by_hand():
    sensor = frame(80, 20)  # hot 60 L* above the rest
    assert hot_contrast(sensor, sensor) == pytest.approx(1.0)  # the sensor's own picture
    assert hot_contrast(np.full((10, 10), 50.0), sensor) == pytest.approx(0.0)  # a flat picture hides it
    assert hot_contrast(frame(50, 20), sensor) == pytest.approx(0.5)  # 30 of 60
    assert hot_contrast(frame(20, 80), sensor) == pytest.approx(-1.0)  # drawn dark on light
    assert hot_contrast(frame(60, 20), frame(80, 20) + 10) == pytest.approx(40 / 60)  # only differences count
    assert hot_contrast(np.full((10, 10), 50.0), np.full((10, 10), 50.0)) is None  # nothing to keep


def test_a_black_hot_sensor_shows_what_is_hot_dark():
    sensor = frame(20, 80)  # the hottest 5 % drawn darkest
    assert hot_contrast(sensor, sensor, hot_is_bright=False) == pytest.approx(1.0)
    assert hot_contrast(frame(50, 80), sensor, hot_is_bright=False) == pytest.approx(0.5)


def test_over_a_clip_the_differences_are_averaged_before_dividing():
    sensor = np.stack([frame(80, 20), frame(40, 20)])  # 60, then 20
    shown = np.stack([frame(80, 20), np.full((10, 10), 30.0)])  # 60, then 0
    assert hot_contrast(shown, sensor) == pytest.approx((60 + 0) / (60 + 20))
    with pytest.raises(ValueError, match="differ in shape"):
        hot_contrast(shown[0], sensor)


def test_every_sensors_default_keeps_the_cameras_brightness(daylight_weights):  # noqa: F811
    assert {sensor: choose_render("auto", sensor, predicts_lightness=True) for sensor in SENSORS} == dict.fromkeys(
        SENSORS, "sensor")  # fmt: skip
    assert daylight(daylight_weights).render == "sensor"
    assert daylight(daylight_weights, "daylight").render == "daylight"  # still there, asked for


def test_eval_reports_it_for_a_night_sensor(pair_folder, daylight_weights, colorizer):  # noqa: F811
    scores = {render: evaluate(daylight(daylight_weights, render), pair_folder) for render in ("sensor", "daylight")}
    per_photo = [p["vidcolor"]["hot_contrast"] for p in scores["sensor"]["per_photo"]]
    assert len(per_photo) == 5 and all(abs(c - 1) < 0.05 for c in per_photo)  # the sensor's L*, colour added
    assert scores["sensor"]["vidcolor"]["hot_contrast"] == pytest.approx(np.mean(per_photo))
    # the test model brightens everything by 25 L*: what is hot is clipped at white, so less stands out
    assert scores["daylight"]["vidcolor"]["hot_contrast"] < scores["sensor"]["vidcolor"]["hot_contrast"] - 0.05
    # the pairs' sensor frames are their colour frames inverted: what is hot there is dark in the truth
    assert scores["sensor"]["truth"]["hot_contrast"] < 0
    mean = scores["sensor"]["vidcolor"]["hot_contrast"]
    assert f"hot-object contrast, output / sensor: vidcolor {mean:.2f}x, truth -" in format_scores(scores["sensor"])
    visible = evaluate(colorizer, pair_folder)
    assert "hot_contrast" not in visible["vidcolor"] and "hot-object" not in format_scores(visible)


def test_eval_video_reports_it_for_a_night_sensor(daylight_weights, colorizer, tmp_path):  # noqa: F811
    write_video(tmp_path / "scene_ir.mp4", frames=5)
    write_video(tmp_path / "scene_rgb.mp4", frames=5)
    results = {render: evaluate_clip(daylight(daylight_weights, render), tmp_path / "scene_ir.mp4", [0.9], frames=5)
               for render in ("sensor", "daylight")}  # fmt: skip
    sensor = results["sensor"]["scores"]
    assert all(sensor[run]["hot_contrast"] == pytest.approx(1.0, abs=1e-4) for run in sensor if run != "truth")
    assert results["daylight"]["scores"]["per-frame"]["hot_contrast"] < 0.95
    table = format_hot_contrast([results["sensor"]])
    assert table.splitlines()[-1].split()[:2] == ["mean", "1.00x"]
    visible = evaluate_clip(colorizer, tmp_path / "scene_ir.mp4", [0.9], frames=5)
    assert "hot_contrast" not in visible["scores"]["per-frame"] and format_hot_contrast([visible]) is None


@pytest.mark.skipif(not THERMAL_HOLDOUT.is_dir(), reason="needs ../shared/data/ir/thermal/holdout")
def test_the_shipped_thermal_default_keeps_what_is_hot_visible(tmp_path):
    """Issue 34's bar on every 10th held-out pair, both sets (the old default, daylight, kept 0.11x)."""
    for ir in sorted(THERMAL_HOLDOUT.glob("*_ir.webp"))[::10]:
        for path in (ir, ir.with_name(ir.name.replace("_ir.", "_rgb."))):
            (tmp_path / path.name).symlink_to(path)
    thermal = Colorizer(backend="cpu", sensor="thermal")
    scores = evaluate(thermal, tmp_path)
    assert scores["photos"] == 9
    assert scores["vidcolor"]["hot_contrast"] >= 0.9
    assert min(p["vidcolor"]["hot_contrast"] for p in scores["per_photo"]) >= 0.9
