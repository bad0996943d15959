"""Writing outputs without ever clobbering what the user had: checks up front, temp name, rename at the end."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import OutputError

# Containers that hold H.264 and AAC and keep the source's timestamps. Not .avi (no per-frame timestamps: its
# header claimed 600 fps for a 24 fps clip), nor .webm/.gif (no H.264).
VIDEO_CONTAINERS = {".mp4": "mp4", ".m4v": "ipod", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts"}  # FFmpeg's
VIDEO_SUFFIXES = tuple(VIDEO_CONTAINERS)


def check_video_suffix(path: Path) -> None:
    """Refuse, before any work, an output whose suffix names a container vidcolor cannot write."""
    suffixes = ", ".join(VIDEO_SUFFIXES)
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name ending in {suffixes}")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        named = f"a {path.suffix} suffix" if path.suffix else "no suffix"
        raise OutputError(f"output {path} has {named}; a video is written as H.264 in {suffixes}")


def check_output(source: Path, output: Path, *, overwrite: bool) -> None:
    """Refuse an output that is the input, exists without ``overwrite``, or sits where nothing can be written.

    Missing parent folders are created, as for a folder of images, so every mode follows one rule.
    """
    if _same_file(source, output):
        raise OutputError(f"output {output} is the input; choose another name")
    if output.is_dir():
        raise OutputError(f"output {output} is a folder; give a file name")
    if output.exists() and not overwrite:
        raise OutputError(f"output {output} exists; pass -y to overwrite it")
    folder = _nearest_existing(output.parent)
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable")
    try:  # what access() allows is not all: /proc, a read-only mount, root's view of a file system
        output.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=output.parent).close()
    except OSError as exc:
        reason = os.strerror(exc.errno or 0).lower()
        raise OutputError(f"cannot write in output folder {output.parent}: {reason}") from exc


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}  # a full disk, a quota, a failing disk


def write_failure(exc: BaseException, path: Path) -> OutputError | None:
    """A failed write to ``path`` as one sentence naming its folder and what was written; None for other errors."""
    if not isinstance(exc, OSError) or exc.errno not in _WRITE_ERRNOS:
        return None
    written = path.stat().st_size if path.exists() else 0
    return OutputError(f"{os.strerror(exc.errno).lower()} writing to {path.parent} ({written:,} bytes written)")


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its closest ancestor that exists: the one whose permissions decide whether we can write."""
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)  # also catches hard links and other spellings
    return a.resolve() == b.resolve()


def partial_path(output: Path) -> Path:
    """The temporary name the output is written under; same folder (so the rename is atomic), same suffix."""
    return output.with_name(f".{output.stem}.partial{output.suffix}")


def commit(partial: Path, output: Path) -> None:
    os.replace(partial, output)


def discard(partial: Path) -> None:
    partial.unlink(missing_ok=True)
