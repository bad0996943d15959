"""Training images: any folder of colour pictures, or of night-vision pairs (``*_ir`` grey frame beside its aligned
``*_rgb`` colour frame), served as random flipped crops (uint8, channels first). Photos packed small for a GPU
machine (``pack.py``) are served the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Any

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


IR_SUFFIX, RGB_SUFFIX = "_ir", "_rgb"  # a pair: {stem}_ir.webp (the sensor's grey frame), {stem}_rgb.webp (colour)


def pair_frames(folder: str | Path) -> list[Path]:
    """The ``*_ir`` frames below ``folder`` that have their ``*_rgb`` partner, sorted (none: not a pair folder)."""
    return [image for image in list_images(folder) if image.stem.endswith(IR_SUFFIX) and rgb_partner(image).is_file()]


def list_pairs(folder: str | Path) -> list[Path]:
    """``pair_frames``, at least one."""
    pairs = pair_frames(folder)
    if not pairs:
        raise InputError(f"{folder} holds no {IR_SUFFIX}/{RGB_SUFFIX} image pairs (e.g. x{IR_SUFFIX}.webp beside "
                         f"x{RGB_SUFFIX}.webp)")  # fmt: skip
    return pairs


def rgb_partner(ir_frame: Path) -> Path:
    """``x_ir.webp`` -> ``x_rgb.webp`` (``ir_partner`` the other way)."""
    return ir_frame.with_name(ir_frame.stem.removesuffix(IR_SUFFIX) + RGB_SUFFIX + ir_frame.suffix)


def ir_partner(rgb_frame: Path) -> Path:
    return rgb_frame.with_name(rgb_frame.stem.removesuffix(RGB_SUFFIX) + IR_SUFFIX + rgb_frame.suffix)


def read_grey(path: Path) -> torch.Tensor:
    """uint8 grey (1, H, W)."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise InputError(f"cannot read {path} as an image")
    return torch.from_numpy(grey)[None]


def read_pair(ir_frame: Path) -> torch.Tensor:
    """uint8 (4, H, W): the sensor's grey frame, then its colour partner's RGB (the grey resized to it if need be)."""
    rgb, grey = read_rgb(rgb_partner(ir_frame)), read_grey(ir_frame)
    if grey.shape[1:] != rgb.shape[1:]:
        grey = torch.from_numpy(cv2.resize(grey[0].numpy(), rgb.shape[:0:-1], interpolation=cv2.INTER_AREA))[None]
    return torch.cat((grey, rgb))



def source_of(image: PurePath) -> str:
    """The collection a photo came from: its file name up to the last underscore (``caltech101_000123.webp``)."""
    return image.stem.rpartition("_")[0] or image.stem


def source_balanced_weights(images: Sequence[PurePath], cap: int) -> torch.Tensor:
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
    """One random ``crop``x``crop`` window of each image, flipped left-right half of the time; ``read`` loads an
    image as uint8 (C, H, W): ``read_rgb``, or ``read_pair`` for night-vision pairs (crop and flip alike), or a
    photo pack's ``PackedPhotos.read`` (``images`` are then its indices: ``pack.py``).

    Images smaller than the crop are scaled up first. Randomness comes from torch, which the DataLoader
    seeds per worker.
    """

    def __init__(self, images: Sequence[Any], crop: int, read: Callable[[Any], torch.Tensor] = read_rgb) -> None:
        self.images, self.crop, self.read = images, crop, read

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = self.read(self.images[index])  # (C, H, W) uint8
        height, width = image.shape[1:]
        if min(height, width) < self.crop:
            scale = self.crop / min(height, width)
            size = (max(self.crop, round(width * scale)), max(self.crop, round(height * scale)))
            resized = cv2.resize(image.permute(1, 2, 0).numpy(), size, interpolation=cv2.INTER_CUBIC)
            image = torch.from_numpy(resized).permute(2, 0, 1)
            height, width = image.shape[1:]
        top = int(torch.randint(0, height - self.crop + 1, ()))
        left = int(torch.randint(0, width - self.crop + 1, ()))
        crop = image[:, top : top + self.crop, left : left + self.crop]
        return crop.flip(-1).contiguous() if torch.rand(()) < 0.5 else crop.contiguous()
