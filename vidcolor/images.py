"""Still images: one picture, or a folder of them, through the same model and colour maths as video."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from . import safe_output
from .colorizer import Colorizer, check_working_size
from .compare import LABELS, CompareMode, colour_left, compose_rgb
from .errors import InputError, OutputError, first_line
from .guidance.hints import Hint, read_hints
from .guidance.reference import Reference
from .overlay import draw_lines

log = logging.getLogger("vidcolor")

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
DEEP_SUFFIXES = frozenset({".png", ".tif", ".tiff"})  # the formats here that hold 16 bits per sample
# videos noticed in an image folder, not read: the ones vidcolor writes and the ones it refuses to
VIDEO_INPUT_SUFFIXES = frozenset(safe_output.VIDEO_SUFFIXES) | {".avi", ".webm", ".gif"}
# A new output folder named like a file is a mistake, not a wish: `-o film.mp4` must not become a folder.
FILE_LIKE_SUFFIXES = IMAGE_SUFFIXES | VIDEO_INPUT_SUFFIXES


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


@dataclass
class FolderResult:
    """What a folder run did with each image: written, kept (its output was there already), or failed."""

    output: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input image, why it was skipped)

    def summary(self) -> str:
        text = f"wrote {_count(len(self.written), 'image')} to {_folder_name(self.output)}"
        if self.failed:
            text += f"; skipped {len(self.failed)} that could not be colorized (named above)"
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _folder_name(folder: Path) -> str:
    return f"{folder}{os.sep}"


def colorize_image_file(
    colorizer: Colorizer, source: Path, output: Path, *, overwrite: bool = False, saturation: float = 1.0,
    compare: CompareMode = "off", labels: bool = False, hints: Sequence[Hint] = (), reference: Reference | None = None,
) -> None:  # fmt: skip
    """Colorize one image file into ``output`` (format from its suffix); 16-bit PNG and TIFF stay 16-bit.

    ``saturation`` and ``compare`` as for video (see ``colorize_file``); ``labels`` names the compared halves;
    ``hints``: colours known at places of the picture (``guidance.hints``); ``reference``: a colour picture of
    the same view (``guidance.reference``).
    """
    check_image_suffix(output)
    safe_output.check_output(source, output, overwrite=overwrite)
    bgr = _read(source)
    check_working_size(colorizer.size, bgr.shape[1], bgr.shape[0])
    if bgr.dtype == np.uint16 and output.suffix.lower() not in DEEP_SUFFIXES:
        log.info("%s has 16-bit samples; %s holds 8 (use .png or .tif to keep all 16)", source, output.name)
        bgr = cv2.convertScaleAbs(bgr, alpha=1 / 257)  # rounds 0..65535 onto 0..255
    rgb = colorizer.colorize_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), saturation, hints=hints, reference=reference)
    if compare != "off":
        grey = np.repeat(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[..., None], 3, axis=2)
        rgb = compose_rgb(compare, grey, rgb)
        if labels:
            draw_lines(rgb, [LABELS[0]])
            draw_lines(rgb, [LABELS[1]], left=colour_left(compare, bgr.shape[1]))
    _write(output, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def check_image_suffix(output: Path) -> None:
    """Refuse, before any work, an output whose suffix names no image format (a video's, say)."""
    if not is_image_path(output):
        raise OutputError(f"output {output} needs an image suffix ({', '.join(sorted(IMAGE_SUFFIXES))})")


def _read(source: Path) -> np.ndarray:
    """uint8 or uint16 BGR (H, W, 3); grey files come back as three equal channels."""
    bgr = cv2.imread(str(source), cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)  # without ANYDEPTH 16 bits become 8
    if bgr is None:
        raise InputError(f"cannot read {source} as an image")
    if bgr.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{source} has {bgr.dtype} samples; only 8- and 16-bit images can be colorized")
    return bgr


def _write(output: Path, bgr: np.ndarray) -> None:
    """Write under a temporary name, then rename: a killed run never leaves half an image under ``output``."""
    partial = safe_output.partial_path(output)
    try:
        if not cv2.imwrite(str(partial), bgr):
            raise OutputError(f"cannot write {output}")
    except BaseException:
        safe_output.discard(partial)
        raise
    safe_output.commit(partial, output)


def colorize_image_folder(
    colorizer: Colorizer, folder: Path, output: Path, *, overwrite: bool = False, progress: bool = False,
    saturation: float = 1.0, compare: CompareMode = "off", labels: bool = False, hints: Path | None = None,
    reference: Reference | None = None,
) -> FolderResult:  # fmt: skip
    """Colorize every image in ``folder`` into the folder ``output`` (same names), each as ``colorize_image_file``;
    ``hints``, a folder: an image's hints are in its NAME.json there, if it has any.

    An unreadable image is named in a warning and skipped, and the rest go on; ``result.failed`` lists them.
    Outputs already there are kept unless ``overwrite``, so a second run finishes what a first one left.
    """
    _check_output_folder(folder, output)
    images = _images_in(folder)
    todo = images if overwrite else [p for p in images if not (output / p.name).exists()]
    result = FolderResult(output, kept=[output / p.name for p in sorted(set(images) - set(todo))])
    if result.kept:
        log.info("skipping %s already in %s (pass -y to redo them)",
                 _count(len(result.kept), "image"), _folder_name(output))  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    try:
        for image in tqdm(todo, unit="image", disable=not progress):
            try:
                colorize_image_file(colorizer, image, output / image.name, overwrite=overwrite,
                                    saturation=saturation, compare=compare, labels=labels,
                                    hints=_hints_of(image, hints), reference=reference)  # fmt: skip
            except InputError as exc:  # this image is bad, not the run: the others still get done
                result.failed.append((image, first_line(exc)))
            else:
                result.written.append(output / image.name)
    finally:  # after the progress bar, and also when a write error or Ctrl-C ends the run early
        for _, reason in result.failed:
            log.warning("%s; skipped", reason)
    return result


def _hints_of(image: Path, hints_folder: Path | None) -> list[Hint]:
    """The hints in ``hints_folder``/NAME.json for ``image`` NAME.ext, or none."""
    hints_file = None if hints_folder is None else hints_folder / f"{image.stem}.json"
    return read_hints(hints_file) if hints_file is not None and hints_file.is_file() else []


def _images_in(folder: Path) -> list[Path]:
    """The images to colorize, sorted; says which videos it leaves out. Hidden files (our temp files) are not."""
    files = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file())
    videos = [p for p in files if p.suffix.lower() in VIDEO_INPUT_SUFFIXES]
    if videos:
        log.info("skipping %s in %s (colorize each with `vidcolor VIDEO -o OUT`)",
                 _count(len(videos), "video"), _folder_name(folder))  # fmt: skip
    images = [p for p in files if is_image_path(p)]
    if not images:
        raise InputError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def _check_output_folder(folder: Path, output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise OutputError(f"output {output} is a file; a folder of images needs an output folder")
    if not output.exists() and output.suffix.lower() in FILE_LIKE_SUFFIXES:
        raise OutputError(f"output {output} names a file; a folder of images needs an output folder")
    if output.resolve() == folder.resolve():
        raise OutputError(f"output folder {output} is the input folder; choose another")
