"""Live mode's pace: the working size steps down while frames take longer than the camera's interval, says so
once, and steps back up when the larger size would fit again."""

from __future__ import annotations

import logging

from vidcolor.live_pace import SETTLE_FRAMES, SMALLEST_SIZE, LivePace


def _run(pace: LivePace, seconds_at_256: float, frames: int) -> list[int]:
    """Frames whose cost follows the working size's pixels (as the model's does); the sizes after each change."""
    sizes = []
    for _ in range(frames):
        if pace.frame_done(seconds_at_256 * (pace.size / 256) ** 2, source_fps=30.0):
            sizes.append(pace.size)
    return sizes


def test_steps_down_until_frames_fit_the_camera_and_says_so_once(caplog):
    pace = LivePace(256)
    with caplog.at_level(logging.INFO, logger="vidcolor"):
        sizes = _run(pace, seconds_at_256=0.045, frames=20 * SETTLE_FRAMES)  # 22 fps at 256 for a 30 fps camera
    assert sizes == [224, 192]  # 224: 0.034 s, still over 1/30; 192: 0.025 s fits, and 224 would not
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "working size 224 (from 256)" in warnings[0].getMessage()


def test_steps_back_up_when_the_machine_has_time_again_and_never_past_its_own_size():
    pace = LivePace(256)
    assert _run(pace, seconds_at_256=0.060, frames=20 * SETTLE_FRAMES)[-1] < 256
    assert _run(pace, seconds_at_256=0.015, frames=20 * SETTLE_FRAMES)[-1] == 256  # room again: back to 256
    assert pace.size == 256 and _run(pace, seconds_at_256=0.005, frames=5 * SETTLE_FRAMES) == []


def test_never_below_the_smallest_size_nor_before_it_has_timed_a_second():
    pace = LivePace(256)
    assert _run(pace, seconds_at_256=0.060, frames=SETTLE_FRAMES - 1) == []
    _run(pace, seconds_at_256=10.0, frames=50 * SETTLE_FRAMES)
    assert pace.size == SMALLEST_SIZE
