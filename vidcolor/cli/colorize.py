"""`vidcolor INPUT -o OUTPUT`: a video, an image or a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import __version__, resume
from ..errors import InputError
from ..guidance.hints import Hint, read_hints
from ..images import check_image_suffix, colorize_image_file, colorize_image_folder, is_image_path
from ..safe_output import check_output, check_video_suffix
from .options import (
    EXIT_INTERRUPTED,
    Parser,
    add_colorize_options,
    add_message_flags,
    add_reference_option,
    colorizer_from,
    log,
    reference_from,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vidcolor",
        description="Colorize a grayscale video (or an image, or a folder of images).",
        epilog="other commands: vidcolor batch, live, serve, train, pack-photos, quantize, eval, eval-video, bench "
               "(each with --help)",
    )
    parser.add_argument("input", type=Path, help="video file, image file, or folder of images")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output video, image, or folder")
    parser.add_argument("-y", "--overwrite", action="store_true", help="overwrite an existing output")
    parser.add_argument("--restart", action="store_true",
                        help="start afresh where a killed or interrupted run left its output (default: continue it)")
    add_colorize_options(parser)
    parser.add_argument("--hints", type=Path, metavar="FILE|DIR",
                        help="colours known at places of the picture, as JSON (README, 'Hints and a reference'); "
                             "for a folder of images, a folder holding NAME.json per image")
    add_reference_option(parser)
    parser.add_argument("--profile", action="store_true",
                        help="after a video, print where the time went: each stage's CPU per frame, its share of "
                             "the cores, and how long it waited for the stage before or after it")  # fmt: skip
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
    hints = _hints_for(source, args.hints)  # a malformed hints file is refused before the model loads, too
    reference = reference_from(args)
    colorizer = colorizer_from(args)
    if args.hints is not None:
        colorizer.hinted_backend()  # a model without hint attention is refused before any work
    look = {"saturation": args.saturation, "compare": args.compare}
    if source.is_dir():
        done = colorize_image_folder(colorizer, source, args.output, overwrite=args.overwrite, progress=not args.quiet,
                                     labels=args.overlay_fps, hints=args.hints, reference=reference,
                                     **look)  # fmt: skip
        if done.failed:  # each bad image is named above; the run ends on one error line, exit 1
            raise InputError(done.summary())
        log.info("%s", done.summary())
        return 0
    if is_image_path(source):
        colorize_image_file(colorizer, source, args.output, overwrite=args.overwrite, labels=args.overlay_fps,
                            hints=hints, reference=reference, **look)  # fmt: skip
        log.info("wrote %s", args.output)
        return 0
    result = colorize_file(
        source, args.output, colorizer=colorizer, overwrite=args.overwrite or interruption.continues,
        on_frames=interruption.note,
        crf=args.crf, preset=args.preset, batch=args.batch, smooth=args.smooth, progress=not args.quiet,
        overlay_fps=args.overlay_fps, restart=args.restart, hints=hints, reference=reference, **look,
    )  # fmt: skip
    if result.interrupted:
        goes_on = "; the same command continues it" if interruption.keep(result.frames) else ""
        log.warning("interrupted: %s holds the first %d frames and plays%s", result.output, result.frames, goes_on)
        return EXIT_INTERRUPTED
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", result.output, result.frames, result.seconds, result.fps)
    if args.profile and result.times is not None:
        print(result.times.table())
    return 0


def _hints_for(source: Path, hints: Path | None) -> list[Hint]:
    """The hints of a picture or video (a file), read and checked; a folder's are read image by image."""
    if hints is None:
        return []
    if source.is_dir():
        if not hints.is_dir():
            raise InputError(f"--hints for a folder of images is a folder of NAME.json files; {hints} is not one")
        return []
    if hints.is_dir():
        raise InputError(f"--hints for {source.name} is one JSON file; {hints} is a folder")
    return read_hints(hints)
