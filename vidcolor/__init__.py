"""vidcolor: colorize grayscale video fast enough to watch live."""

from .colorizer import Colorizer
from .errors import BackendUnavailable, InputError, OutputError, VidcolorError, WeightsError
from .pipeline import FileResult, colorize_file

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
