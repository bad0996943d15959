"""The temporal smoother on synthetic motion: it steadies colour, follows motion, and resets on cuts."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, run_cli
from media import CLIPS_DIR, luma_planes, write_video

from vidcolor import Colorizer
from vidcolor.temporal import TemporalSmoother

H, W, SIDE = 96, 128, 32


def texture(seed: int) -> np.ndarray:
    """Smooth random L* texture (H, W) in 20..80, rich enough for optical flow."""
    noise = np.random.default_rng(seed).random((H, W)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return 20 + 60 * (blurred - blurred.min()) / (blurred.max() - blurred.min())


def as_tensors(lightness: np.ndarray, ab: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(lightness)[None, None].float(), torch.from_numpy(ab)[None].float()


def test_strength_zero_is_per_frame_exactly():
    smoother = TemporalSmoother(0.0)
    lightness, ab = as_tensors(texture(0), np.random.default_rng(1).normal(0, 30, (2, H, W)))
    assert smoother(lightness, ab) is ab


def test_static_flicker_settles():
    smoother, still = TemporalSmoother(0.8), texture(0)
    outputs = []
    for t in range(30):
        flicker = np.full((2, H, W), 10.0 if t % 2 else -10.0, np.float32)  # per-frame colour flips
        outputs.append(smoother(*as_tensors(still, flicker))[0].numpy())
    swing = np.abs(outputs[-1] - outputs[-2]).mean()
    assert swing < 0.3 * 20.0
    assert smoother.cuts == 0


def test_cut_resets_to_the_new_prediction():
    smoother = TemporalSmoother(0.9)
    first_ab = np.full((2, H, W), 40.0, np.float32)
    for _ in range(3):
        smoother(*as_tensors(texture(0), first_ab))
    other_shot = np.clip(texture(5) * 0.3 + 65, 0, 100)  # a much brighter scene
    new_ab = np.full((2, H, W), -30.0, np.float32)
    out = smoother(*as_tensors(other_shot, new_ab))[0].numpy()
    np.testing.assert_array_equal(out, new_ab)
    assert smoother.cuts == 1


def cut_frames(clip: Path, weights: Path) -> list[int]:
    """The frames of a real clip where the smoother resets, fed exactly as the file pipeline feeds it."""
    colorizer, smoother = Colorizer(backend="cpu", size=256, weights=weights), TemporalSmoother(0.9)
    cuts = []
    for index, luma in enumerate(luma_planes(clip)):
        lightness = colorizer.model_input(colorizer.lightness_from_luma(torch.from_numpy(luma[None]), False))
        before = smoother.cuts
        smoother(lightness, torch.zeros(1, 2, *lightness.shape[-2:]))
        if smoother.cuts > before:
            cuts.append(index)
    return cuts


@pytest.mark.skipif(not CLIPS_DIR.is_dir(), reason="shared clips not present")
def test_real_cuts_reset_and_a_busy_shot_does_not(weights):
    # Three hard cuts (about 3.7, 6.3 and 7.9 s), the first between two shots of the same room.
    assert cut_frames(CLIPS_DIR / "asl_scene_cuts.mp4", weights) == [109, 186, 235]
    # Cars, shadows and exposure changes: the busiest single shot of the shared clips.
    assert cut_frames(CLIPS_DIR / "traffic_overhead.mp4", weights) == []


def test_moving_square_keeps_its_colour_without_trail():
    smoother, background, square = TemporalSmoother(0.9), texture(0), texture(9)[:SIDE, :SIDE] * 0.4 + 55
    step, top = 3, 30
    for t in range(6):
        left = 10 + step * t
        frame = background.copy()
        frame[top : top + SIDE, left : left + SIDE] = square
        ab = np.zeros((2, H, W), np.float32)
        if t == 0:  # only the first prediction knows the square is red
            ab[0, top : top + SIDE, left : left + SIDE] = 40.0
        out = smoother(*as_tensors(frame, ab))[0].numpy()
    inner = out[0, top + 6 : top + SIDE - 6, left + 6 : left + SIDE - 6]
    assert inner.mean() > 0.4 * 40.0  # the colour travelled with the square
    vacated = out[0, top + 6 : top + SIDE - 6, 10 : 10 + step * 4]  # where the square was at the start
    assert np.abs(vacated).mean() < 0.25 * 40.0  # no trail left behind


def test_strength_out_of_range_is_refused():
    with pytest.raises(ValueError, match="0..1"):
        TemporalSmoother(1.5)


def test_eval_video_reports_per_frame_both_smoothers_and_truth(tmp_path, weights):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "moving.mp4", width=160, height=96, frames=8)
    result = run_cli("eval-video", clips, "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu",
                     "--smooth", "0.5", "--frames", "8", "--strips", tmp_path / "strips", "-q",
                     "--json", tmp_path / "scores.json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    for run in ("truth", "per-frame", "live 0.5", "file 0.5", "CDC / the truth's CDC", "moving.mp4",
                "against the grey picture's"):  # fmt: skip
        assert run in result.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())["clips"][0]["scores"]
    grey_row = next(line for line in result.stdout.splitlines()[::-1] if line.startswith("moving.mp4"))
    assert f"{scores['truth']['grey_psnr']:.2f}" in grey_row  # the grey picture's PSNR, then each run's against it
    assert f"{scores['file 0.5']['psnr'] - scores['truth']['grey_psnr']:+.2f}" in grey_row
    assert cv2.imread(str(tmp_path / "strips" / "moving.jpg")) is not None


def test_eval_video_refuses_a_clip_with_no_colour_to_score_against(tmp_path, weights):
    grey = tmp_path / "thermal.mp4"
    with av.open(str(grey), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for t in range(6):
            picture = np.tile(np.linspace(0, 255, 160, dtype=np.float32) + 8 * t, (96, 1)).clip(0, 255)
            frame = av.VideoFrame.from_ndarray(picture.astype(np.uint8), format="gray").reformat(format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    result = run_cli("eval-video", grey, "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu",
                     "--frames", "6", "-q")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "vidcolor: error: thermal.mp4 has no colour to score against: a grey or infrared clip is scored only beside "
        "its colour partner (NAME_rgb.mp4 beside NAME_ir.mp4)"]
