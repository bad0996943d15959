"""vidcolor batch --split-minutes: a long video cut at keyframes into segments colorized by several workers, joined
back with the input's every frame, timestamp and audio packet; per-frame progress; each worker's share of cores."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import TEST_SIZE
from media import audio_packets, chroma_planes, frame_times, write_video

from vidcolor import Colorizer, batch
from vidcolor.batch import split
from vidcolor.batch.discover import Job, find_jobs
from vidcolor.batch.local import LocalPool
from vidcolor.batch.worker import Outcome, model_threads
from vidcolor.pipeline import colorize_file
from vidcolor.sources import Segment

FPS, SECONDS = 24, 8
SPLIT_MINUTES = 0.05  # 3 s: the 8-s film is cut in three, at keyframes (one a second)
# veryfast encodes B-frames (ultrafast does not): the joins must keep the decode times rising
PRESET = "veryfast"


@pytest.fixture
def film(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return write_video(tmp_path / "src" / "film.mp4", width=160, height=96, fps=FPS, frames=FPS * SECONDS,
                       keyframe_every=FPS, audio_seconds=SECONDS)  # fmt: skip


def options(weights: Path | None) -> batch.ColorOptions:
    """``weights`` None: the shipped fast model."""
    model = "fast" if weights is None else "auto"
    return batch.ColorOptions(model=model, weights=weights, size=TEST_SIZE, backend="cpu", preset=PRESET)


def manifest_lines(dst: Path) -> list[dict]:
    return [json.loads(line) for line in (dst / batch.MANIFEST_NAME).read_text().splitlines()]


def time_base(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        return container.streams.video[0].time_base


def keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(p.pts * p.time_base) for p in container.demux(video=0) if p.dts is not None and p.is_keyframe]


def test_a_split_film_joins_to_the_inputs_frames_times_and_audio(film: Path) -> None:
    """The shipped model, not random weights: its colour follows the picture, so a seam where the smoother
    started cold would show (4.8 Cb/Cr levels off an unbroken run at the seam; 0.7 warmed up, as the encoder's
    own differences elsewhere)."""
    dst = film.parent.parent / "dst"
    result = batch.run([film.parent], dst, options=options(None), workers=2, split_minutes=SPLIT_MINUTES)
    out = dst / "film.mp4"
    assert [o.job.output for o in result.done] == [out] and not result.failed
    segments = sorted((o.job.segment for o in result.worked), key=lambda s: s.start or 0)
    assert len(segments) == 3 and len({o.worker for o in result.worked}) == 2  # both workers had a part
    seams = [s.start * time_base(film) for s in segments[1:]]
    assert all(seam.denominator == 1 for seam in seams)  # cut at the input's keyframes (one a second)

    assert frame_times(out) == pytest.approx(frame_times(film), abs=1e-6)  # every frame once, at its time
    assert audio_packets(out) == audio_packets(film)  # muxed once, packet for packet
    assert {float(seam) for seam in seams} <= set(keyframe_times(out))  # each segment starts with a keyframe
    assert not split.split_folder(out).exists()  # the segments go once joined
    lines = manifest_lines(dst)
    assert [r["key"].split("/")[0] for r in lines if r["event"] == "done"] == [".film.mp4.split"] * 3 + ["film.mp4"]

    # the seams' colour against one unbroken run: the smoother was warmed up on the frames before each segment,
    # and a segment's last frame looked ahead to the frames after it
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, model="fast")
    reference = colorize_file(film, film.parent.parent / "reference.mp4", colorizer=colorizer, preset=PRESET)
    colour, expected = chroma_planes(out), chroma_planes(reference.output)
    for seam in seams:
        for frame in (int(seam * FPS) - 1, int(seam * FPS)):
            difference = np.abs(colour[frame] - expected[frame]).mean()
            assert difference < 1.2, (seam, frame, difference)

    stamp = out.stat().st_mtime_ns
    again = batch.run([film.parent], dst, options=options(None), workers=2, split_minutes=SPLIT_MINUTES)
    assert not again.done and not again.worked and [j.output for j in again.skipped] == [out]
    assert out.stat().st_mtime_ns == stamp and manifest_lines(dst) == lines  # nothing done, nothing written


def test_finished_segments_are_kept_for_the_join_of_a_later_run(film: Path, weights: Path, monkeypatch) -> None:
    dst = film.parent.parent / "dst"

    def killed(*_: object) -> int:
        raise KeyboardInterrupt  # the driver stopped after the last segment, before the join

    monkeypatch.setattr(split, "join", killed)
    with pytest.raises(KeyboardInterrupt):
        batch.run([film.parent], dst, options=options(weights), split_minutes=SPLIT_MINUTES)
    monkeypatch.undo()
    folder = split.split_folder(dst / "film.mp4")
    parts = sorted(folder.glob("*.mp4"))
    assert len(parts) == 3 and not (dst / "film.mp4").exists()
    parts[1].unlink()  # a finished segment file is the proof of done: this one is redone, alone

    result = batch.run([film.parent], dst, options=options(weights), split_minutes=SPLIT_MINUTES)
    assert [o.job.output for o in result.worked] == [parts[1]]
    assert [o.job.output.name for o in result.done] == ["film.mp4"]
    assert frame_times(dst / "film.mp4") == pytest.approx(frame_times(film), abs=1e-6)
    segment_done = [r["key"] for r in manifest_lines(dst) if r["event"] == "done" and ".split/" in r["key"]]
    assert len(segment_done) == 4 and segment_done[-1].endswith(parts[1].name)

    folder.mkdir()  # as a driver killed between the join and the clean-up leaves it
    (folder / parts[0].name).write_bytes(b"old")
    again = batch.run([film.parent], dst, options=options(weights), split_minutes=SPLIT_MINUTES)
    assert not again.done and not again.worked and not folder.exists()


class FakeEngine:
    """Stands in for the pool, one job at a time: each fails with ``reason``, or succeeds without writing."""

    workers = 1

    def __init__(self, reason: str) -> None:
        self.tried: list[Job] = []
        self.busy, self.reason = False, reason

    def idle(self) -> int:
        return int(not self.busy)

    def submit(self, job: Job) -> None:
        self.tried.append(job)
        self.busy = True

    def wait(self, timeout: float) -> list[Outcome]:
        self.busy = False
        return [Outcome(self.tried[-1], 0, 0.0, "fake", self.reason)]

    def progress(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass


def test_a_segment_that_fails_every_time_fails_its_film_once(film: Path, monkeypatch) -> None:
    engine = FakeEngine("cannot decode frame 7")
    monkeypatch.setattr(batch, "_engine", lambda *_, **__: engine)
    dst = film.parent.parent / "dst"
    first = batch.run([film.parent], dst, retries=1, split_minutes=SPLIT_MINUTES)
    assert [(job.output.name, times, reason) for job, times, reason in first.failed] == [
        ("film.mp4", 2, "cannot decode frame 7")]  # fmt: skip
    assert len(engine.tried) == 4 and engine.tried[0] == engine.tried[3]  # each tried, then the first given up
    again = batch.run([film.parent], dst, retries=1, split_minutes=SPLIT_MINUTES)
    assert len(engine.tried) == 4 and [job.output.name for job, _, _ in again.failed] == ["film.mp4"]


def test_a_join_that_fails_fails_its_film_alone(film: Path, monkeypatch) -> None:
    monkeypatch.setattr(batch, "_engine", lambda *_, **__: FakeEngine(""))  # "done", yet no segment file is there
    result = batch.run([film.parent], film.parent.parent / "dst", split_minutes=SPLIT_MINUTES)
    ((job, times, reason),) = result.failed
    assert job.output.name == "film.mp4" and reason.startswith("joining its segments: FileNotFoundError")


def test_a_segment_is_its_frames_alone_without_audio(film: Path, tmp_path: Path, colorizer) -> None:
    counted: list[int] = []
    second = round(1 / time_base(film))
    segment = Segment(start=2 * second, end=5 * second, first_frame=2 * FPS)
    result = colorize_file(film, tmp_path / "part.mp4", colorizer=colorizer, segment=segment, on_frames=counted.append)
    assert result.frames == sum(counted) == 3 * FPS  # told of every frame written, as it was written
    assert frame_times(result.output) == pytest.approx(frame_times(film)[2 * FPS : 5 * FPS], abs=1e-6)
    with av.open(str(result.output)) as container:
        assert not container.streams.audio  # the join muxes the input's audio, once
    assert keyframe_times(result.output)[0] == 2.0


def test_local_workers_say_how_far_their_file_is(film: Path, tmp_path: Path, weights: Path) -> None:
    (job,) = find_jobs([film], tmp_path / "out")
    pool = LocalPool(options(weights), overwrite=False, workers=1)
    try:
        pool.submit(job)
        heard, outcomes = [], []
        deadline = time.monotonic() + 60
        while not outcomes and time.monotonic() < deadline:
            outcomes = pool.wait(timeout=1.0)
            heard.append(pool.progress().get(job.key, 0))
    finally:
        pool.close()
    assert outcomes[0].ok and outcomes[0].frames == FPS * SECONDS
    assert 0 < max(heard) <= FPS * SECONDS  # counts came before the file was done


def test_each_worker_takes_its_share_of_the_cores(monkeypatch) -> None:
    import vidcolor.backends.base as base

    monkeypatch.setattr(base, "usable_cores", lambda: 16)
    assert [model_threads(16 // workers) for workers in (1, 2, 4, 32)] == [15, 8, 4, 1]
