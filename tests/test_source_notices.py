"""What a source holds that the output cannot keep as it was: a display matrix (applied to the pixels), a bit
depth, interlacing, a cut-short or damaged end. Each is handled, said on one line, and the run still succeeds."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import TEST_SIZE, run_cli
from media import decode_frames, frame_times, luma_planes, write_video

from vidcolor.sources import luma_plane
from vidcolor.train.evaluate import psnr

FLAGS = ("--size", str(TEST_SIZE), "--backend", "cpu")  # no -q: the notices are info lines
NOTICES = ("as its display matrix says", "-bit; the output is 8-bit", "the source is interlaced")


def colorize(weights: Path, src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = run_cli(src, "-o", out, "--weights", weights, *FLAGS, *extra)
    assert result.returncode == 0, result.stderr
    return result


def display_matrix(path: Path) -> np.ndarray:
    """The first frame's display matrix, 3x3, its 16.16 fixed-point numbers as floats."""
    frame = decode_frames(path)[0]
    (data,) = [bytes(s) for s in frame.side_data if s.type.name == "DISPLAYMATRIX"]
    return np.frombuffer(data, np.int32).reshape(3, 3) / 65536


def displayed(luma: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The picture as a player shows it, following FFmpeg's definition (libavutil/display.h): the source point
    (p, q) goes to (a*p + c*q, b*p + d*q) for the matrix [[a, b, u], [c, d, v], [x, y, w]]; p right, q down."""
    (a, b), (c, d) = np.rint(matrix[:2, :2]).astype(int)
    q, p = np.mgrid[0 : luma.shape[0], 0 : luma.shape[1]]
    p2, q2 = a * p + c * q, b * p + d * q
    shown = np.zeros((np.ptp(q2) + 1, np.ptp(p2) + 1), luma.dtype)
    shown[q2 - q2.min(), p2 - p2.min()] = luma
    return shown


@pytest.mark.parametrize(
    ("suffix", "rotation", "mirrored", "action"),
    [
        (".mp4", 90, False, "rotating the picture 90° counter-clockwise"),
        (".mov", -90, False, "rotating the picture 90° clockwise"),
        (".mp4", 180, False, "rotating the picture 180°"),
        (".mp4", 0, True, "mirroring the picture left to right"),
        (".mov", 90, True, "rotating the picture 90° counter-clockwise and mirroring it left to right"),
    ],
    ids=["90", "-90-mov", "180", "mirrored", "90-mirrored-mov"],
)
def test_display_matrix_is_applied_to_the_pixels(
    tmp_path: Path, weights: Path, suffix: str, rotation: int, mirrored: bool, action: str
) -> None:
    src = write_video(tmp_path / f"phone{suffix}", width=96, height=64, frames=3, rotation=rotation, mirrored=mirrored)
    upright = displayed(luma_planes(src)[0], display_matrix(src))
    result = colorize(weights, src, tmp_path / "out.mp4")
    assert result.stderr.count(f"{action} as its display matrix says") == 1, result.stderr
    frames = decode_frames(tmp_path / "out.mp4")
    assert len(frames) == 3 and frames[0].rotation == 0  # upright pixels, no flag left for players to apply twice
    out = luma_plane(frames[0])
    assert out.shape == upright.shape
    assert psnr(out, upright) >= 40.0
    assert psnr(out, np.rot90(upright, 2)) < 25.0  # the picture tells the directions apart


def test_cut_short_file_keeps_what_was_read_and_says_so(tmp_path: Path, weights: Path) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames=50, faststart=True).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) * 6 // 10])  # the index up front still lists all 50
    result = colorize(weights, tmp_path / "cut.mp4", tmp_path / "out.mp4", "-q")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    read = re.search(r"read only (\d+) of 50 frames", lines[0])
    assert read, lines[0]
    assert 0 < int(read[1]) < 50
    assert len(decode_frames(tmp_path / "out.mp4")) == int(read[1])


def test_damaged_file_stops_at_the_damage_and_keeps_what_was_read(tmp_path: Path, weights: Path) -> None:
    data = bytearray(write_video(tmp_path / "whole.mov", frames=50).read_bytes())
    start = len(data) * 4 // 10
    data[start : start + 200] = np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes()
    (tmp_path / "damaged.mov").write_bytes(data)
    result = colorize(weights, tmp_path / "damaged.mov", tmp_path / "out.mp4", "-q")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Invalid data" in lines[0], result.stderr
    read = re.search(r"read only (\d+) of 50 frames", lines[0])
    assert read and 0 < int(read[1]) < 50, lines[0]
    assert len(decode_frames(tmp_path / "out.mp4")) == int(read[1])


def test_clip_trimmed_by_an_edit_list_is_not_called_short(tmp_path: Path, weights: Path) -> None:
    """A file cut without re-encoding keeps frames before its edit list's start; players never show them."""
    src = write_video(tmp_path / "whole.mp4", frames=50)
    with av.open(str(src)) as whole, av.open(str(tmp_path / "trimmed.mp4"), "w") as trimmed:
        video = whole.streams.video[0]
        stream = trimmed.add_stream_from_template(video)
        hidden = round(10 / 24 / video.time_base)  # the first 10 frames go before time 0
        for packet in whole.demux(video):
            if packet.dts is not None:
                packet.pts, packet.dts, packet.stream = packet.pts - hidden, packet.dts - hidden, stream
                trimmed.mux(packet)
    with av.open(str(tmp_path / "trimmed.mp4")) as container:
        assert container.streams.video[0].frames == 50  # the header still counts them
    result = colorize(weights, tmp_path / "trimmed.mp4", tmp_path / "out.mp4", "-q")
    assert result.stderr == ""
    assert len(decode_frames(tmp_path / "out.mp4")) == 40


def test_ten_bit_source_is_said_to_become_8_bit(tmp_path: Path, weights: Path) -> None:
    src = write_video(tmp_path / "deep.mp4", frames=3, pix_fmt="yuv420p10le")
    result = colorize(weights, src, tmp_path / "out.mp4")
    assert result.stderr.count("yuv420p10le is 10-bit; the output is 8-bit yuv420p") == 1, result.stderr
    assert decode_frames(tmp_path / "out.mp4")[0].format.name == "yuv420p"


def test_interlaced_source_is_said_to_become_progressive(tmp_path: Path, weights: Path) -> None:
    src = write_video(tmp_path / "fields.mp4", frames=3, interlaced=True)
    assert all(f.interlaced_frame for f in decode_frames(src))
    result = colorize(weights, src, tmp_path / "out.mp4")
    assert result.stderr.count("the source is interlaced") == 1, result.stderr
    assert not any(f.interlaced_frame for f in decode_frames(tmp_path / "out.mp4"))


def test_plain_clip_gets_none_of_these_notices(tmp_path: Path, weights: Path) -> None:
    result = colorize(weights, write_video(tmp_path / "plain.mp4", frames=3), tmp_path / "out.mp4")
    assert not [n for n in NOTICES if n in result.stderr], result.stderr


def test_timestamps_that_do_not_increase_are_repaired_and_said(tmp_path: Path, weights: Path) -> None:
    """Every packet at pts = dts = 0 (frame.pts set without a time base): colorized whole, spaced by the frame rate."""
    src = tmp_path / "zero.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), index * 10, np.uint8), format="rgb24")
            frame.pts = 0
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(src)) as container:
        assert {(p.pts, p.dts) for p in container.demux(video=0) if p.size} == {(0, 0)}
    result = colorize(weights, src, tmp_path / "out.mp4")
    assert "the timestamps repeat or go back from frame 1 on: repaired from the frame rate" in result.stderr
    times = frame_times(tmp_path / "out.mp4")
    assert len(times) == 20 and np.allclose(np.diff(times), 1 / 25)
