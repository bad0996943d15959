"""Command line: collects arguments, calls the public API, turns failures into one-line messages. One module per
command; `options` holds what they share."""

from __future__ import annotations

import difflib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import VidcolorError, first_line
from .batch import build_batch_parser, run_batch
from .bench import build_bench_parser, build_eval_video_parser, run_bench, run_eval_video
from .colorize import build_parser, run_colorize
from .live import build_live_parser, run_live
from .options import EXIT_ERROR, EXIT_INTERRUPTED, log
from .serve import build_serve_parser, run_serve
from .train import (
    build_eval_parser,
    build_quantize_parser,
    build_train_hints_parser,
    build_train_parser,
    run_eval,
    run_quantize,
    run_train,
    run_train_hints,
)

COMMANDS = {
    "batch": (build_batch_parser, run_batch),
    "train": (build_train_parser, run_train),
    "train-hints": (build_train_hints_parser, run_train_hints),
    "eval": (build_eval_parser, run_eval),
    "quantize": (build_quantize_parser, run_quantize),
    "eval-video": (build_eval_video_parser, run_eval_video),
    "bench": (build_bench_parser, run_bench),
    "live": (build_live_parser, run_live),
    "serve": (build_serve_parser, run_serve),
}


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _refuse_mistyped_command(argv: Sequence[str]) -> None:
    """``vidcolor bnech`` would be read as an input file named bnech: say which command was meant instead."""
    if not argv or argv[0] in COMMANDS or Path(argv[0]).exists() or Path(argv[0]).suffix:
        return
    close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1, cutoff=0.6)
    if close:
        build_parser().error(f"no command or file named {argv[0]!r}; did you mean 'vidcolor {close[0]}'?")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # `vidcolor` alone: what it does and its commands, not a complaint about a missing input
        build_parser().print_help()
        return 0
    _refuse_mistyped_command(argv)
    if argv and argv[0] in COMMANDS:
        build, run = COMMANDS[argv[0]]
        args = build().parse_args(argv[1:])
    else:
        build, run = build_parser, run_colorize
        args = build().parse_args(argv)
    logging.basicConfig(format="vidcolor: %(message)s", level=logging.WARNING if args.quiet else logging.INFO)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # `kill` finishes the file like Ctrl-C
    # and so does SIGINT, also where it came ignored: a shell starts a background job (`vidcolor … &`, nohup) so
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
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
