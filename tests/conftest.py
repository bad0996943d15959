from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vidcolor import Colorizer
from vidcolor.checkpoint import save_checkpoint
from vidcolor.model import ColorizerNet

TEST_SIZE = 64  # model working size in tests: small and fast, still a multiple of 32


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised checkpoint, saved with the real format: these tests check plumbing, not colour."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    save_checkpoint(ColorizerNet(), path, info={"purpose": "tests only, untrained"})
    return path


@pytest.fixture(scope="session")
def colorizer(weights: Path) -> Colorizer:
    return Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)


def run_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed command line the way a user does; output captured as text."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "vidcolor", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
