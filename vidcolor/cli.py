"""Command line: collects arguments, calls the public API, turns failures into one-line messages."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from . import __version__
from .backends import BACKEND_NAMES
from .colorizer import Colorizer
from .errors import InputError, VidcolorError, first_line
from .images import colorize_image_file, colorize_image_folder, is_image_path
from .model import SIZE_MULTIPLE
from .pipeline import colorize_file

log = logging.getLogger("vidcolor")

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def _model_size(text: str) -> int:
    value = int(text)
    if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"must be a positive multiple of {SIZE_MULTIPLE}, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _crf(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"must be between 0 and 51, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidcolor",
        description="Colorize a grayscale video (or an image, or a folder of images).",
    )
    parser.add_argument("input", type=Path, help="video file, image file, or folder of images")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output video, image, or folder")
    parser.add_argument("-y", "--overwrite", action="store_true", help="overwrite an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notices, errors only")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="auto", help="inference backend (default: auto)")
    parser.add_argument("--size", type=_model_size, default=256, help="model working size, short side (default: 256)")
    parser.add_argument("--batch", type=_positive_int, default=1, help="frames per model call (default: 1)")
    parser.add_argument("--weights", type=Path, help="colorizer checkpoint (default: the shipped weights)")
    parser.add_argument("--crf", type=_crf, default=18, help="x264 constant rate factor, 0-51 (default: 18)")
    parser.add_argument("--preset", choices=X264_PRESETS, default="fast", help="x264 preset (default: fast)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--version", action="version", version=f"vidcolor {__version__}")
    return parser


def _colorize(args: argparse.Namespace) -> int:
    source: Path = args.input
    if not source.exists():
        raise InputError(f"input not found: {source}")
    colorizer = Colorizer(backend=args.backend, size=args.size, weights=args.weights)
    if source.is_dir():
        count = colorize_image_folder(colorizer, source, args.output, overwrite=args.overwrite, progress=not args.quiet)
        log.info("wrote %d images to %s", count, args.output)
        return 0
    if is_image_path(source):
        colorize_image_file(colorizer, source, args.output, overwrite=args.overwrite)
        log.info("wrote %s", args.output)
        return 0
    result = colorize_file(
        source, args.output, colorizer=colorizer, overwrite=args.overwrite,
        crf=args.crf, preset=args.preset, batch=args.batch, progress=not args.quiet,
    )  # fmt: skip
    if result.interrupted:
        log.warning("interrupted: %s holds the first %d frames and plays", result.output, result.frames)
        return EXIT_INTERRUPTED
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", result.output, result.frames, result.seconds, result.fps)
    return 0


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="vidcolor: %(message)s", level=logging.WARNING if args.quiet else logging.INFO)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # `kill` finishes the file like Ctrl-C
    try:
        return _colorize(args)
    except VidcolorError as exc:
        log.error("error: %s", first_line(exc))
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # anything unforeseen still ends in one line, unless asked for the traceback
        if args.debug:
            raise
        log.error("error: %s: %s (run with --debug for the traceback)", type(exc).__name__, first_line(exc))
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
