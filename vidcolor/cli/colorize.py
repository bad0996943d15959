"""`vidcolor INPUT -o OUTPUT`: a video, an image or a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import __version__, resume
from ..errors import InputError
from ..images import check_image_suffix, colorize_image_file, colorize_image_folder, is_image_path
from ..safe_output import check_output, check_video_suffix
from .options import (
    EXIT_INTERRUPTED,
    Parser,
    add_colorize_options,
    add_message_flags,
    colorizer_from,
    log,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vidcolor",
        description="Colorize a grayscale video (or an image, or a folder of images).",
        epilog="other commands: vidcolor batch, live, serve, train, quantize, eval, eval-video, bench "
               "(each with --help)",
    )
    parser.add_argument("input", type=Path, help="video file, image file, or folder of images")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output video, image, or folder")
    parser.add_argument("-y", "--overwrite", action="store_true", help="overwrite an existing output")
    parser.add_argument("--restart", action="store_true",
                        help="start afresh where a killed or interrupted run left its output (default: continue it)")
    add_colorize_options(parser)
    parser.add_argument("--overlay-fps", action="store_true",
                        help="draw the processing rate on every frame (and label --compare's halves)")
    add_message_flags(parser)
    parser.add_argument("--version", action="version", version=f"vidcolor {__version__}")
    return parser


def run_colorize(args: argparse.Namespace) -> int:
    from ..pipeline import colorize_file  # the video stack (PyAV) loads only for commands that decode video

    source: Path = args.input
    if not source.exists():
        raise InputError(f"input not found: {source}")
    is_video = not source.is_dir() and not is_image_path(source)
    if is_video:
        check_video_suffix(args.output)  # before the model loads
    elif not source.is_dir():
        check_image_suffix(args.output)
    interruption = resume.Interruption(args.output, overwrite=args.overwrite)  # what Ctrl-C left goes on
    if not source.is_dir() and not interruption.continues:
        check_output(source, args.output, overwrite=args.overwrite)  # so is a refusal of the output
    colorizer = colorizer_from(args)
    look = {"saturation": args.saturation, "compare": args.compare}
    if source.is_dir():
        done = colorize_image_folder(colorizer, source, args.output, overwrite=args.overwrite, progress=not args.quiet,
                                     labels=args.overlay_fps, **look)  # fmt: skip
        if done.failed:  # each bad image is named above; the run ends on one error line, exit 1
            raise InputError(done.summary())
        log.info("%s", done.summary())
        return 0
    if is_image_path(source):
        colorize_image_file(colorizer, source, args.output, overwrite=args.overwrite, labels=args.overlay_fps, **look)
        log.info("wrote %s", args.output)
        return 0
    result = colorize_file(
        source, args.output, colorizer=colorizer, overwrite=args.overwrite or interruption.continues,
        on_frames=interruption.note,
        crf=args.crf, preset=args.preset, batch=args.batch, smooth=args.smooth, progress=not args.quiet,
        overlay_fps=args.overlay_fps, restart=args.restart, **look,
    )  # fmt: skip
    if result.interrupted:
        goes_on = "; the same command continues it" if interruption.keep(result.frames) else ""
        log.warning("interrupted: %s holds the first %d frames and plays%s", result.output, result.frames, goes_on)
        return EXIT_INTERRUPTED
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", result.output, result.frames, result.seconds, result.fps)
    return 0
