"""Writing outputs without ever clobbering what the user had: checks up front, temp name, rename at the end."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import OutputError


def check_output(source: Path, output: Path, *, overwrite: bool) -> None:
    """Refuse an output that is the input, exists without ``overwrite``, or sits where nothing can be written."""
    if _same_file(source, output):
        raise OutputError(f"output {output} is the input; choose another name")
    if output.is_dir():
        raise OutputError(f"output {output} is a folder; give a file name")
    if output.exists() and not overwrite:
        raise OutputError(f"output {output} exists; pass -y to overwrite it")
    folder = output.parent
    if not folder.exists():
        raise OutputError(f"output folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable")


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
