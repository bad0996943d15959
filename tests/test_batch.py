"""vidcolor batch on local worker processes: a mirrored tree, a broken file reported, re-runs that redo only
what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from conftest import TEST_SIZE, run_cli
from media import decode_frames, picture, write_video

from vidcolor import batch
from vidcolor.batch.discover import find_jobs
from vidcolor.batch.manifest import Manifest
from vidcolor.errors import InputError, OutputError


def make_tree(root: Path) -> Path:
    """Two clips (one with audio, one deeper down and in another container), a photo, and a broken video."""
    src = root / "src"
    (src / "reels" / "1962").mkdir(parents=True)
    write_video(src / "intro.mp4", frames=36)
    write_video(src / "reels" / "1962" / "wedding.mov", frames=24, audio_seconds=1.0)
    cv2.imwrite(str(src / "reels" / "scan.png"), cv2.cvtColor(picture(3, 96, 64), cv2.COLOR_RGB2GRAY))
    (src / "reels" / "damaged.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000))
    (src / ".hidden.mp4").write_bytes(b"not media, not looked at")
    return src


def batch_cli(src: Path, dst: Path, weights: Path, *extra: str):
    return run_cli("batch", src, "-o", dst, "--weights", weights, "--size", str(TEST_SIZE), "--backend", "cpu",
                   "--preset", "ultrafast", *extra)  # fmt: skip


def done_lines(dst: Path) -> list[dict]:
    lines = (dst / batch.MANIFEST_NAME).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "done"]


def test_local_pool_mirrors_the_tree_and_reruns_redo_only_what_is_missing(tmp_path: Path, weights: Path) -> None:
    src, dst = make_tree(tmp_path), tmp_path / "dst"
    outputs = {dst / "intro.mp4": src / "intro.mp4", dst / "reels/1962/wedding.mp4": src / "reels/1962/wedding.mov"}

    first = batch_cli(src, dst, weights, "--workers", "2")
    assert first.returncode == 1, first.stderr
    for out, original in outputs.items():
        assert len(decode_frames(out)) == len(decode_frames(original))
    assert cv2.imread(str(dst / "reels/scan.png")).shape == (64, 96, 3)
    assert not (dst / "reels/damaged.mp4").exists() and not (dst / ".hidden.mp4").exists()
    assert "damaged.mp4: failed once: cannot read" in first.stderr  # a damaged input is not tried again
    assert "1 of 4 files failed" in first.stderr.splitlines()[-1]
    assert "Traceback" not in first.stderr
    assert first.stderr.count("vidcolor: backend cpu (") == 1  # the workers' backend line, as other commands give it
    assert first.stdout.splitlines()[0].split()[:2] == ["done", "3"]
    assert len(done_lines(dst)) == 3
    stamps = {p: p.stat().st_mtime_ns for p in [*outputs, dst / "reels/scan.png"]}

    again = batch_cli(src, dst, weights, "--workers", "2")  # nothing to do; the damaged file is still named
    assert again.returncode == 1
    assert "skipping 3 files done before" in again.stderr
    assert "damaged.mp4: failed once" in again.stderr  # nor in a later run, until it changes
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(done_lines(dst)) == 3

    (dst / "intro.mp4").unlink()
    leftover = dst / "reels/1962/.wedding.mp4.partial.mp4"  # as a run killed while finishing might leave
    leftover.write_bytes(b"stale")
    redo = batch_cli(src, dst, weights, "--workers", "2")
    assert redo.returncode == 1
    assert len(decode_frames(dst / "intro.mp4")) == 36
    assert [r["key"] for r in done_lines(dst)[3:]] == ["intro.mp4"]
    assert not leftover.exists()
    del stamps[dst / "intro.mp4"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_changed_settings_are_not_redone_silently(tmp_path: Path, weights: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), picture(0, 64, 32))
    options = batch.ColorOptions(weights=weights, size=TEST_SIZE, backend="cpu")
    assert len(batch.run([src], tmp_path / "dst", options=options).done) == 1
    with pytest.raises(OutputError, match="1 output was made with other settings .* pass -y"):
        batch.run([src], tmp_path / "dst", options=batch.ColorOptions(weights=weights, size=TEST_SIZE * 2))
    redone = batch.run([src], tmp_path / "dst", options=options, image_suffix=".jpg")  # a new output: no clash
    assert [o.job.output.name for o in redone.done] == ["a.jpg"]


def test_manifest_survives_a_torn_last_line(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path)
    manifest.append("done", key="a.mp4", settings="s", input_identity={})
    with manifest.path.open("a") as file:
        file.write('{"event": "done", "key": "b.mp')  # the driver killed mid-write
    assert list(Manifest(tmp_path).read()) == ["a.mp4"]
    Manifest(tmp_path).append("failed", key="c.mp4", reason="x")
    history = Manifest(tmp_path).read()
    assert list(history) == ["a.mp4", "c.mp4"] and history["c.mp4"].failures[0]["reason"] == "x"


def test_several_sources_are_mirrored_under_their_names(tmp_path: Path) -> None:
    for name in ("tapes", "photos"):
        (tmp_path / name / "sub").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / name / "sub" / "x.png"), picture(0, 32, 32))
    (tmp_path / "photos" / "clip.avi").write_bytes(b"")
    jobs = find_jobs([tmp_path / "tapes", tmp_path / "photos"], tmp_path / "out")
    assert sorted(j.key for j in jobs) == ["photos/clip.mp4", "photos/sub/x.png", "tapes/sub/x.png"]
    (tmp_path / "photos" / "clip.mkv").write_bytes(b"")
    with pytest.raises(InputError, match="would both be written to"):
        find_jobs([tmp_path / "photos"], tmp_path / "out")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing", "-o", "out"), "input not found: missing"),
        (("src", "-o", "src"), "is an input"),
        (("src", "-o", "out", "--video-format", "avi"), "not .avi"),
        (("--ray", "src", "-o", "out"), "no cluster address"),
    ],
)
def test_bad_batch_input_is_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "src").mkdir()
    cv2.imwrite(str(tmp_path / "src" / "x.png"), picture(0, 32, 32))
    done = run_cli("batch", *args, cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
