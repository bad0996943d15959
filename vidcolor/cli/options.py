"""What the commands share: the argument parser, value types, option groups, the colorizer they ask for."""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..backends import BACKEND_NAMES
from ..color import SATURATION_MAX
from ..colorizer import Colorizer
from ..compare import COMPARE_MODES
from ..guidance.reference import Reference
from ..models import SIZE_MULTIPLE
from ..models.presets import MODEL_NAMES, PRECISIONS, RENDERS, SENSORS
from ..temporal import DEFAULT_SMOOTH

log = logging.getLogger("vidcolor")

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


class Parser(argparse.ArgumentParser):
    """argparse that names the option a mistyped one was probably meant to be (Python 3.14's suggest_on_error
    does this for choices only, and only there)."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: None = None) -> argparse.Namespace:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self._given, namespace)

    def error(self, message: str) -> NoReturn:
        super().error(message + _did_you_mean(getattr(self, "_given", []), list(self._option_string_actions)))


def _did_you_mean(tokens: Sequence[str], options: Sequence[str]) -> str:
    """' (did you mean --output?)' for the first ``--word`` that is no option nor the start of one."""
    for token in tokens:
        name = token.split("=", 1)[0]
        if name.startswith("--") and not any(option.startswith(name) for option in options):
            close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


def model_size(text: str) -> int:
    value = int(text)
    if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"must be a positive multiple of {SIZE_MULTIPLE}, got {value}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def strength(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def saturation(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= SATURATION_MAX:
        raise argparse.ArgumentTypeError(f"must be between 0 (grey) and {SATURATION_MAX:g}, got {text}")
    return value


def add_look_options(parser: argparse.ArgumentParser) -> None:
    """How the colour is written: its strength and the comparison with the input."""
    parser.add_argument("--saturation", type=saturation, default=1.0,
                        help="scale the colour: 0 grey, 1 as predicted (default), 1.3 more vivid")
    parser.add_argument("--compare", choices=COMPARE_MODES, default="off",
                        help="side: the input's grey left of the colour (twice the width); split: grey left half, "
                             "colour right half (default: off)")  # fmt: skip


def add_colorize_options(parser: argparse.ArgumentParser) -> None:
    """What single-file mode and batch mode share: the model, smoothing, encoder and colour settings."""
    add_model_options(parser)
    parser.add_argument("--batch", type=positive_int, default=1, help="frames per model call (default: 1)")
    add_smooth_option(parser)
    add_encoder_options(parser)
    add_look_options(parser)


def crf(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"must be between 0 and 51, got {value}")
    return value


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    from ..sinks import DEFAULT_X264_PRESET  # here, not above: the training commands need no PyAV

    parser.add_argument("--crf", type=crf, default=18, help="x264 constant rate factor, 0-51 (default: 18)")
    parser.add_argument("--preset", choices=X264_PRESETS, default=DEFAULT_X264_PRESET,
                        help=f"x264 preset (default: {DEFAULT_X264_PRESET})")


def add_model_options(parser: argparse.ArgumentParser, *, backend: bool = True) -> None:
    parser.add_argument("--model", choices=MODEL_NAMES, default="auto",
                        help="shipped model: fast (the CPU default), quality (the GPU default); auto picks by backend")
    parser.add_argument("--weights", type=Path, help="a colorizer checkpoint instead of a shipped model")
    parser.add_argument("--sensor", choices=SENSORS, default="visible",
                        help="the camera: visible light (default), thermal (white-hot), thermal-blackhot, or nir (an "
                             "infrared-lit CCTV camera at night): night vision runs a model of its own")  # fmt: skip
    parser.add_argument("--render", choices=RENDERS, default="auto",
                        help="night vision: sensor keeps the camera's brightness and adds colour; daylight shows "
                             "the lightness the scene would have by day (auto: the sensor's default, README)")
    parser.add_argument("--size", type=model_size, help="model working size, short side (default: the model's)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="int8: the shipped model quantized, on onnxruntime (1.6x as fast on a CPU); auto: int8 "
                             "where onnxruntime runs a shipped model, else fp32")
    if backend:
        parser.add_argument("--backend", choices=BACKEND_NAMES, default="auto", help="inference backend")


def colorizer_from(args: argparse.Namespace, backend: str | None = None) -> Colorizer:
    """The colorizer the model options ask for (``backend`` where the command names it per case)."""
    return Colorizer(backend=backend or args.backend, size=args.size, weights=args.weights, model=args.model,
                     precision=args.precision, sensor=args.sensor, render=args.render)  # fmt: skip


def add_smooth_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smooth", type=strength, default=DEFAULT_SMOOTH,
                        help=f"temporal smoothing 0..1, 0 = per frame (default: {DEFAULT_SMOOTH})")  # fmt: skip


def add_reference_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", type=Path, metavar="PHOTO",
                        help="a colour picture of the same view (a fixed camera's daytime frame, a still of the shot): "
                             "its colours where the picture shows what it shows; of another view, its colours on the "
                             "same kinds of things; the model's elsewhere")


def reference_from(args: argparse.Namespace) -> Reference | None:
    """The --reference picture, read (one line where it cannot be), or None."""
    return None if args.reference is None else Reference.read(args.reference)


def add_message_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notices, errors only")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")




def float_list(text: str) -> list[float]:
    return [strength(n) for n in text.split(",")]




def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value
