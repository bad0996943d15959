from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from media import picture

from vidcolor import Colorizer
from vidcolor.models.checkpoint import save_checkpoint
from vidcolor.models.mobile_unet import MobileUNet, MobileUNetConfig
from vidcolor.models.presets import PRESETS

TEST_SIZE = 64  # model working size in tests: small and fast, still a multiple of 32


def untrained(config: MobileUNetConfig = PRESETS["fast"].config) -> MobileUNet:
    """A random network whose head is not the zero (all-grey) start, so tests can tell outputs apart."""
    model = MobileUNet(config)
    torch.nn.init.normal_(model.head.weight, std=0.05)
    torch.nn.init.normal_(model.head.bias, std=0.5)
    return model.eval()


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised checkpoint, saved with the real format: these tests check plumbing, not colour."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    save_checkpoint(untrained(), path, info={"purpose": "tests only, untrained"})
    return path


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A handful of small colourful pictures, as a training or evaluation folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        rgb = picture(i * 7, 96, 80)
        rgb[:, :, i % 3] //= 2  # vary the palette between pictures
        cv2.imwrite(str(folder / f"p{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture(scope="session")
def colorizer(weights: Path) -> Colorizer:
    return Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)


@pytest.fixture(scope="session")
def hinted_weights(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """None where the shipped fast model (what a server loads by default) takes colour hints; until it does, a
    checkpoint of it with hint attention added, untrained (whose hints already pull the colour toward them)."""
    if Colorizer(backend="cpu", model="fast").takes_hints:
        return None
    from vidcolor.train.hints import hint_network

    path = tmp_path_factory.mktemp("weights") / "fast-hints.pt"
    save_checkpoint(hint_network(PRESETS["fast"].weights), path, info={"purpose": "tests only, hints untrained"})
    return path


def run_cli(*args: str | Path, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed command line the way a user does (from ``cwd``); output captured as text."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "vidcolor", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL, cwd=cwd,
    )  # fmt: skip
