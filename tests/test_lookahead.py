"""File mode's smoother, which looks ahead: every frame handed back once and in order with what the caller kept
with it, colour that only later frames know reaching the frames before them, no ghost where a moving thing is
going to be, cuts that stop it in both directions, and memory bounded by its window."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from test_temporal import SIDE, H, W, as_tensors, texture

from vidcolor.lookahead import LookAheadSmoother
from vidcolor.temporal import TemporalSmoother


def run(smoother, frames: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
    """Each (L*, a*b*) frame pushed alone, or (L*, a*b*, where its colour is told); the outputs in the order they
    came back."""
    outputs = []
    for index, (lightness, ab, *told) in enumerate(frames):
        for payload, out in smoother.push(*as_tensors(lightness, ab), index, None, told[0][None] if told else None):
            assert payload == len(outputs)  # in order, none skipped
            outputs.append(out[0].numpy())
    outputs += [out[0].numpy() for _, out in smoother.flush()]
    assert len(outputs) == len(frames)
    return outputs


def test_batches_come_back_in_order_with_their_payloads_and_memory_stays_bounded():
    smoother, block = LookAheadSmoother(0.9, block=4), 4
    still, back, pushed = texture(0), [], 0
    for number in range(40):
        if number % 5 == 4:  # a batch of no frames (audio alone) keeps its place
            back += smoother.push(None, None, ("audio", number))
            continue
        batch = np.random.default_rng(number).normal(0, 5, (3, 2, H, W)).astype(np.float32)
        lightness = torch.from_numpy(np.stack([still] * 3))[:, None].float()
        back += smoother.push(lightness, torch.from_numpy(batch), ("video", number))
        pushed += 3
        handed_on = sum(0 if out is None else len(out) for _, out in back)
        assert pushed - handed_on <= 2 * block + 3  # held: one window and the batch that did not fit
    back += smoother.flush()
    assert [payload for payload, _ in back] == [("audio" if n % 5 == 4 else "video", n) for n in range(40)]
    assert all((out is None) == (kind == "audio") for (kind, _), out in back)
    assert all(out.shape == (3, 2, H, W) for (kind, _), out in back if kind == "video")


def test_strength_zero_hands_each_batch_back_at_once_untouched():
    smoother = LookAheadSmoother(0.0)
    lightness, ab = as_tensors(texture(0), np.random.default_rng(1).normal(0, 30, (2, H, W)).astype(np.float32))
    [(payload, out)] = smoother.push(lightness, ab, "p")
    assert payload == "p" and torch.equal(out, ab) and smoother.flush() == []


def test_flicker_settles_more_than_live_smoothing_does():
    still = texture(0)
    frames = [(still, np.full((2, H, W), 10.0 if t % 2 else -10.0, np.float32)) for t in range(40)]
    swings = {}
    for name, smoother in (("live", TemporalSmoother(0.9)), ("file", LookAheadSmoother(0.9, block=8))):
        out = np.stack(run(smoother, frames) if name == "file" else [smoother(*as_tensors(*f))[0].numpy()
                                                                    for f in frames])  # fmt: skip
        swings[name] = np.abs(np.diff(out[5:-5], axis=0)).mean()
    assert swings["file"] < 0.7 * swings["live"], swings


def test_a_colour_only_later_frames_know_reaches_the_frames_before_without_a_ghost():
    """A square moves right; only the last prediction knows it is red. The earlier frames take the red where the
    square was then (moved back along the motion), not where it is going to be."""
    background, square = texture(0), texture(9)[:SIDE, :SIDE] * 0.4 + 55
    step, top, count = 3, 30, 8
    frames = []
    for t in range(count):
        left = 10 + step * t
        frame = background.copy()
        frame[top : top + SIDE, left : left + SIDE] = square
        ab = np.zeros((2, H, W), np.float32)
        if t == count - 1:
            ab[0, top : top + SIDE, left : left + SIDE] = 40.0
        frames.append((frame, ab))
    # the look-ahead alone: the scene memory took the square's first place for background, and a colour given
    # once there after seven frames of grey is, by the shot's evidence, a doubt that fades what moves (files)
    out = run(LookAheadSmoother(0.9, block=4, remember=False), frames)
    t = count - 3
    left = 10 + step * t
    assert out[t][0, top + 6 : top + SIDE - 6, left + 6 : left + SIDE - 6].mean() > 0.2 * 40.0  # it came back
    ahead = out[t][0, top + 6 : top + SIDE - 6, left + SIDE : left + SIDE + 2 * step]  # where the square goes
    assert np.abs(ahead).mean() < 0.1 * 40.0
    assert np.abs(out[0][0]).mean() < np.abs(out[t][0]).mean()  # fading with distance, not copied


def test_a_cut_stops_the_colour_in_both_directions():
    first, other = texture(0), np.clip(texture(5) * 0.3 + 65, 0, 100)  # two shots, the second much brighter
    frames = [(first, np.full((2, H, W), 40.0, np.float32)) for _ in range(6)]
    frames += [(other, np.full((2, H, W), -30.0, np.float32)) for _ in range(6)]
    smoother = LookAheadSmoother(0.9, block=4)
    out = run(smoother, frames)
    assert smoother.cuts == 1
    np.testing.assert_allclose(np.stack(out[:6]), 40.0, atol=1e-4)
    np.testing.assert_allclose(np.stack(out[6:]), -30.0, atol=1e-4)


def test_block_must_be_positive():
    with pytest.raises(ValueError, match="block"):
        LookAheadSmoother(0.9, block=0)


def test_a_segment_reads_past_its_end_for_the_look_ahead_alone(tmp_path):
    """A split video's segment hands out the frames after its end too, flagged not to be written."""
    from media import write_video

    from vidcolor.sources import FileSource

    source = FileSource(write_video(tmp_path / "film.mp4", frames=20, fps=10))
    try:
        step = round(1 / (source.info.frame_rate * source.info.time_base))
        source.stop_at(12 * step, look_ahead=5)
        frames = [item for item in source.items() if not isinstance(item, av.Packet)]
    finally:
        source.close()
    assert [f.index for f in frames] == list(range(17))
    assert [f.warm_up for f in frames] == [False] * 12 + [True] * 5
