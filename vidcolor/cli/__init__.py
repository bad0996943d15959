"""Command line: collects arguments, calls the public API, turns failures into one-line messages. One module per
command, imported when that command runs (so `vidcolor train` needs no PyAV: a GPU machine that takes 64 MiB of
files a call has no room for its 35-MiB wheel); `options` holds what they share."""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import VidcolorError, first_line
from .options import EXIT_ERROR, EXIT_INTERRUPTED, log

# command -> (its module in vidcolor/cli, the function that builds its parser, the one that runs it)
COMMANDS = {
    "batch": ("batch", "build_batch_parser", "run_batch"),
    "train": ("train", "build_train_parser", "run_train"),
    "train-hints": ("train", "build_train_hints_parser", "run_train_hints"),
    "train-gate": ("train", "build_train_gate_parser", "run_train_gate"),
    "pack-photos": ("pack", "build_pack_parser", "run_pack"),
    "eval": ("train", "build_eval_parser", "run_eval"),
    "quantize": ("train", "build_quantize_parser", "run_quantize"),
    "eval-video": ("bench", "build_eval_video_parser", "run_eval_video"),
    "bench": ("bench", "build_bench_parser", "run_bench"),
    "live": ("live", "build_live_parser", "run_live"),
    "serve": ("serve", "build_serve_parser", "run_serve"),
}
Command = tuple[Callable[[], argparse.ArgumentParser], Callable[[argparse.Namespace], int]]


def command(name: str) -> Command:
    """A command's parser builder and runner; without a name, colorizing a file (``vidcolor IN -o OUT``)."""
    module, build, run = COMMANDS[name] if name else ("colorize", "build_parser", "run_colorize")
    loaded = importlib.import_module(f".{module}", __name__)
    return getattr(loaded, build), getattr(loaded, run)


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _refuse_mistyped_command(argv: Sequence[str]) -> None:
    """``vidcolor bnech`` would be read as an input file named bnech: say which command was meant instead."""
    if not argv or argv[0] in COMMANDS or Path(argv[0]).exists() or Path(argv[0]).suffix:
        return
    close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1, cutoff=0.6)
    if close:
        command("")[0]().error(f"no command or file named {argv[0]!r}; did you mean 'vidcolor {close[0]}'?")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # `vidcolor` alone: what it does and its commands, not a complaint about a missing input
        command("")[0]().print_help()
        return 0
    _refuse_mistyped_command(argv)
    if argv and argv[0] in COMMANDS:
        build, run = command(argv[0])
        args = build().parse_args(argv[1:])
    else:
        build, run = command("")
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
