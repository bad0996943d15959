"""What survives what: kill -9 mid-run leaves a playable partial output (then a re-run resumes it); Ctrl-C a
shorter finished output, which the same command continues too."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import TEST_SIZE, run_cli
from media import audio_packets, chroma_planes, frame_times, luma_planes, write_video

from vidcolor.batch.discover import Job
from vidcolor.batch.worker import ColorOptions, FileWorker
from vidcolor.train.evaluate import psnr

CLIP_FRAMES = 600  # 20 s at 30 fps: ten fragments


def start_run(src: Path, out: Path, *extra: str | Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--size", str(TEST_SIZE), "--backend", "cpu",
         "--preset", "ultrafast", *map(str, extra)],
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for_bytes(proc: subprocess.Popen, partial: Path, size: int) -> None:
    """Until ``partial`` holds ``size`` bytes, the run still going."""
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size >= size) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)


def kill_after_fragments(proc: subprocess.Popen, partial: Path, size: int) -> None:
    """SIGKILL once ``partial`` holds ``size`` bytes: no handler runs, nothing is flushed or finished."""
    wait_for_bytes(proc, partial, size)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def interrupt_after_fragments(proc: subprocess.Popen, partial: Path, size: int) -> str:
    """SIGINT (Ctrl-C) once ``partial`` holds ``size`` bytes; the run's stderr once it has finished its output."""
    wait_for_bytes(proc, partial, size)
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, stderr
    return stderr


def playable_frames(path: Path) -> int:
    """Frames a player shows from a file the disk filled up mid-write: up to where it is cut off."""
    shown = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                shown += 1
        except av.FFmpegError:
            pass
    return shown


@pytest.fixture
def long_clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "long.mp4", width=320, height=192, frames=CLIP_FRAMES, fps=30, audio_seconds=20.0)


def test_kill_9_leaves_a_playable_partial(tmp_path: Path, long_clip: Path, weights: Path) -> None:
    out = tmp_path / "out.mp4"
    partial = tmp_path / ".out.mp4.partial.mp4"
    kill_after_fragments(start_run(long_clip, out, "--weights", weights), partial, 200_000)
    assert not out.exists()
    kept = frame_times(partial)
    assert 60 <= len(kept) < CLIP_FRAMES  # at least a whole fragment (2 s), not all of it
    assert kept == pytest.approx(frame_times(long_clip)[: len(kept)], abs=1e-6)


def test_rerun_after_kill_9_resumes_to_the_uninterrupted_result(tmp_path: Path, long_clip: Path) -> None:
    """The shipped model, not random weights: its colour follows the picture, so the seam would show if the
    smoother started cold there (1.48 levels without the warm-up; 0.36 with it)."""
    reference = tmp_path / "reference.mp4"
    assert start_run(long_clip, reference, "--model", "fast", "-q").wait(timeout=120) == 0
    out = tmp_path / "out.mp4"
    kill_after_fragments(start_run(long_clip, out, "--model", "fast"), tmp_path / ".out.mp4.partial.mp4", 200_000)
    rerun = start_run(long_clip, out, "--model", "fast")
    stderr = rerun.communicate(timeout=120)[1]
    assert rerun.returncode == 0, stderr
    resumed_at = int(re.search(r"resuming at 00:00:\d\d \(frame (\d+) of 600\)", stderr).group(1))
    assert 60 <= resumed_at < CLIP_FRAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4", "out.mp4", "reference.mp4"]
    assert frame_times(out) == pytest.approx(frame_times(long_clip), abs=1e-6)  # every frame, its own time
    assert audio_packets(out) == audio_packets(long_clip)  # copied packet for packet, none twice, none lost
    luma_psnr = psnr(np.stack(luma_planes(out)), np.stack(luma_planes(long_clip)))
    assert luma_psnr > 40, luma_psnr
    colour, expected = chroma_planes(out), chroma_planes(reference)
    assert all((a == b).all() for a, b in zip(colour[:resumed_at], expected[:resumed_at], strict=True))  # kept
    seam = np.abs(colour[resumed_at] - expected[resumed_at]).mean()  # the smoother warmed up again: no jump
    assert seam < 0.5, seam


def test_the_same_command_continues_what_ctrl_c_finished(tmp_path: Path, long_clip: Path, weights: Path) -> None:
    """Ctrl-C finishes a shorter output that plays. It was refused afterwards ("output exists; pass -y") by the
    same command and by --restart alike, while kill -9 resumed: now the same command continues it as it resumes
    a killed run, and other settings are refused with the output kept."""
    out = tmp_path / "out.mp4"
    stopped = interrupt_after_fragments(start_run(long_clip, out, "--weights", weights),
                                        tmp_path / ".out.mp4.partial.mp4", 200_000)  # fmt: skip
    kept = len(frame_times(out))
    assert 60 <= kept < CLIP_FRAMES
    assert f"holds the first {kept} frames and plays; the same command continues it" in stopped
    shorter = out.read_bytes()
    other = start_run(long_clip, out, "--weights", weights, "--crf", "30")
    stderr = other.communicate(timeout=120)[1]
    assert other.returncode == 1 and stderr.strip().splitlines()[-1] == (
        f"vidcolor: error: output {out} is what an interrupted run left, but crf changed since: the command that "
        "made it continues it; -y redoes it"), stderr  # fmt: skip
    assert out.read_bytes() == shorter
    same = start_run(long_clip, out, "--weights", weights)
    stderr = same.communicate(timeout=120)[1]
    assert same.returncode == 0, stderr
    assert f"resuming at 00:00:{kept // 30:02d} (frame {kept} of 600)" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4", "out.mp4"]
    assert frame_times(out) == pytest.approx(frame_times(long_clip), abs=1e-6)
    assert audio_packets(out) == audio_packets(long_clip)


def test_restart_redoes_what_ctrl_c_finished(tmp_path: Path, colorizer, caplog) -> None:
    """--restart starts an interrupted run's output afresh, as it does a killed run's partial."""
    from vidcolor.pipeline import colorize_file
    from vidcolor.resume import Interruption, interrupted_path

    src, out = write_video(tmp_path / "in.mp4", frames=24), tmp_path / "out.mov"
    first = Interruption(out, overwrite=False)
    colorize_file(src, out, colorizer=colorizer, on_frames=first.note)
    assert first.keep(24) and interrupted_path(out).is_file()  # as if a Ctrl-C had stopped it there
    again = Interruption(out, overwrite=False)
    assert again.continues
    with caplog.at_level("INFO", logger="vidcolor"):
        colorize_file(src, out, colorizer=colorizer, overwrite=True, restart=True)
    assert "starting afresh, not continuing the interrupted run's out.mov: --restart" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mov"]
    assert not Interruption(out, overwrite=True).continues and len(frame_times(out)) == 24


@pytest.fixture
def worker_logging() -> Iterator[None]:
    """A batch worker takes the vidcolor logger over (its notices travel back with its outcomes): give it back,
    or later tests in this process would see no log records."""
    logger = logging.getLogger("vidcolor")
    level, propagate, handlers = logger.level, logger.propagate, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.propagate = propagate
    logger.handlers[:] = handlers


@pytest.mark.usefixtures("worker_logging")
def test_a_batch_worker_says_it_resumed(tmp_path: Path, long_clip: Path, weights: Path) -> None:
    """A batch re-run continues a killed file as single-file mode does, and says so (with the frames kept)."""
    out = tmp_path / "out.mp4"
    kill_after_fragments(start_run(long_clip, out, "--weights", weights), tmp_path / ".out.mp4.partial.mp4", 200_000)
    options = ColorOptions(weights=weights, size=TEST_SIZE, backend="cpu", preset="ultrafast")
    job = Job("video", long_clip, out, "out.mp4", long_clip.stat().st_size)
    outcome = FileWorker(options, overwrite=False, name="test").run(job)
    assert outcome.ok and outcome.frames == CLIP_FRAMES, outcome.reason
    kept = int(re.search(r"resumed a killed run's partial output: its first (\d+) frames kept", outcome.warnings[0])[1])
    assert 0 < kept < CLIP_FRAMES and len(frame_times(out)) == CLIP_FRAMES


def test_changed_settings_start_afresh_and_say_why(tmp_path: Path, long_clip: Path, weights: Path) -> None:
    out = tmp_path / "out.mp4"
    kill_after_fragments(start_run(long_clip, out, "--weights", weights), tmp_path / ".out.mp4.partial.mp4", 200_000)
    rerun = start_run(long_clip, out, "--weights", weights, "--crf", "30")
    stderr = rerun.communicate(timeout=120)[1]
    assert rerun.returncode == 0, stderr
    assert "resuming at" not in stderr
    assert "starting afresh, not resuming the earlier run's .out.mp4.partial.mp4: crf changed since" in stderr
    assert len(frame_times(out)) == CLIP_FRAMES


def test_a_partial_killed_before_its_header_was_whole_starts_afresh(tmp_path: Path, long_clip: Path,
                                                                  weights: Path) -> None:  # fmt: skip
    """A run killed as it opened its output leaves a partial no demuxer reads: the re-run starts over, not fails."""
    out, partial = tmp_path / "out.mp4", tmp_path / ".out.mp4.partial.mp4"
    kill_after_fragments(start_run(long_clip, out, "--weights", weights), partial, 200_000)
    partial.write_bytes(partial.read_bytes()[:16])  # where the kill lands a moment earlier
    rerun = start_run(long_clip, out, "--weights", weights)
    stderr = rerun.communicate(timeout=120)[1]
    assert rerun.returncode == 0, stderr
    assert "starting afresh, not resuming the earlier run's .out.mp4.partial.mp4: it holds no whole fragment" in stderr
    assert len(frame_times(out)) == CLIP_FRAMES


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 400 KiB tmpfs, to fill: a real full disk (ENOSPC from the kernel). Needs root and mount rights."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_is_one_line_and_keeps_the_partial(small_disk: Path, long_clip: Path, weights: Path) -> None:
    (small_disk / "filler").write_bytes(bytes(250_000))  # leaves room for about half of the output
    out = small_disk / "out.mp4"
    run = start_run(long_clip, out, "--weights", weights)
    stderr = run.communicate(timeout=120)[1]
    assert run.returncode == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"vidcolor: error: no space left on device writing to {small_disk} (") and (
        "bytes written); " in last and "the same command resumes from there" in last
    ), last
    assert "Traceback" not in stderr
    assert not out.exists()
    assert 0 < playable_frames(small_disk / ".out.mp4.partial.mp4") < CLIP_FRAMES  # it plays, for the resume


def test_full_disk_stops_the_recording_not_the_live_view(small_disk: Path, tmp_path: Path, weights: Path) -> None:
    # 10 fps: a loaded machine keeps up too (at 30 it dropped over half the frames and never filled the disk)
    camera = write_video(tmp_path / "camera.mp4", width=640, height=384, frames=120, fps=10)
    (small_disk / "filler").write_bytes(bytes(375_000))  # leaves room for about half of the recording
    record = small_disk / "rec.mp4"
    result = run_cli("live", camera, "--no-window", "--frames", "120", "--record", record, "--weights", weights,
                     "--size", TEST_SIZE, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "recording stopped: no space left on device" in result.stderr and "the live view goes on" in result.stderr
    shown, dropped = re.search(r"(\d+) frames in .* dropped (\d+)", result.stderr.strip().splitlines()[-1]).groups()
    assert int(shown) + int(dropped) == 120  # the live loop ran to the end (a busy machine may drop a frame or two)
    assert "Traceback" not in result.stderr
    assert 0 < playable_frames(small_disk / ".rec.mp4.partial.mp4") < 120  # what was recorded plays


def test_a_failure_while_finishing_keeps_the_whole_partial(tmp_path: Path, colorizer, monkeypatch) -> None:
    """The remux at the end fails after all the work: one line, and the partial (every frame, playable) stays."""
    from vidcolor import fragments, pipeline
    from vidcolor.errors import OutputError

    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    write_video(src, frames=12)

    def failing_finish(partial: Path, output: Path, **_: object) -> None:
        raise av.error.ArgumentError(22, "Invalid argument")

    monkeypatch.setattr(fragments, "finish", failing_finish)
    with pytest.raises(OutputError, match="holds every frame and plays"):
        pipeline.colorize_file(src, out, colorizer=colorizer)
    assert not out.exists() and playable_frames(fragments.fragments_path(out)) == 12


def test_resume_keeps_every_whole_fragment(tmp_path: Path, colorizer, monkeypatch) -> None:
    """A whole partial keeps all its frames; one cut inside a fragment keeps the fragments before it, one cut
    just after a fragment keeps that fragment too."""
    from vidcolor import fragments, pipeline
    from vidcolor.errors import OutputError
    from vidcolor.resume import find_cut

    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    write_video(src, frames=150, fps=30, audio_seconds=5.0)
    finish = fragments.finish
    monkeypatch.setattr(fragments, "finish", lambda *_, **__: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(OutputError):
        pipeline.colorize_file(src, out, colorizer=colorizer)
    partial = fragments.fragments_path(out)
    whole = find_cut(partial)
    assert (whole.frames, whole.resume_at) == (150, 5)
    data = partial.read_bytes()
    mdats = [i - 4 for i in range(len(data)) if data[i : i + 4] == b"mdat"]  # each fragment's media box
    ends = [at + int.from_bytes(data[at : at + 4], "big") for at in mdats]
    with av.open(str(partial)) as container:
        positions = [packet.pos for packet in container.demux(video=0) if packet.dts is not None]
    whole = [sum(pos < end for pos in positions) for end in ends]  # frames in the fragments up to each
    assert len(ends) >= 3 and 0 < whole[0] < whole[1] < whole[2]
    for size, frames in ((ends[1], whole[1]), (ends[2] - 100, whole[1]), (ends[1] - 1, whole[0])):
        cut_short = tmp_path / f"cut{size}.mp4"
        cut_short.write_bytes(data[:size])
        assert find_cut(cut_short).frames == frames, size
    monkeypatch.setattr(fragments, "finish", finish)
    assert pipeline.colorize_file(src, out, colorizer=colorizer).resumed_at == 150  # nothing left but the remux
    assert frame_times(out) == pytest.approx(frame_times(src), abs=1e-6)
    assert audio_packets(out) == audio_packets(src)
