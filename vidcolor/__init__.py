"""vidcolor: colorize grayscale video fast enough to watch live."""

from typing import Any

from .colorizer import Colorizer
from .errors import BackendUnavailable, InputError, OutputError, VidcolorError, WeightsError

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "Colorizer",
    "FileResult",
    "InputError",
    "OutputError",
    "VidcolorError",
    "WeightsError",
    "colorize_file",
]


def __getattr__(name: str) -> Any:
    # The file pipeline needs PyAV; importing it lazily lets `vidcolor train`/`eval` run where only torch is.
    if name in ("FileResult", "colorize_file"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'vidcolor' has no attribute {name!r}")
