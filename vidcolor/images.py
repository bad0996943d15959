"""Still images: one picture, or a folder of them, through the same model and colour maths as video."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
from tqdm import tqdm

from . import safe_output
from .colorizer import Colorizer
from .errors import InputError, OutputError

log = logging.getLogger("vidcolor")

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
# A new output folder named like a file is a mistake, not a wish: `-o film.mp4` must not become a folder.
FILE_LIKE_SUFFIXES = IMAGE_SUFFIXES | {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".gif"}


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def colorize_image_file(colorizer: Colorizer, source: Path, output: Path, *, overwrite: bool = False) -> None:
    """Colorize one image file into ``output`` (format from its suffix)."""
    if not is_image_path(output):
        raise OutputError(f"output {output} needs an image suffix ({', '.join(sorted(IMAGE_SUFFIXES))})")
    safe_output.check_output(source, output, overwrite=overwrite)
    bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read {source} as an image")
    rgb = colorizer.colorize_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    partial = safe_output.partial_path(output)
    try:
        if not cv2.imwrite(str(partial), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OutputError(f"cannot write {output}")
    except BaseException:
        safe_output.discard(partial)
        raise
    safe_output.commit(partial, output)


def colorize_image_folder(
    colorizer: Colorizer, folder: Path, output: Path, *, overwrite: bool = False, progress: bool = False
) -> int:
    """Colorize every image in ``folder`` into the folder ``output`` (same names); returns how many."""
    images = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    if not images:
        raise InputError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if output.exists() and not output.is_dir():
        raise OutputError(f"output {output} is a file; a folder of images needs an output folder")
    if not output.exists() and output.suffix.lower() in FILE_LIKE_SUFFIXES:
        raise OutputError(f"output {output} names a file; a folder of images needs an output folder")
    if output.resolve() == folder.resolve():
        raise OutputError(f"output folder {output} is the input folder; choose another")
    clashes = [output / p.name for p in images if (output / p.name).exists()]
    if clashes and not overwrite:
        raise OutputError(f"{len(clashes)} outputs exist already (first: {clashes[0]}); pass -y to overwrite them")
    output.mkdir(parents=True, exist_ok=True)
    for image in tqdm(images, unit="image", disable=not progress):
        colorize_image_file(colorizer, image, output / image.name, overwrite=overwrite)
    return len(images)
