"""`vidcolor live`: a camera or stream colorized in a window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import InputError
from ..safe_output import check_video_suffix
from .options import (
    EXIT_INTERRUPTED,
    Parser,
    add_message_flags,
    add_model_options,
    add_reference_option,
    add_smooth_option,
    colorizer_from,
    log,
    positive_float,
    positive_int,
    reference_from,
    saturation,
)


def build_live_parser() -> argparse.ArgumentParser:
    from ..capture import RTSP_TRANSPORTS

    parser = Parser(
        prog="vidcolor live",
        description="Colorize a camera or stream live, in a window with an FPS overlay. "
        "Keys: q/Esc quit, space pause, c side-by-side, t smoothing on/off, +/- saturation, s snapshot.",
    )
    parser.add_argument("source", help="camera index (0), /dev/videoN, rtsp:// rtmp:// udp:// http(s):// srt:// URL, "
                        "or a video file (a stand-in camera at its own frame rate)")  # fmt: skip
    add_model_options(parser)
    add_smooth_option(parser)
    parser.add_argument("--saturation", type=saturation, default=1.0,
                        help="colour strength to start at (the +/- keys change it): 0 grey, 1 as predicted")
    parser.add_argument("--equalize", action="store_true", help="CLAHE on dark, low-contrast (IR) feeds first")
    parser.add_argument("--no-window", action="store_true", help="headless: print the stats once a second")
    parser.add_argument("--frames", type=positive_int, help="stop after this many processed frames")
    parser.add_argument("--loop", action="store_true", help="a file source starts again at its end")
    parser.add_argument("--rtsp-transport", choices=RTSP_TRANSPORTS, default="tcp", help="default: tcp")
    parser.add_argument("--timeout", type=positive_float, default=10.0,
                        help="seconds to wait for a stream to open or send (default: 10)")  # fmt: skip
    parser.add_argument("--record", type=Path, help="also write the colorized feed to this video file")
    parser.add_argument("--record-overlay", action="store_true", help="with --record: keep the stats overlay")
    parser.add_argument("-y", "--overwrite", action="store_true", help="overwrite an existing --record file")
    add_reference_option(parser)
    parser.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where s saves PNGs (default: .)")
    add_message_flags(parser)
    return parser


def _display_available() -> bool:
    """False on a Linux box with no X11 or Wayland display, where opening a window aborts the process (Qt)."""
    if not sys.platform.startswith("linux"):
        return True  # macOS and Windows always have a window server for a desktop session
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_live(args: argparse.Namespace) -> int:
    from ..capture import Capture, reader_factory
    from ..live import LiveOptions, run_live

    if args.record_overlay and args.record is None:
        raise InputError("--record-overlay needs --record FILE")
    if args.record is not None:
        check_video_suffix(args.record)  # before a stream is waited for
    if not args.no_window and not _display_available():
        raise InputError("no display to open the window on (DISPLAY is not set); add --no-window to print the "
                         "stats instead, and --record FILE to keep the video")  # fmt: skip
    open_reader = reader_factory(args.source, timeout=args.timeout, rtsp_transport=args.rtsp_transport,
                                 loop=args.loop)  # fmt: skip
    reference = reference_from(args)  # a bad picture is refused before the stream is waited for
    capture = Capture(open_reader, name=args.source)  # before the model loads: a dead source fails fast
    try:
        colorizer = colorizer_from(args)
    except BaseException:
        capture.stop()
        raise
    options = LiveOptions(reference=reference, smooth=args.smooth, saturation=args.saturation, equalize=args.equalize,
                          window=not args.no_window, frames=args.frames, record=args.record,
                          record_overlay=args.record_overlay, overwrite=args.overwrite, snapshot_dir=args.snapshot_dir,
                          stats_every=float("inf") if args.quiet else LiveOptions.stats_every)  # fmt: skip
    result = run_live(capture, colorizer, options)
    log.info("%s", result.summary())
    return EXIT_INTERRUPTED if result.interrupted else 0  # as file mode: a script can tell Ctrl-C from the end
