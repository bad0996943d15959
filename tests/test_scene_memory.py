"""The scene memory on synthetic scenes: a still background whose predicted colour swings is held steady, live and
in files; a moving thing keeps its own colour; a cut starts a new memory; a pan moves it with the view; a change of
lighting keeps it; a known colour seeds it; a colour the predictions swing across fades; what comes to stand is
learnt anew after about two seconds; in files, a shot the model cannot agree on fades what moves too; what a person
told (hints, a reference) is neither faded nor overridden."""

from __future__ import annotations

import numpy as np
import pytest
from test_lookahead import run
from test_temporal import SIDE, H, W, as_tensors, texture

from vidcolor.lookahead import LookAheadSmoother
from vidcolor.scene_memory import SceneMemory
from vidcolor.temporal import TemporalSmoother, lightness_levels

FRAMES = 60


def swinging(t: int, colour: float = 0.0) -> np.ndarray:
    """A prediction (2, H, W) whose a* swings slowly by +-20 around ``colour``, as the model's does on asphalt."""
    ab = np.zeros((2, H, W), np.float32)
    ab[0] = colour + 20 * np.sin(t / 4)
    return ab


def levels_of(frame: np.ndarray) -> np.ndarray:
    """An L* frame (H, W) as the uint8 levels the smoother and the memory compare."""
    return lightness_levels(as_tensors(frame, np.zeros((2, H, W), np.float32))[0])[0]


def smoother_for(mode: str, remember: bool) -> TemporalSmoother | LookAheadSmoother:
    return TemporalSmoother(0.9, remember=remember) if mode == "live" else LookAheadSmoother(0.9, remember=remember)


@pytest.mark.parametrize("mode", ["live", "file"])
def test_a_still_background_holds_its_colour_where_the_prediction_swings(mode):
    frames = [(texture(0), swinging(t)) for t in range(FRAMES)]
    swing = {remember: np.stack(run(smoother_for(mode, remember), frames))[FRAMES // 2 :, 0].std(axis=0).mean()
             for remember in (False, True)}  # fmt: skip
    assert swing[True] < 0.25 * swing[False] and swing[True] < 2.0, swing  # held within seconds (30 frames)


def test_a_moving_thing_keeps_its_own_colour_and_leaves_no_trail():
    background, square = texture(0), texture(9)[:SIDE, :SIDE] * 0.4 + 55
    smoother, top, step = TemporalSmoother(0.9), 30, 3
    for t in range(30):
        left = 10 + step * (t % 25)  # across the frame and back to the start
        frame, ab = background.copy(), swinging(t)
        frame[top : top + SIDE, left : left + SIDE] = square
        ab[0, top : top + SIDE, left : left + SIDE] = 40.0
        out = smoother.step(levels_of(frame), ab.transpose(1, 2, 0))
    inner = out[top + 6 : top + SIDE - 6, left + 6 : left + SIDE - 6, 0]
    assert inner.mean() > 30.0  # its own colour, not the background's remembered one
    far = out[top + 6 : top + SIDE - 6, 100:, 0]  # background the square never crossed: the memory's mean colour
    assert np.abs(far).mean() < 8.0


def test_a_cut_starts_a_new_memory():
    smoother = TemporalSmoother(0.9)
    run(smoother, [(texture(0), swinging(t, 30.0)) for t in range(30)])
    before = smoother.memory
    after = run(smoother, [(texture(5), swinging(0, -30.0))])[0]
    assert smoother.cuts == 1 and smoother.memory is not before
    assert np.allclose(after[0], -30.0, atol=1.0)  # nothing of the old shot's colour


def test_a_pan_moves_the_memory_with_the_view():
    wide = np.concatenate([texture(0), texture(1)], axis=1)  # the scene, twice as wide as the view
    truth = np.where(np.arange(2 * W) < W, 30.0, -30.0).astype(np.float32)  # red left half, blue right half
    frames, noise = [], np.random.default_rng(2)
    for t in range(40):  # the view slides right 1 px a frame; each frame's prediction is off by up to 20
        ab = np.zeros((2, H, W), np.float32)
        ab[0] = truth[t : t + W] + noise.uniform(-20, 20)
        frames.append((wide[:, t : t + W], ab))
    smoother = TemporalSmoother(0.9)
    outputs = run(smoother, frames)
    error = np.abs(outputs[-1][0, :, 8:-8] - truth[39 + 8 : 39 + W - 8]).mean()
    assert error < 6.0, error  # where the memory knows the view, its colour sits on the scene, not on the screen
    assert not np.allclose(smoother.memory._placed, np.eye(3))  # it was moved with the view


def test_a_change_of_lighting_keeps_the_memory():
    smoother, still = TemporalSmoother(0.9), texture(0)
    run(smoother, [(still, swinging(0, 30.0)) for _ in range(30)])
    # the camera's exposure goes up by 10 L* over ten frames, while the model's colour turns to its opposite
    brighter = run(smoother, [(still + t, swinging(0, -30.0)) for t in range(1, 11)])
    assert brighter[-1][0].mean() > 20.0  # still the remembered colour
    assert smoother.cuts == 0 and smoother.memory.confidence.min() > 10


def test_a_known_colour_seeds_the_memory():
    memory, levels = SceneMemory(), levels_of(texture(0))
    observed = memory.observe(levels, np.zeros((H, W, 2), np.float32), None)
    trust = np.zeros((H, W), np.float32)
    trust[:, : W // 2] = 1.0  # the reference shows the left half
    memory.seed(np.full((H, W, 2), 25.0, np.float32), trust, levels)
    out = memory.apply(levels, np.zeros((H, W, 2), np.float32), observed)
    assert np.allclose(out[:, 4 : W // 2 - 4], 25.0, atol=0.5) and np.abs(out[:, W // 2 + 4 :]).max() < 15.0


@pytest.mark.parametrize("mode", ["live", "file"])
def test_a_colour_the_predictions_swing_across_fades_and_one_they_agree_on_stays(mode):
    noise, frames = np.random.default_rng(3), []
    for t in range(FRAMES):  # the left half steady at a* 30 (+-3), the right swinging by +-25 around 10, as asphalt
        ab = np.zeros((2, H, W), np.float32)
        ab[0, :, : W // 2] = 30.0 + noise.uniform(-3, 3)
        ab[0, :, W // 2 :] = 10.0 + 25 * np.sin(t / 4)
        frames.append((texture(0), ab))
    last = np.stack(run(smoother_for(mode, True), frames)[-10:])[:, 0]
    assert last[:, :, 4 : W // 2 - 4].mean() > 26.0  # agreed on: kept
    assert np.abs(last[:, :, W // 2 + 4 : -4]).mean() < 12.0  # swung across: faded (16-17 without the spread)


def test_what_comes_to_stand_is_learnt_anew_after_about_two_seconds_and_what_lingers_less_is_not():
    background, car, top, stop = texture(0), texture(9)[:SIDE, :SIDE] * 0.4 + 55, 30, 61

    def at(left: int) -> np.ndarray:
        frame = background.copy()
        frame[top : top + SIDE, left : left + SIDE] = car
        return frame

    inside = (slice(top + 6, top + SIDE - 6), slice(stop + 6, stop + SIDE - 6))
    smoother = TemporalSmoother(0.9)
    run(smoother, [(at(10), swinging(t, 30.0)) for t in range(30)])  # a car waits at the left
    run(smoother, [(at(left), swinging(0, 30.0)) for left in range(13, stop + 1, 3)])  # drives on and stops

    def unlike_the_car() -> float:  # L* levels between the memory's background and the car standing there
        return float(np.abs(smoother.memory.lightness[inside] - levels_of(at(stop))[inside]).mean())

    def stands(frames: int) -> list[np.ndarray]:
        return run(smoother, [(at(stop), swinging(t, -30.0)) for t in range(frames)])

    stands(40)  # 1.3 s at 30 fps: someone lingering, a car waiting at a light
    assert unlike_the_car() > 40.0  # the road is still remembered there
    shown = np.stack(stands(80))[-20:, 0][(slice(None), *inside)]  # 4 s in all: it is part of the scene now
    assert unlike_the_car() < 2.0 and smoother.cuts == 0
    assert shown.mean() < -20.0 and shown.std(axis=0).mean() < 3.0  # its own colour, held (the prediction swings 20)


def test_in_files_the_shots_doubt_fades_what_moves_too_but_not_what_a_person_told_and_live_leaves_it():
    scene, square, top, step = texture(0), texture(9)[:SIDE, :SIDE] * 0.4 + 55, 30, 3
    last = 10 + step * ((FRAMES - 1) % 25)
    inner = (0, slice(top + 6, top + SIDE - 6), slice(last + 6, last + SIDE - 6))

    def shown(mode: str, background, hinted: bool = False) -> float:  # a square of a* 40 crossing a background
        frames = []  # coloured background(t); ``hinted``: a person told the square's colour (its hint followed)
        for t in range(FRAMES):
            frame, ab, told = scene.copy(), background(t), np.zeros((H, W), np.float32)
            left = 10 + step * (t % 25)
            frame[top : top + SIDE, left : left + SIDE] = square
            ab[0, top : top + SIDE, left : left + SIDE] = 40.0
            told[top : top + SIDE, left : left + SIDE] = 1.0
            frames.append((frame, ab, told) if hinted else (frame, ab))
        return float(run(smoother_for(mode, True), frames)[-1][inner].mean())

    def steady(t: int) -> np.ndarray:  # the model agrees on the background's colour
        return swinging(0, 30.0)

    swung = swinging  # it swings by +-20 around grey
    assert shown("live", swung) > 36.0  # live keeps what moves as the model colours it
    assert shown("file", steady) > 36.0  # a shot the model is sure of keeps its colours
    assert shown("file", swung) < 32.0  # one it is not: its moving square is doubted too (40 without)
    assert shown("file", swung, hinted=True) > 36.0  # but not a colour a person gave it: the doubt is the model's


@pytest.mark.parametrize("mode", ["live", "file"])
def test_a_colour_told_of_a_still_background_takes_over_from_the_memory(mode):
    still, told = texture(0), np.zeros((H, W), np.float32)
    told[:, : W // 2] = 1.0  # a person tells the left half's colour, a* -30, once the memory is sure of a* 30
    hinted = swinging(0, 30.0)
    hinted[0, :, : W // 2] = -30.0
    frames = [(still, swinging(0, 30.0)) for _ in range(30)] + [(still, hinted, told) for _ in range(30)]
    last = run(smoother_for(mode, True), frames)[-1][0]
    assert last[:, 4 : W // 2 - 4].mean() < -25.0  # the told colour (the memory held it at a* 13-16 before)
    assert last[:, W // 2 + 4 : -4].mean() > 25.0  # and the rest as remembered
