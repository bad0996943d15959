"""`vidcolor pack-photos`: the training photos packed small, in shards a GPU machine's calls can carry."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..train.pack import FORMATS, PackSettings
from .options import Parser, add_message_flags, log, positive_int

DEFAULT_PHOTOS = Path("../shared/data/photos/train")


def build_pack_parser() -> argparse.ArgumentParser:
    defaults = PackSettings()
    parser = Parser(prog="vidcolor pack-photos",
                    description="Pack training photos small (scaled, centre-cropped, re-encoded) into shards of a few "
                                "MiB, for `vidcolor train PACKS` on a machine that takes few files a call "
                                "(benchmarks/gpu_train.sh).")  # fmt: skip
    parser.add_argument("photos", type=Path, nargs="?", default=DEFAULT_PHOTOS,
                        help=f"folder of colour photos, searched recursively (default: {DEFAULT_PHOTOS})")
    parser.add_argument("--out", type=Path, default=Path("packs"),
                        help="folder for the shards and index.json; shards already there are replaced "
                             "(default: packs, which git ignores)")  # fmt: skip
    parser.add_argument("--side", type=positive_int, default=defaults.side,
                        help=f"short side the photos are scaled to, a little above the training crop "
                             f"(default: {defaults.side})")  # fmt: skip
    parser.add_argument("--aspect", type=float, default=defaults.aspect,
                        help=f"longest long side, times the short side; more is centre-cropped off "
                             f"(default: {defaults.aspect:g}, a square)")  # fmt: skip
    parser.add_argument("--format", choices=FORMATS, default=defaults.format,
                        help=f"how photos are re-encoded (default: {defaults.format})")
    parser.add_argument("--quality", type=int, default=defaults.quality,
                        help=f"encoder quality, 1-100 (default: {defaults.quality})")
    parser.add_argument("--shard-mib", type=float, default=defaults.shard_mib,
                        help=f"largest shard in MiB (default: {defaults.shard_mib:g}: with the checkout, one shard "
                             "a 64-MiB call)")  # fmt: skip
    parser.add_argument("--limit", type=positive_int, help="pack only N photos, a seeded random choice")
    parser.add_argument("--seed", type=int, default=0, help="the photos' order across shards (default: 0)")
    parser.add_argument("--threads", type=positive_int, default=1, help="photos encoded at once (default: 1)")
    add_message_flags(parser)
    return parser


def run_pack(args: argparse.Namespace) -> int:
    from ..train.pack import pack_photos

    try:
        settings = PackSettings(side=args.side, aspect=args.aspect, format=args.format, quality=args.quality,
                                shard_mib=args.shard_mib)  # fmt: skip
    except ValueError as exc:
        build_pack_parser().error(str(exc))
    index = pack_photos(args.photos, args.out, settings, limit=args.limit, seed=args.seed, threads=args.threads,
                        progress=not args.quiet)  # fmt: skip
    for shard in index["shards"]:
        print(f"{args.out / shard['file']}: {shard['photos']} photos, {shard['bytes'] / 2**20:.1f} MiB")
    log.info("packed %d photos into %d shards, %.1f MiB in all (%.2f KiB a photo), in %.0f s", index["photos"],
             len(index["shards"]), index["bytes"] / 2**20, index["bytes"] / 1024 / max(1, index["photos"]),
             index["seconds"])  # fmt: skip
    return 0
