"""--saturation and --compare in file and image mode: what they do to the written planes, and bad values."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import TEST_SIZE, run_cli
from media import chroma_planes, luma_planes, picture, write_video

from vidcolor import Colorizer, colorize_file
from vidcolor.color import YuvFormat
from vidcolor.images import colorize_image_file

LOSSLESS = {"crf": 0}  # x264 at crf 0 keeps every sample: the planes read back are the ones written


@pytest.fixture(scope="module")
def shipped() -> Colorizer:
    """The shipped fast model: real colour, far from grey, for the saturation to act on."""
    return Colorizer(backend="cpu", model="fast", size=TEST_SIZE)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("look") / "in.mp4", width=128, height=96, frames=4)


def test_saturation_scales_the_distance_from_grey_up_to_the_clip(shipped: Colorizer) -> None:
    luma = np.stack([cv2.cvtColor(picture(i, 128, 96), cv2.COLOR_RGB2GRAY) for i in range(2)])
    fmt = YuvFormat(full_range=False, matrix="bt709")
    prediction = shipped.predict(luma, fmt)
    as_predicted = [plane.astype(int) for plane in shipped.chroma(prediction, fmt)]
    assert max(np.abs(plane - 128).max() for plane in as_predicted) > 10  # colour to scale
    for plane, doubled, grey in zip(as_predicted, shipped.chroma(prediction, fmt, 2.0),
                                    shipped.chroma(prediction, fmt, 0.0), strict=True):  # fmt: skip
        assert np.array_equal(doubled, np.clip(128 + 2 * (plane - 128), 16, 240))
        assert np.all(grey == 128)


def test_saturation_in_a_file(tmp_path: Path, shipped: Colorizer, clip: Path) -> None:
    default, same, grey = (tmp_path / f"{name}.mp4" for name in ("default", "same", "grey"))
    colorize_file(clip, default, colorizer=shipped, **LOSSLESS)
    colorize_file(clip, same, colorizer=shipped, saturation=1.0, **LOSSLESS)
    colorize_file(clip, grey, colorizer=shipped, saturation=0.0, **LOSSLESS)
    assert all(np.array_equal(a, b) for a, b in zip(chroma_planes(default), chroma_planes(same), strict=True))
    assert all(np.abs(planes - 128).max() <= 1 for planes in chroma_planes(grey))
    assert any(np.abs(planes - 128).max() > 10 for planes in chroma_planes(default))


@pytest.mark.parametrize("mode", ["side", "split"])
def test_compare_keeps_the_input_luma_beside_the_colour(tmp_path: Path, shipped: Colorizer, clip: Path,
                                                        mode: str) -> None:  # fmt: skip
    out = tmp_path / "out.mp4"
    colorize_file(clip, out, colorizer=shipped, compare=mode, **LOSSLESS)
    side = mode == "side"
    grey_width = 128 if side else 64  # the split is in the middle
    for source, written, chroma in zip(luma_planes(clip), luma_planes(out), chroma_planes(out), strict=True):
        assert written.shape == ((96, 256) if side else (96, 128))
        # the colour half keeps the source's luma; beside it, the grey one is the input's
        assert np.array_equal(written[:, grey_width:], source if side else source[:, grey_width:])
        if side:
            assert np.array_equal(written[:, :grey_width], source)
        assert np.all(chroma[:, :, : grey_width // 2] == 128)  # grey: neutral chroma
        # colour (the gated models are pale on this synthetic clip: up to 10 levels off neutral in its right half)
        assert np.abs(chroma[:, :, grey_width // 2 :] - 128).max() > 4


def test_compare_and_saturation_on_an_image(tmp_path: Path, shipped: Colorizer) -> None:
    grey = cv2.cvtColor(picture(0, 96, 64), cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "in.png"), grey)
    colorize_image_file(shipped, tmp_path / "in.png", tmp_path / "side.png", compare="side")
    colorize_image_file(shipped, tmp_path / "in.png", tmp_path / "pale.png", saturation=0.0)
    side, pale = cv2.imread(str(tmp_path / "side.png")), cv2.imread(str(tmp_path / "pale.png")).astype(int)
    assert side.shape == (64, 192, 3)
    assert np.array_equal(side[:, :96], np.repeat(grey[..., None], 3, axis=2))  # the input, as it was
    assert np.abs(side[:, 96:].astype(int) - side[:, 96:].mean(axis=2, keepdims=True)).max() > 10  # in colour
    assert np.abs(pale - pale.mean(axis=2, keepdims=True)).max() <= 1  # saturation 0: R = G = B


@pytest.mark.parametrize("flag, value, needle", [("--saturation", "-1", "between 0"), ("--saturation", "nan", "nan"),
                                                 ("--saturation", "vivid", "invalid"), ("--compare", "top", "side")])
def test_bad_values_are_refused_in_one_line(tmp_path: Path, clip: Path, flag: str, value: str, needle: str) -> None:
    result = run_cli(clip, "-o", tmp_path / "out.mp4", flag, value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # argparse prints its usage lines first
    assert last.startswith(f"vidcolor: error: argument {flag}") and needle in last, result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_live_starts_at_the_saturation_asked_for(tmp_path: Path, clip: Path) -> None:
    record = tmp_path / "rec.mp4"
    result = run_cli("live", clip, "--no-window", "--frames", "3", "--record", record, "--saturation", "0",
                     "--model", "fast", "--backend", "cpu", "--size", TEST_SIZE, "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert all(np.abs(planes - 128).max() <= 1 for planes in chroma_planes(record))


def test_batch_takes_the_same_look(tmp_path: Path, clip: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "in.mp4").write_bytes(clip.read_bytes())
    cv2.imwrite(str(src / "still.png"), cv2.cvtColor(picture(0, 96, 64), cv2.COLOR_RGB2GRAY))
    result = run_cli("batch", src, "-o", tmp_path / "dst", "--compare", "side", "--saturation", "0", "--model", "fast",
                     "--backend", "cpu", "--size", TEST_SIZE, "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert luma_planes(tmp_path / "dst" / "in.mp4")[0].shape == (96, 256)
    assert all(np.abs(planes - 128).max() <= 1 for planes in chroma_planes(tmp_path / "dst" / "in.mp4"))
    still = cv2.imread(str(tmp_path / "dst" / "still.png")).astype(int)
    assert still.shape == (64, 192, 3) and np.abs(still - still.mean(axis=2, keepdims=True)).max() <= 1
