"""The ImageNet MobileNetV2 rebuilt from its TFLite file: it must still recognise things, in colour and in grey."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidcolor.models.mobilenetv2 import TAP_CHANNELS
from vidcolor.models.tflite_import import DEFAULT_TFLITE, load_imagenet_mobilenetv2

pytest.importorskip("tflite", reason="the train extra (tflite, flatbuffers) is not installed")
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
TFLITE = SHARED / "models" / DEFAULT_TFLITE.name
pytestmark = pytest.mark.skipif(not TFLITE.is_file(), reason=f"{TFLITE} is absent")


def labelled_photos() -> list[tuple[Path, str]]:
    """Holdout photos from the one-image-per-class ImageNet sample, with the class named in their source path."""
    rows = csv.DictReader((SHARED / "data" / "photos" / "index.csv").open())
    return [(SHARED / "data" / "photos" / row["file"], row["path_in_repository"].split("_", 1)[1].rsplit(".", 1)[0])
            for row in rows if row["file"].startswith("holdout/") and row["source"] == "imagenetsamples"]  # fmt: skip


def class_index(labels: list[str], name: str) -> int:
    wanted = name.replace("_", " ").lower()
    return next(i for i, line in enumerate(labels) if line.split(",")[0].strip().lower() == wanted)


def centre_224(path: Path) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return cv2.resize(rgb[top : top + side, left : left + side], (224, 224), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def classifier():
    return load_imagenet_mobilenetv2(TFLITE, classifier=True)


def test_rebuilt_classifier_names_what_it_sees(classifier):
    labels = (SHARED / "models" / "imagenet_labels.txt").read_text().splitlines()
    photos = labelled_photos()
    assert len(photos) >= 10
    hits = {"colour": 0, "grey": 0}
    for path, name in photos:
        rgb = centre_224(path)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None].repeat(3, axis=2)
        for kind, picture in (("colour", rgb), ("grey", grey)):
            x = (torch.from_numpy(picture).permute(2, 0, 1)[None].float() - 128) / 128
            with torch.no_grad():
                top5 = classifier(x)[0].topk(5).indices.tolist()
            hits[kind] += class_index(labels, name) in top5
    # Measured on the 17 shared holdout photos: colour 17, grey 12 in the top 5 (random weights: ~0).
    assert hits["colour"] >= 0.8 * len(photos), hits
    assert hits["grey"] >= 0.6 * len(photos), hits


def test_grey_stem_equals_repeated_channels(classifier):
    grey_net = load_imagenet_mobilenetv2(TFLITE, in_channels=1)
    x = torch.rand(1, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        taps_rgb, scene_rgb = classifier.features(x.repeat(1, 3, 1, 1))
        taps_grey, scene_grey = grey_net.features(x)
    assert [t.shape[1] for t in taps_grey] == list(TAP_CHANNELS)
    assert [t.shape[-1] for t in taps_grey] == [48, 24, 12, 6, 3]  # strides 2 … 32
    for a, b in zip(taps_rgb + [scene_rgb], taps_grey + [scene_grey], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
