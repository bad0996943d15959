"""Training images: any folder of colour pictures, served as random flipped crops (uint8, channels first)."""

from __future__ import annotations

from pathlib import Path

import cv2
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from ..images import IMAGE_SUFFIXES


def list_images(folder: str | Path) -> list[Path]:
    """Every image below ``folder``, sorted so a seed picks the same ones on every machine."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"image folder not found: {folder}")
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise InputError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def source_of(image: Path) -> str:
    """The collection a photo came from: its file name up to the last underscore (``caltech101_000123.webp``)."""
    return image.stem.rpartition("_")[0] or image.stem


def source_balanced_weights(images: list[Path], cap: int) -> torch.Tensor:
    """Sampling weights (one per image) under which no collection gives more than ``cap`` photos an epoch.

    Collections smaller than ``cap`` keep every photo once an epoch; larger ones are thinned to ``cap``, so a
    big set of one kind (cats and dogs, interiors) does not teach the model that the world looks like it.
    """
    sources = [source_of(image) for image in images]
    counts: dict[str, int] = {}
    for source in sources:
        counts[source] = counts.get(source, 0) + 1
    return torch.tensor([min(1.0, cap / counts[source]) for source in sources], dtype=torch.float64)


def read_rgb(path: Path) -> torch.Tensor:
    """uint8 RGB (3, H, W)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read {path} as an image")
    return torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).permute(2, 0, 1).contiguous()


class RandomCrops(Dataset):
    """One random ``crop``x``crop`` window of each image, flipped left-right half of the time.

    Images smaller than the crop are scaled up first. Randomness comes from torch, which the DataLoader
    seeds per worker.
    """

    def __init__(self, images: list[Path], crop: int) -> None:
        self.images, self.crop = images, crop

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        rgb = read_rgb(self.images[index])  # (3, H, W) uint8
        height, width = rgb.shape[1:]
        if min(height, width) < self.crop:
            scale = self.crop / min(height, width)
            size = (max(self.crop, round(width * scale)), max(self.crop, round(height * scale)))
            resized = cv2.resize(rgb.permute(1, 2, 0).numpy(), size, interpolation=cv2.INTER_CUBIC)
            rgb = torch.from_numpy(resized).permute(2, 0, 1)
            height, width = rgb.shape[1:]
        top = int(torch.randint(0, height - self.crop + 1, ()))
        left = int(torch.randint(0, width - self.crop + 1, ()))
        crop = rgb[:, top : top + self.crop, left : left + self.crop]
        return crop.flip(-1).contiguous() if torch.rand(()) < 0.5 else crop.contiguous()
