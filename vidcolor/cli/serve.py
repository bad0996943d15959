"""`vidcolor serve`: the browser pages and the JSON API."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from pathlib import Path

from ..colorizer import Colorizer
from ..errors import InputError
from ..temporal import DEFAULT_SMOOTH
from .options import (
    Parser,
    add_message_flags,
    add_model_options,
    colorizer_from,
    log,
    positive_int,
    strength,
)


def build_serve_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vidcolor serve", description="Colorize over HTTP: a JSON API (OpenAPI page at /docs).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this "
                        "machine only)")
    parser.add_argument("--port", type=positive_int, default=8000, help="default: 8000")
    parser.add_argument("--out", type=Path, default=Path("vidcolor-serve"),
                        help="folder for results and uploads in progress (default: ./vidcolor-serve)")
    parser.add_argument("--token", default=os.environ.get("VIDCOLOR_TOKEN"),
                        help="demand 'Authorization: Bearer TOKEN' on every route (default: $VIDCOLOR_TOKEN)")
    parser.add_argument("--max-upload", type=positive_int, metavar="BYTES", default=4 << 30,
                        help="largest upload accepted (default: 4 GiB)")
    parser.add_argument("--source", action="append", type=_named_source, default=[], metavar="NAME=URL",
                        help="a live source for the Live page, as vidcolor live takes it (camera index, /dev/videoN, "
                             "rtsp://, udp://, a video file, looped); repeat for more")
    parser.add_argument("--smooth", type=strength, default=DEFAULT_SMOOTH,
                        help=f"live sources' temporal smoothing 0..1 (default: {DEFAULT_SMOOTH})")
    add_model_options(parser)
    add_message_flags(parser)
    return parser


def _named_source(text: str) -> tuple[str, str]:
    name, _, location = text.partition("=")
    if not name or not location or not name.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected NAME=URL, NAME of letters, digits, - and _; got {text!r}")
    return name, location


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve import create_app
    except ImportError as exc:
        raise InputError(f"vidcolor serve needs its extra: pip install 'vidcolor[serve]' ({exc.name} is missing)"
                         ) from exc  # fmt: skip
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: other machines can reach it%s", args.host,
                    "" if args.token else " (and no --token guards it)")  # fmt: skip
    names = [name for name, _ in args.source]
    if len(set(names)) != len(names):
        raise InputError(f"--source names must differ: {', '.join(names)}")

    def load(model: str, sensor: str) -> Colorizer:  # another shipped model or sensor, as a request asks
        return colorizer_from(argparse.Namespace(**{**vars(args), "model": model, "sensor": sensor, "render": "auto"}))

    listening = _listen(args.host, args.port)  # a busy port is said before the model loads, not after
    try:
        app = create_app(colorizer_from(args), args.out, load=None if args.weights else load, token=args.token,
                         max_upload=args.max_upload, sources=dict(args.source), smooth=args.smooth)  # fmt: skip
        host = f"[{args.host}]" if ":" in args.host else args.host
        log.info("serving at http://%s:%d/ (the API's reference at /docs%s)", host, args.port,
                 ", with ?token=TOKEN in a browser" if args.token else "")  # fmt: skip
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listening])
    finally:
        listening.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening, for uvicorn to serve on; one line where it cannot be."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            why = "it is in use (another server?); choose another with --port"
        else:
            why = (exc.strerror or str(exc)).lower()
        raise InputError(f"cannot listen on {host}:{port}: {why}") from exc
    return listening
