"""What survives what: kill -9 mid-run leaves a playable partial output (then a re-run resumes it)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_SIZE
from media import frame_times, write_video

CLIP_FRAMES = 600  # 20 s at 30 fps: ten fragments


def start_run(src: Path, out: Path, weights: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--weights", str(weights),
         "--size", str(TEST_SIZE), "--preset", "ultrafast", "-q", *extra],
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def kill_after_fragments(proc: subprocess.Popen, partial: Path, size: int) -> None:
    """SIGKILL once ``partial`` holds ``size`` bytes: no handler runs, nothing is flushed or finished."""
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size >= size) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def long_clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "long.mp4", width=320, height=192, frames=CLIP_FRAMES, fps=30, audio_seconds=20.0)


def test_kill_9_leaves_a_playable_partial(tmp_path: Path, long_clip: Path, weights: Path) -> None:
    out = tmp_path / "out.mp4"
    partial = tmp_path / ".out.mp4.partial.mp4"
    kill_after_fragments(start_run(long_clip, out, weights), partial, 200_000)
    assert not out.exists()
    kept = frame_times(partial)
    assert 60 <= len(kept) < CLIP_FRAMES  # at least a whole fragment (2 s), not all of it
    assert kept == pytest.approx(frame_times(long_clip)[: len(kept)], abs=1e-6)
