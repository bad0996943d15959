"""Image folders: a bad image is named and skipped, a re-run finishes the rest, 16-bit stays 16-bit."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, run_cli
from media import picture

from vidcolor import Colorizer
from vidcolor.color import rgb_to_lab
from vidcolor.images import colorize_image_file, colorize_image_folder

FAST = ("--size", str(TEST_SIZE), "--backend", "cpu")  # no -q: these tests read the notices


def photos(folder: Path, *names: str) -> Path:
    """A folder of small grey pictures, each different."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), cv2.cvtColor(picture(i, 96, 64), cv2.COLOR_RGB2GRAY))
    return folder


def ramp16() -> np.ndarray:
    """A grey uint16 ramp with 512 levels, more than 8 bits can hold."""
    return np.tile(np.linspace(0, 65535, 512).round().astype(np.uint16), (16, 1))


def lightness16(bgr: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(bgr[..., ::-1], dtype=np.float32) / 65535
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1))[0].numpy()


@pytest.fixture
def notices(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="vidcolor")
    return caplog


def test_bad_images_are_named_the_rest_written_and_a_rerun_finishes(tmp_path: Path, weights: Path) -> None:
    folder = photos(tmp_path / "in", "a.png", "b.jpg", "c.png")
    (folder / "text.jpg").write_text("not a jpeg\n")
    whole = (folder / "c.png").read_bytes()
    (folder / "cut.png").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    first = run_cli("--weights", weights, *FAST, folder, "-o", out)
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr, first.stderr
    assert sorted(os.listdir(out)) == ["a.png", "b.jpg", "c.png"]  # and no temp file left behind
    lines = first.stderr.strip().splitlines()
    assert f"vidcolor: cannot read {folder / 'cut.png'} as an image; skipped" in lines
    assert f"vidcolor: cannot read {folder / 'text.jpg'} as an image; skipped" in lines
    assert lines[-1] == (
        f"vidcolor: error: wrote 3 images to {out}{os.sep}; skipped 2 that could not be colorized (named above)"
    )
    (folder / "text.jpg").unlink()
    (folder / "cut.png").write_bytes(whole)
    again = run_cli("--weights", weights, *FAST, folder, "-o", out)  # no -y: the finished three are kept
    assert again.returncode == 0, again.stderr
    lines = again.stderr.strip().splitlines()
    assert f"vidcolor: skipping 3 images already in {out}{os.sep} (pass -y to redo them)" in lines
    assert lines[-1] == f"vidcolor: wrote 1 image to {out}{os.sep}"
    assert sorted(os.listdir(out)) == ["a.png", "b.jpg", "c.png", "cut.png"]


def test_existing_outputs_kept_without_y_redone_with_it(tmp_path: Path, colorizer: Colorizer) -> None:
    folder = photos(tmp_path / "in", "a.png", "b.png", "c.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"finished by an earlier run")
    (out / ".b.partial.png").write_bytes(b"half written when that run was killed")  # not a finished b.png
    result = colorize_image_folder(colorizer, folder, out)
    assert (result.kept, result.written, result.failed) == ([out / "a.png"], [out / "b.png", out / "c.png"], [])
    assert (out / "a.png").read_bytes() == b"finished by an earlier run"
    assert sorted(os.listdir(out)) == ["a.png", "b.png", "c.png"]  # the temp file was rewritten and renamed
    redo = colorize_image_folder(colorizer, folder, out, overwrite=True)
    assert (redo.kept, redo.written) == ([], [out / "a.png", out / "b.png", out / "c.png"])
    assert cv2.imread(str(out / "a.png")).shape == (64, 96, 3)


def test_hidden_files_are_not_images(tmp_path: Path, colorizer: Colorizer) -> None:
    folder = photos(tmp_path / "in", "a.png", ".a.partial.png")  # a temp file of a run writing into this folder
    (folder / "._a.png").write_bytes(b"macOS resource fork")
    result = colorize_image_folder(colorizer, folder, tmp_path / "out")
    assert (result.written, result.failed) == ([tmp_path / "out" / "a.png"], [])
    assert os.listdir(tmp_path / "out") == ["a.png"]


def test_videos_in_an_image_folder_are_mentioned(
    tmp_path: Path, colorizer: Colorizer, notices: pytest.LogCaptureFixture
) -> None:
    folder = photos(tmp_path / "in", "a.png")
    (folder / "clip.mp4").write_bytes(b"")
    (folder / "take.MKV").write_bytes(b"")
    result = colorize_image_folder(colorizer, folder, tmp_path / "out")
    assert result.written == [tmp_path / "out" / "a.png"]
    assert f"skipping 2 videos in {folder}{os.sep} (colorize each with `vidcolor VIDEO -o OUT`)" in notices.messages


@pytest.mark.parametrize("name", ["ramp.png", "ramp.tif"])
def test_16_bit_png_and_tiff_stay_16_bit(tmp_path: Path, colorizer: Colorizer, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / name), ramp16())
    colorize_image_folder(colorizer, folder, tmp_path / "out")
    out = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (16, 512, 3)
    error = np.abs(lightness16(out) - lightness16(cv2.cvtColor(ramp16(), cv2.COLOR_GRAY2BGR)))
    assert np.median(error) < 0.01  # the input's L* to 16 bits; through 8 bits it is off by about 0.1


def test_16_bit_into_jpeg_says_8_bits(tmp_path: Path, colorizer: Colorizer, notices: pytest.LogCaptureFixture) -> None:
    cv2.imwrite(str(tmp_path / "ramp.png"), ramp16())
    colorize_image_file(colorizer, tmp_path / "ramp.png", tmp_path / "ramp.jpg")
    assert (
        f"{tmp_path / 'ramp.png'} has 16-bit samples; ramp.jpg holds 8 (use .png or .tif to keep all 16)"
        in notices.messages
    )
    out = cv2.imread(str(tmp_path / "ramp.jpg"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint8 and out[:, -8:].min() > 200  # white stays white: scaled, not clipped


@pytest.mark.parametrize("shape", [(0, 0), (0, 40), (30, 0, 3)])
def test_an_empty_image_is_refused_in_words(colorizer, shape):
    with pytest.raises(ValueError, match="the image is empty"):
        colorizer.colorize_image(np.zeros(shape, np.uint8))
