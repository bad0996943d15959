"""The file pipeline end to end on real encoded media: frames, timestamps, luma, audio, sizes, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import TEST_SIZE, run_cli
from media import CLIPS_DIR, as_background_job, audio_packets, decode_frames, frame_times, luma_planes, write_video

from vidcolor import colorize_file
from vidcolor.sources import luma_plane
from vidcolor.train.evaluate import psnr


def _stream_seconds(path: Path, kind: str) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.get(**{kind: 0})[0]
        return float(stream.duration * stream.time_base)


def test_constant_rate_frames_and_timestamps(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", frames=20, fps=24)
    result = colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    assert result.frames == 20 and not result.interrupted
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(frame_times(src), abs=1e-6)
    assert _stream_seconds(tmp_path / "out.mp4", "video") == pytest.approx(_stream_seconds(src, "video"), abs=1e-3)


def test_variable_rate_timestamps_kept(tmp_path, colorizer):
    times = [0.0, 0.04, 0.05, 0.2, 0.21, 0.5, 0.9, 0.95, 1.3, 1.31]
    src = write_video(tmp_path / "vfr.mp4", frames=len(times), frame_times=times)
    assert frame_times(src) == pytest.approx(times, abs=1e-4)  # the input really is variable rate
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(times, abs=1e-4)


def test_output_luma_is_input_luma(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", width=160, height=96, frames=8)
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer, crf=12)
    for before, after in zip(luma_planes(src), luma_planes(tmp_path / "out.mp4"), strict=True):
        assert psnr(before, after) >= 40.0


def test_output_is_colour_h264_420(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", frames=4)
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    frames = decode_frames(tmp_path / "out.mp4")
    assert frames[0].format.name == "yuv420p"
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    chroma = np.frombuffer(frames[0].planes[1], np.uint8)
    assert np.abs(chroma.astype(int) - 128).max() > 2  # the model wrote chroma, not neutral grey


def test_audio_is_kept(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", frames=24, fps=24, audio_seconds=1.0)
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    frame_seconds = 1 / 24
    out_seconds = _stream_seconds(tmp_path / "out.mp4", "audio")
    assert out_seconds == pytest.approx(_stream_seconds(src, "audio"), abs=frame_seconds)
    with av.open(str(tmp_path / "out.mp4")) as out, av.open(str(src)) as original:
        assert out.streams.audio[0].codec_context.name == "aac"
        assert out.streams.audio[0].frames == original.streams.audio[0].frames  # copied packet for packet


def test_audio_reencoded_when_container_refuses_codec(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mov", frames=24, fps=24, audio_seconds=1.0, audio_codec="pcm_mulaw")
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer)
    with av.open(str(tmp_path / "out.mp4")) as out:
        assert out.streams.audio[0].codec_context.name == "aac"
    assert _stream_seconds(tmp_path / "out.mp4", "audio") == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "aac"), (".mov", "pcm_s16le")])
def test_pcm_audio_becomes_aac_in_mp4_only_and_keeps_its_language(tmp_path, colorizer, suffix, codec):
    src = write_video(tmp_path / "in.mov", frames=24, audio_seconds=1.0, audio_codec="pcm_s16le", audio_language="fra")
    out = tmp_path / f"out{suffix}"
    colorize_file(src, out, colorizer=colorizer)
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert (audio.codec_context.name, audio.metadata.get("language")) == (codec, "fra")
    assert _stream_seconds(out, "audio") == pytest.approx(1.0, abs=0.05)


def test_odd_size_is_cropped_to_even(tmp_path, colorizer):
    src = write_video(tmp_path / "odd.mkv", width=641, height=359, frames=5, pix_fmt="yuv444p")
    colorize_file(src, tmp_path / "out.mp4", colorizer=colorizer, crf=12)
    out_frames = decode_frames(tmp_path / "out.mp4")
    assert (out_frames[0].width, out_frames[0].height) == (640, 358)
    assert len(out_frames) == 5
    for before, after in zip(luma_planes(src), map(luma_plane, out_frames), strict=True):
        assert psnr(before[:358, :640], after) >= 40.0


def test_colour_input_uses_luma_only(tmp_path, colorizer):
    """A colour clip and its grey version (same Y', neutral chroma) must colorize identically."""
    colour = write_video(tmp_path / "colour.mkv", frames=4, codec="ffv1")
    grey = tmp_path / "grey.mkv"
    with av.open(str(colour)) as src, av.open(str(grey), "w") as dst:
        stream = dst.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for frame in src.decode(video=0):
            planes = frame.to_ndarray()  # (H * 3/2, W): Y then U, V
            planes[64:] = 128
            out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            out.pts, out.time_base = frame.pts, frame.time_base
            dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))
    colorize_file(colour, tmp_path / "a.mkv", colorizer=colorizer, crf=0)
    colorize_file(grey, tmp_path / "b.mkv", colorizer=colorizer, crf=0)
    for a, b in zip(decode_frames(tmp_path / "a.mkv"), decode_frames(tmp_path / "b.mkv"), strict=True):
        np.testing.assert_array_equal(a.to_ndarray(), b.to_ndarray())


@pytest.mark.skipif(not (CLIPS_DIR / "street_people_audio.mp4").is_file(), reason="shared clips not present")
def test_real_clip_with_audio(tmp_path, weights):
    clip = CLIPS_DIR / "street_people_audio.mp4"
    result = run_cli(clip, "-o", tmp_path / "out.mp4", "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu")
    assert result.returncode == 0, result.stderr
    assert "backend cpu" in result.stderr
    out = tmp_path / "out.mp4"
    assert frame_times(out) == pytest.approx(frame_times(clip), abs=1e-6)
    assert _stream_seconds(out, "audio") == pytest.approx(_stream_seconds(clip, "audio"), abs=1 / 50)


def test_quiet_success_prints_nothing(tmp_path, weights):
    src = write_video(tmp_path / "in.mp4", frames=3)
    result = run_cli(src, "-o", tmp_path / "out.mp4", "--weights", weights, "--size", TEST_SIZE, "-q")
    assert result.returncode == 0 and result.stderr == "" and result.stdout == ""


def test_sigint_leaves_playable_shorter_file(tmp_path, weights):
    src = write_video(tmp_path / "long.mp4", width=320, height=192, frames=600, fps=30)
    out = tmp_path / "out.mp4"
    partial = tmp_path / ".out.mp4.partial.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--weights", str(weights),
         "--size", str(TEST_SIZE), "--preset", "ultrafast"],
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, preexec_fn=as_background_job,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not partial.exists() and time.monotonic() < deadline:  # created once the model is loaded
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(1.0)  # let some frames through
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not partial.exists()
    frames = frame_times(out)
    assert 0 < len(frames) < 600
    assert frames == pytest.approx(frame_times(src)[: len(frames)], abs=1e-6)


def test_images_file_and_folder(tmp_path, weights):
    import cv2
    from media import picture

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("a.png", "b.jpg")):
        grey = cv2.cvtColor(picture(i, 120, 80), cv2.COLOR_RGB2GRAY)
        cv2.imwrite(str(folder / name), grey)
    single = run_cli(folder / "a.png", "-o", tmp_path / "a_out.png", "--weights", weights, "--size", TEST_SIZE, "-q")
    assert single.returncode == 0, single.stderr
    out = cv2.imread(str(tmp_path / "a_out.png"))
    assert out.shape == (80, 120, 3)
    batch = run_cli(folder, "-o", tmp_path / "out", "--weights", weights, "--size", TEST_SIZE, "-q")
    assert batch.returncode == 0, batch.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg"]
    assert os.listdir(folder) == os.listdir(folder)  # input folder untouched


def test_aac_is_copied_into_mpeg_ts_in_sync(tmp_path, colorizer, caplog):
    """MPEG-TS carries AAC (with ADTS headers): copied, not re-encoded, and still in step with the video."""
    src = write_video(tmp_path / "in.mp4", frames=25, fps=25, audio_seconds=1.0)
    with caplog.at_level("INFO", logger="vidcolor"):
        colorize_file(src, tmp_path / "out.ts", colorizer=colorizer)
    assert not [r for r in caplog.records if "re-encoding" in r.getMessage()]
    before, after = audio_packets(src), audio_packets(tmp_path / "out.ts")
    assert len(before) == len(after)
    assert all(ts[1][7:] == mp4[1] for mp4, ts in zip(before, after, strict=True))  # the same AAC frames
    lead = frame_times(src)[0] - before[0][0]
    assert frame_times(tmp_path / "out.ts")[0] - after[0][0] == pytest.approx(lead, abs=1e-3)


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])
def test_an_undetermined_language_stays_undetermined(tmp_path, colorizer, suffix):
    """FFmpeg reads "und" back as no tag, and writes "und" for no tag: what the file holds is what counts (in
    Matroska a track without a language element would be English)."""
    src = write_video(tmp_path / f"in{suffix}", frames=12, audio_seconds=0.5, audio_language="und")
    colorize_file(src, tmp_path / f"out{suffix}", colorizer=colorizer)
    original, data = src.read_bytes(), (tmp_path / f"out{suffix}").read_bytes()
    if suffix == ".mkv":
        assert data.count(b"\x22\xb5\x9c\x83und") == 2  # TrackLanguage "und", video and audio
    else:  # each track's media header: the same language code as the input's ("unspecified")
        def languages(data: bytes) -> list[bytes]:
            return [data[at + 24 : at + 26] for at in range(len(data)) if data[at : at + 4] == b"mdhd"]
        assert languages(data) == languages(original) == [b"\x7f\xff"] * 2
