"""What a batch has to do: every video and image under the sources, and where each one's output goes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import InputError, OutputError, VidcolorError, first_line
from ..images import IMAGE_SUFFIXES, VIDEO_INPUT_SUFFIXES, is_image_path
from ..safe_output import VIDEO_SUFFIXES

if TYPE_CHECKING:
    from ..sources import Segment  # PyAV loads only for a batch with videos

# What archives hold beyond the containers vidcolor writes: FFmpeg reads them all.
VIDEO_SUFFIXES_IN = VIDEO_INPUT_SUFFIXES | {
    ".mpg", ".mpeg", ".m2ts", ".mts", ".vob", ".wmv", ".flv", ".3gp", ".dv", ".mxf", ".ogv",
}  # fmt: skip
MANIFEST_NAME = ".vidcolor-batch.jsonl"
Kind = Literal["video", "image"]


@dataclass(frozen=True)
class Job:
    """One input file and its output. ``key`` (the output relative to the output folder) names it in the
    manifest; ``bytes`` orders the work (largest first, so a long file is not the last straggler). ``segment``:
    only that part of the video, into a segment file of a split video (``split.py``)."""

    kind: Kind
    input: Path
    output: Path
    key: str
    bytes: int
    segment: Segment | None = None


def find_jobs(
    sources: Sequence[Path], dest: Path, *, video_suffix: str = ".mp4", image_suffix: str | None = None
) -> list[Job]:
    """Every video and image under ``sources`` (searched recursively; hidden files and folders are not), each
    mirrored under ``dest``: one source's tree straight under it, several sources each under its own name.
    Outputs take ``video_suffix``, and ``image_suffix`` or the input's own."""
    if video_suffix not in VIDEO_SUFFIXES:
        raise OutputError(f"videos are written as {', '.join(VIDEO_SUFFIXES)}, not {video_suffix}")
    if image_suffix is not None and image_suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"images are written as {', '.join(sorted(IMAGE_SUFFIXES))}, not {image_suffix}")
    _check_sources(sources, dest)
    jobs: dict[str, Job] = {}
    for source in sources:
        under = dest if len(sources) == 1 else dest / source.name
        for path in _media_under(source, skip=dest):
            relative = path.relative_to(source) if source.is_dir() else Path(path.name)
            image = is_image_path(path)
            output = under / relative.with_suffix((image_suffix or path.suffix.lower()) if image else video_suffix)
            key = output.relative_to(dest).as_posix()
            if key in jobs:  # e.g. clip.avi and clip.mov both becoming clip.mp4
                raise InputError(f"{jobs[key].input} and {path} would both be written to {output}; rename one")
            jobs[key] = Job("image" if image else "video", path, output, key, path.stat().st_size)
    if not jobs:
        raise InputError(f"no videos or images under {', '.join(map(str, sources))}")
    return sorted(jobs.values(), key=lambda job: (-job.bytes, job.key))


def _check_sources(sources: Sequence[Path], dest: Path) -> None:
    for source in sources:
        if not source.exists():
            raise InputError(f"input not found: {source}")
        if source.resolve() == dest.resolve():
            raise OutputError(f"output folder {dest} is an input; choose another")
    names = [s.resolve().name for s in sources]
    if len(sources) > 1 and len(set(names)) < len(names):  # each is mirrored under its own name
        raise InputError(f"two sources are named {max(names, key=names.count)!r}; their trees would mix in {dest}")
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"output {dest} is a file; a batch needs an output folder")


def _media_under(source: Path, *, skip: Path) -> Iterator[Path]:
    if source.is_file():
        if _is_media(source):
            yield source
            return
        raise InputError(f"{source} is neither a video nor an image")
    skip = skip.resolve()

    def unreadable(error: OSError) -> None:
        raise InputError(f"cannot read the folder {error.filename}: {first_line(error)}")

    for folder, subfolders, files in os.walk(source, onerror=unreadable):
        # hidden folders are not media, nor is the output folder when it lies inside a source
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and Path(folder, d).resolve() != skip)
        for name in sorted(files):
            path = Path(folder, name)
            if not name.startswith(".") and _is_media(path):
                yield path


def _is_media(path: Path) -> bool:
    return is_image_path(path) or path.suffix.lower() in VIDEO_SUFFIXES_IN


def media_length(job: Job) -> tuple[int, float]:
    """(frames, seconds) a job holds, from the container's header; (0, 0.0) where it cannot be read (the worker
    that tries it says why)."""
    if job.kind == "image":
        return 1, 0.0
    from av import time_base

    from ..sources import FileSource  # PyAV loads only for a batch with videos

    try:
        source = FileSource(job.input)
    except (VidcolorError, OSError):
        return 0, 0.0
    try:
        duration = source.container.duration
        return source.info.frame_count or 0, duration / time_base if duration else 0.0
    finally:
        source.close()
