"""Bad inputs, outputs and weights: each is refused with one `vidcolor: error:` line and nothing on disk changes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import pytest
from conftest import TEST_SIZE, run_cli
from media import decode_frames, picture, write_tone, write_video

from vidcolor.models.presets import PRESETS

FAST = ("--size", str(TEST_SIZE), "--backend", "cpu", "-q")
CLIP_FRAMES = 4

Scene = tuple[list, list[str]]  # (arguments after the fast flags, words the error line must contain)
CASES: list = []


def case(name: str, *marks: pytest.MarkDecorator) -> Callable:
    """Register a scene builder ``(tmp_path, clip) -> (args, needles)`` as one parametrized case."""

    def register(build: Callable[[Path, Path], Scene]) -> Callable[[Path, Path], Scene]:
        CASES.append(pytest.param(build, id=name, marks=marks))
        return build

    return register


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``: new outputs, temp files and edits all show up."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in root.rglob("*")}


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0, f"expected a failure, got exit 0; stderr: {result.stderr!r}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one error line, got {len(lines)}:\n{result.stderr}"
    assert lines[0].startswith("vidcolor: error:"), lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def assert_untouched(root: Path, before: dict[str, bytes | None]) -> None:
    after = snapshot(root)
    assert sorted(after.keys() - before.keys()) == [], "files were created"
    assert sorted(before.keys() - after.keys()) == [], "files were removed"
    assert sorted(k for k in before if before[k] != after[k]) == [], "files were changed"


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "in.mp4", frames=CLIP_FRAMES)


# 1-4: inputs that are missing or not a usable video


@case("missing-input")
def _missing_input(tmp: Path, clip: Path) -> Scene:
    return [tmp / "missing.mp4", "-o", tmp / "out.mp4"], ["input not found", str(tmp / "missing.mp4")]


@case("text-named-mp4")
def _text_as_video(tmp: Path, clip: Path) -> Scene:
    (tmp / "x.mp4").write_text("this is not a video\n")
    return [tmp / "x.mp4", "-o", tmp / "out.mp4"], [str(tmp / "x.mp4")]


@case("truncated-mp4")
def _truncated(tmp: Path, clip: Path) -> Scene:
    data = write_video(tmp / "whole.mp4", frames=30).read_bytes()
    (tmp / "trunc.mp4").write_bytes(data[: len(data) // 2])
    return [tmp / "trunc.mp4", "-o", tmp / "out.mp4"], [str(tmp / "trunc.mp4")]


@case("audio-only")
def _audio_only(tmp: Path, clip: Path) -> Scene:
    with av.open(str(tmp / "tone.m4a"), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "mono"
        write_tone(container, stream, 0.3)
    return [tmp / "tone.m4a", "-o", tmp / "out.mp4"], [str(tmp / "tone.m4a"), "no video stream"]


# 5: outputs that cannot be written where asked


@pytest.mark.parametrize("suffix", [".webm", ".gif", ".avi", ".png", ""])
def test_unwritable_video_suffix_is_refused_up_front(tmp_path: Path, clip: Path, weights: Path, suffix: str) -> None:
    before = snapshot(tmp_path)
    result = run_cli("--weights", weights, *FAST, clip, "-o", tmp_path / f"out{suffix}")
    assert_one_line_error(result, str(tmp_path / f"out{suffix}"), ".mp4, .m4v, .mov, .mkv, .ts")
    assert_untouched(tmp_path, before)
    assert "model" not in run_cli("--weights", weights, "--size", str(TEST_SIZE), clip, "-o", tmp_path / "o.gif").stderr


def test_an_existing_output_is_refused_before_the_model_loads(tmp_path: Path, clip: Path, weights: Path) -> None:
    (tmp_path / "out.mp4").write_bytes(b"precious earlier result")
    result = run_cli("--weights", weights, "--size", TEST_SIZE, clip, "-o", tmp_path / "out.mp4")
    assert_one_line_error(result, "exists", "-y")
    assert "model" not in result.stderr and "backend" not in result.stderr


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_nothing_can_be_created_in_is_one_line(clip: Path, weights: Path) -> None:
    """/proc passes os.access for root and still refuses every new file: named, no internals."""
    result = run_cli("--weights", weights, *FAST, clip, "-o", "/proc/x.mp4")
    assert_one_line_error(result, "cannot write in output folder /proc")
    assert "partial" not in result.stderr


def test_a_working_size_above_the_picture_is_refused(tmp_path: Path, clip: Path, weights: Path) -> None:
    """--size 4096 on a small clip ran for minutes without a word; the default (256) is always allowed."""
    result = run_cli("--weights", weights, "--backend", "cpu", "-q", "--size", "1024", clip, "-o", tmp_path / "o.mp4")
    assert_one_line_error(result, "--size 1024 is larger than this 96x64 input needs", "--size 256 or less")


def test_a_working_size_above_a_photo_is_refused(tmp_path: Path, weights: Path) -> None:
    """As for a video: --size 4096 on a 256 px photo ran 32 s without a word."""
    cv2.imwrite(str(tmp_path / "still.png"), picture(0, 96, 64))
    result = run_cli("--weights", weights, "--backend", "cpu", "-q", "--size", "1024", tmp_path / "still.png", "-o",
                     tmp_path / "o.png")  # fmt: skip
    assert_one_line_error(result, "--size 1024 is larger than this 96x64 input needs", "--size 256 or less")
    assert not (tmp_path / "o.png").exists()


def test_a_photo_given_a_video_name_is_refused_before_the_model_loads(tmp_path: Path, weights: Path) -> None:
    """As a video given an image's name is: at once, not after the model has loaded."""
    cv2.imwrite(str(tmp_path / "still.png"), picture(0, 96, 64))
    result = run_cli("--weights", weights, "--size", TEST_SIZE, tmp_path / "still.png", "-o", tmp_path / "out.mp4")
    assert_one_line_error(result, "out.mp4 needs an image suffix")
    assert "backend" not in result.stderr


def test_vidcolor_alone_lists_what_it_does(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert "Colorize a grayscale video" in result.stdout and "vidcolor batch, live, serve, train" in result.stdout


def test_live_record_suffix_is_refused_before_the_stream_opens(tmp_path: Path, weights: Path) -> None:
    result = run_cli("live", "udp://127.0.0.1:9", "--no-window", "--record", tmp_path / "rec.webm", "--timeout", "30",
                     "--weights", weights, "--size", TEST_SIZE, timeout=20)  # fmt: skip
    assert_one_line_error(result, "rec.webm", ".mp4")


def test_missing_output_folders_are_created(tmp_path: Path, clip: Path, weights: Path) -> None:
    """One rule for every mode: the output's missing parent folders are made, as a folder of images always did."""
    cv2.imwrite(str(tmp_path / "still.png"), picture(0, 96, 64))
    video_out, image_out = tmp_path / "a" / "b" / "out.mp4", tmp_path / "c" / "d" / "still.png"
    record_out = tmp_path / "e" / "rec.mkv"
    for args in ([clip, "-o", video_out], [tmp_path / "still.png", "-o", image_out],
                 ["live", clip, "--no-window", "--frames", "3", "--record", record_out]):  # fmt: skip
        result = run_cli(*args, "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu", "-q")
        assert result.returncode == 0 and result.stderr == "", result.stderr
    assert len(decode_frames(video_out)) == CLIP_FRAMES
    assert cv2.imread(str(image_out)).shape == (64, 96, 3)
    assert len(decode_frames(record_out)) == 3


@case("output-parent-is-file")
def _output_parent_is_file(tmp: Path, clip: Path) -> Scene:
    (tmp / "plain.txt").write_text("a file, not a folder\n")
    return [clip, "-o", tmp / "plain.txt" / "out.mp4"], [str(tmp / "plain.txt")]


@case("output-folder-read-only", pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a 0o500 folder"))
def _output_folder_read_only(tmp: Path, clip: Path) -> Scene:
    (tmp / "locked").mkdir(mode=0o500)  # pytest's tmp cleanup restores permissions before deleting
    return [clip, "-o", tmp / "locked" / "out.mp4"], [str(tmp / "locked"), "not writable"]


# 6-7: outputs that would clobber something


@case("output-exists-without-y")
def _output_exists(tmp: Path, clip: Path) -> Scene:
    (tmp / "out.mp4").write_bytes(b"precious earlier result")
    return [clip, "-o", tmp / "out.mp4"], [str(tmp / "out.mp4"), "-y"]


@case("output-is-input")
def _output_is_input(tmp: Path, clip: Path) -> Scene:
    return [clip, "-o", clip, "-y"], [str(clip), "is the input"]


@case("output-is-input-respelled")
def _output_is_input_respelled(tmp: Path, clip: Path) -> Scene:
    respelled = clip.parent / ".." / clip.parent.name / clip.name
    return [clip, "-o", respelled, "-y"], [str(respelled), "is the input"]


# 8: unusable weights (a later --weights replaces the fixture's: argparse keeps the last)


@case("weights-missing")
def _weights_missing(tmp: Path, clip: Path) -> Scene:
    return [clip, "-o", tmp / "out.mp4", "--weights", "/nonexistent.pt"], ["/nonexistent.pt"]


@case("weights-garbage")
def _weights_garbage(tmp: Path, clip: Path) -> Scene:
    (tmp / "junk.pt").write_bytes(b"\x00not a checkpoint\xff" * 64)
    return [clip, "-o", tmp / "out.mp4", "--weights", tmp / "junk.pt"], [str(tmp / "junk.pt")]


# 11: images where the output does not fit


@case("image-to-video-suffix")
def _image_to_video(tmp: Path, clip: Path) -> Scene:
    cv2.imwrite(str(tmp / "still.png"), picture(0, 96, 64))
    return [tmp / "still.png", "-o", tmp / "out.mp4"], [str(tmp / "out.mp4"), "image suffix"]


@case("image-folder-to-existing-file")
def _image_folder_to_file(tmp: Path, clip: Path) -> Scene:
    (tmp / "stills").mkdir()
    cv2.imwrite(str(tmp / "stills" / "a.png"), picture(1, 96, 64))
    (tmp / "taken.png").write_bytes(b"an existing file")
    return [tmp / "stills", "-o", tmp / "taken.png", "-y"], [str(tmp / "taken.png"), "is a file"]


@case("image-folder-to-video-name")
def _image_folder_to_video_name(tmp: Path, clip: Path) -> Scene:
    (tmp / "stills").mkdir()
    cv2.imwrite(str(tmp / "stills" / "a.png"), picture(1, 96, 64))
    return [tmp / "stills", "-o", tmp / "film.mp4"], [str(tmp / "film.mp4"), "needs an output folder"]


@pytest.mark.parametrize("build", CASES)
def test_refused_with_one_line(build: Callable[[Path, Path], Scene], tmp_path: Path, clip: Path, weights: Path) -> None:
    args, needles = build(tmp_path, clip)
    before = snapshot(tmp_path)
    result = run_cli("--weights", weights, *FAST, *args)
    assert_one_line_error(result, *needles)
    assert_untouched(tmp_path, before)


@pytest.mark.skipif(PRESETS["fast"].weights.exists(), reason=f"{PRESETS['fast'].weights} is installed")
def test_no_shipped_weights(tmp_path: Path, clip: Path) -> None:
    before = snapshot(tmp_path)
    result = run_cli(*FAST, "--model", "fast", clip, "-o", tmp_path / "out.mp4")
    assert_one_line_error(result, "no trained weights are installed")
    assert_untouched(tmp_path, before)


def test_size_not_multiple_of_32(tmp_path: Path, clip: Path, weights: Path) -> None:
    before = snapshot(tmp_path)
    result = run_cli("--weights", weights, *FAST, "--size", "100", clip, "-o", tmp_path / "out.mp4")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]  # argparse prints its usage lines first
    assert last.startswith("vidcolor: error: argument --size") and "100" in last, result.stderr
    assert_untouched(tmp_path, before)


def test_existing_output_replaced_with_y(tmp_path: Path, clip: Path, weights: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious earlier result")
    clip_bytes = clip.read_bytes()
    result = run_cli("--weights", weights, *FAST, clip, "-o", out, "-y")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(decode_frames(out)) == CLIP_FRAMES
    assert clip.read_bytes() == clip_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]  # no .out.partial.mp4 left


@pytest.mark.parametrize(("args", "hint"), [
    (["in.mp4", "--ouput", "out.mp4"], "did you mean --output?"),
    (["in.mp4", "-o", "out.mp4", "--smoth", "0.3"], "did you mean --smooth?"),
    (["live", "0", "--no-windw"], "did you mean --no-window?"),
    (["bnech"], "did you mean 'vidcolor bench'?"),
])  # fmt: skip
def test_typo_names_what_was_meant(tmp_path: Path, args: list[str], hint: str) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and hint in result.stderr.strip().splitlines()[-1], result.stderr
    assert list(tmp_path.iterdir()) == []
