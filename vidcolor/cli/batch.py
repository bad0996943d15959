"""`vidcolor batch`: folders of videos and images, on local workers or Ray."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from .options import (
    Parser,
    add_colorize_options,
    add_message_flags,
    log,
    positive_float,
    positive_int,
)


def _ray_address(text: str) -> str:
    """A cluster address, not a source folder caught by the optional value (`--ray SRC`)."""
    if text not in ("", "auto") and not text.startswith("ray://") and (":" not in text or Path(text).exists()):
        raise argparse.ArgumentTypeError(f"{text!r} is no cluster address (host:port, ray://host:port or auto); "
                                         "put the sources before --ray")  # fmt: skip
    return text


def _suffix(text: str) -> str:
    return "." + text.lower().lstrip(".")


def build_batch_parser() -> argparse.ArgumentParser:
    from ..batch import DEFAULT_CPUS_PER_WORKER, DEFAULT_RETRIES

    parser = Parser(prog="vidcolor batch", description="Colorize every video and image under the sources into "
                     "a mirrored tree, on local worker processes or a Ray cluster. Running it again finishes "
                     "what is missing.")  # fmt: skip
    parser.add_argument("sources", type=Path, nargs="+", metavar="SRC", help="folders (searched recursively) or files")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("-y", "--overwrite", action="store_true", help="redo outputs that exist")
    parser.add_argument("--workers", type=positive_int, default=1, help="local worker processes (default: 1)")
    parser.add_argument("--ray", nargs="?", const="", type=_ray_address, metavar="ADDRESS",
                        help="run on Ray (vidcolor[ray]): the cluster at ADDRESS, else RAY_ADDRESS, else a new one")
    parser.add_argument("--cpus-per-worker", type=positive_int, default=DEFAULT_CPUS_PER_WORKER,
                        help=f"with --ray and no GPU: one worker per this many CPUs (default: "
                             f"{DEFAULT_CPUS_PER_WORKER})")  # fmt: skip
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, choices=range(0, 100), metavar="N",
                        help=f"tries after a file's first failure, over all runs (default: {DEFAULT_RETRIES})")
    parser.add_argument("--video-format", type=_suffix, default=".mp4", help="suffix of the output videos (mp4)")
    parser.add_argument("--image-format", type=_suffix, help="suffix of the output images (default: the input's)")
    parser.add_argument("--split-minutes", type=positive_float, metavar="M",
                        help="cut a video longer than M minutes at keyframes into segments of about M minutes that "
                             "the workers colorize at once, then join them")  # fmt: skip
    add_colorize_options(parser)
    add_message_flags(parser)
    return parser


def run_batch(args: argparse.Namespace) -> int:
    from .. import batch

    options = batch.ColorOptions(model=args.model, weights=args.weights, size=args.size, precision=args.precision,
                                 sensor=args.sensor, render=args.render,
                                 backend=args.backend, batch=args.batch, smooth=args.smooth, crf=args.crf,
                                 preset=args.preset, saturation=args.saturation, compare=args.compare)  # fmt: skip
    result = batch.run(
        args.sources, args.output, options=options, engine="local" if args.ray is None else "ray",
        workers=args.workers, ray_address=args.ray or None, cpus_per_worker=args.cpus_per_worker,
        retries=args.retries, overwrite=args.overwrite, video_suffix=args.video_format,
        image_suffix=args.image_format, split_minutes=args.split_minutes, progress=not args.quiet,
    )  # fmt: skip
    if not args.quiet:
        print(batch.summary_table(result))
    if result.failed:
        for line in batch.failure_lines(result):
            log.warning("%s", line)
        raise InputError(f"{len(result.failed)} of {len(result.failed) + len(result.done) + len(result.skipped)} "
                         f"files failed (named above); {args.output / batch.MANIFEST_NAME} has every attempt")
    return 0
