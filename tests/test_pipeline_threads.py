"""Failure in any of the three threads stops all of them, is raised once, and leaves no partial file."""

from __future__ import annotations

import threading

import pytest
from media import frame_times, write_video

from vidcolor import colorize_file
from vidcolor.colorizer import Colorizer
from vidcolor.sinks import VideoFileSink


class Boom(RuntimeError):
    pass


def _fail_on_call(n: int, real):
    calls = {"count": 0}

    def wrapper(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == n:
            raise Boom(f"failure on call {n}")
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize(
    "owner, method",
    [
        (Colorizer, "model_input_of"), (Colorizer, "run_network"), (Colorizer, "guided"), (Colorizer, "prediction_of"),
        (Colorizer, "chroma"), (VideoFileSink, "write_frame"),
    ],  # fmt: skip
)
def test_failure_stops_everything(tmp_path, colorizer, monkeypatch, owner, method):
    src = write_video(tmp_path / "in.mp4", frames=40)
    monkeypatch.setattr(owner, method, _fail_on_call(5, getattr(owner, method)))
    with pytest.raises(Boom, match="failure on call 5"):
        colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("vidcolor")]  # all joined
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_batching_keeps_every_frame_in_order(tmp_path, colorizer, batch):
    src = write_video(tmp_path / "in.mp4", frames=11, audio_seconds=11 / 24)
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer, batch=batch)
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(frame_times(src), abs=1e-6)


def test_profile_accounts_each_stage(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", frames=30)
    result = colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    times = result.times
    assert times.frames == result.frames == 30
    assert [stage.name for stage in times.stages] == ["decode", "model", "smooth", "encode"]
    assert all(stage.cpu > 0 for stage in times.stages)
    assert sum(stage.cpu for stage in times.stages) <= times.process_cpu * 1.05  # thread CPU is part of the process's
    # the encoder starts before the first frame is decoded and predicted: it waits for its input
    assert times.stages[3].waiting_for_input > 0
    table = times.table().splitlines()
    assert [line.split()[0] for line in table[1:5]] == ["decode", "model", "smooth", "encode"]
    assert table[-1].startswith("wall ") and "fps" in table[-1]
