"""Training photos packed small, for a GPU machine that takes 64 MiB of files a call, the checkout included.

``pack_photos`` scales each photo to short side ``side`` (144: a 128 crop still moves 16 px), centre-crops its
long side to at most ``aspect`` times that (1: a square), re-encodes it (WebP, quality 70) and writes the lot, in a
seeded random order (any shard is a fair sample of every collection), into shards of at most ``shard_mib`` MiB:
``photos-000.pack.npz``, … (uncompressed ``.npz``: ``data``, every photo's bytes back to back; ``offsets``, where
each starts, and the end; ``names``, their file names, one a line; ``info``, the settings as JSON) and
``index.json`` beside them. ``vidcolor train PACKS`` reads such a folder (``PackedPhotos``): the bytes are held
once and decoded by the DataLoader's workers.

Measured on this project's 2-vCPU VM (Intel Xeon, avx2 and avx512f; one thread, the other core busy): the 29,750
training photos (``../shared/data/photos/train``: WebP, short side 144-192) pack into 5 shards of 17.3 MiB,
86.3 MiB in all (2.97 KiB a photo), in 80 s. With the checkout (41.7 MiB) a shard makes a 59-MiB call: five
calls bring them all. The format, on 600 of the photos (a photo's size; its mean error in CIELAB units, L* and,
at the loss's stride 4, a*b*): WebP q70 square 2.89 KiB (1.1, 1.1), q75 3.05 KiB (1.0, 1.0), q70 4:3 3.35 KiB;
JPEG q90 7.06 KiB (0.7, 0.6), q75 4.51 KiB (1.1, 1.0). JPEG q90 would make 12 shards (205 MiB), q75 8: each
shard more is one more call to the machine, whose time is counted. Decoding a WebP photo takes 0.5 ms (JPEG
0.2 ms): decoding alone would let 15 workers serve some 30,000 photos a second.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..errors import InputError
from .data import list_images

log = logging.getLogger("vidcolor")

PACK_SUFFIX = ".pack.npz"
INDEX = "index.json"
PackFormat = Literal["webp", "jpg"]
FORMATS: tuple[str, ...] = ("webp", "jpg")
_QUALITY_FLAG = {"webp": cv2.IMWRITE_WEBP_QUALITY, "jpg": cv2.IMWRITE_JPEG_QUALITY}
_SHARD_OVERHEAD = 4096  # the .npz's own headers and the info, a generous guess
_PHOTO_OVERHEAD = 8 + 40  # an offset and a file name, at most that, per photo


@dataclass(frozen=True)
class PackSettings:
    side: int = 144  # short side after scaling: a little above the training crop (128)
    aspect: float = 1.0  # the long side is centre-cropped to at most aspect x side
    format: PackFormat = "webp"
    quality: int = 70
    shard_mib: float = 18.0  # each shard at most this: with the checkout (about 42 MiB) within a 64-MiB call

    def __post_init__(self) -> None:
        if self.side < 8:
            raise ValueError(f"side must be at least 8, got {self.side}")
        if self.aspect < 1.0:
            raise ValueError(f"aspect is long side over short side, at least 1, got {self.aspect}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be between 1 and 100, got {self.quality}")
        if self.shard_mib <= 0:
            raise ValueError(f"shard_mib must be positive, got {self.shard_mib}")


def fit(bgr: np.ndarray, side: int, aspect: float) -> np.ndarray:
    """Scale to short side ``side`` (area averaging down, cubic up), then centre-crop the long side to at most
    ``round(aspect * side)``."""
    height, width = bgr.shape[:2]
    scale = side / min(height, width)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))  # (W, H)
    if size != (width, height):
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    longest = round(aspect * side)
    top, left = max(0, (size[1] - longest) // 2), max(0, (size[0] - longest) // 2)
    return bgr[top : top + longest, left : left + longest]


def encode_photo(path: Path, settings: PackSettings) -> np.ndarray:
    """One photo as the pack keeps it: encoded bytes (uint8)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read {path} as an image")
    ok, encoded = cv2.imencode(f".{settings.format}", fit(bgr, settings.side, settings.aspect),
                               [_QUALITY_FLAG[settings.format], settings.quality])  # fmt: skip
    if not ok:
        raise InputError(f"cannot encode {path} as {settings.format}")
    return encoded.reshape(-1)


def split_shards(sizes: Sequence[int], limit: int) -> list[range]:
    """Consecutive runs of photos, as few as keep each run's bytes (with the shard's overhead) within ``limit``,
    and as even as can be."""
    if not sizes:
        return []
    if max(sizes) + _PHOTO_OVERHEAD + _SHARD_OVERHEAD > limit:
        raise ValueError(f"a photo of {max(sizes)} bytes does not fit a shard of {limit} bytes")
    cumulative = np.cumsum([size + _PHOTO_OVERHEAD for size in sizes])
    count = math.ceil((int(cumulative[-1]) + _SHARD_OVERHEAD) / limit)
    while True:
        # each shard ends where its even share of the bytes is reached
        cuts = [0, *(int(np.searchsorted(cumulative, cumulative[-1] * k / count, side="right")) for k in
                     range(1, count)), len(sizes)]  # fmt: skip
        runs = [range(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
        used = [int(cumulative[r[-1]] - (cumulative[r[0] - 1] if r[0] else 0)) + _SHARD_OVERHEAD for r in runs]
        if max(used) <= limit:
            return runs
        count += 1


def pack_photos(photos: str | Path, out: str | Path, settings: PackSettings = PackSettings(), *,
                limit: int | None = None, seed: int = 0, threads: int = 1, progress: bool = True) -> dict:
    """Pack the photos below ``photos`` (``limit``: only that many, a seeded random choice) into shards in
    ``out``, replacing the shards already there; return what ``index.json`` holds."""
    started = time.monotonic()
    paths = list_images(photos)
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed)).tolist()
    paths = [paths[i] for i in order][:limit]
    root = Path(photos)
    with ThreadPoolExecutor(max(1, threads)) as pool:  # OpenCV lets go of the GIL while it decodes and encodes
        encoded = list(tqdm(pool.map(lambda p: encode_photo(p, settings), paths), total=len(paths), unit="photo",
                            disable=not progress))  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in list_packs(out):
        stale.unlink()
    info = {**asdict(settings), "seed": seed, "source": str(root)}
    shards = []
    for number, run in enumerate(split_shards([e.size for e in encoded], int(settings.shard_mib * 2**20))):
        name = f"photos-{number:03d}{PACK_SUFFIX}"
        sizes = [encoded[i].size for i in run]
        names = "\n".join(paths[i].relative_to(root).as_posix() for i in run)
        np.savez(out / name, data=np.concatenate([encoded[i] for i in run]),
                 offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                 names=np.frombuffer(names.encode(), np.uint8), info=np.frombuffer(json.dumps(info).encode(), np.uint8))
        shards.append({"file": name, "photos": len(run), "bytes": (out / name).stat().st_size})  # fmt: skip
    total = sum(shard["bytes"] for shard in shards)
    index = {**info, "photos": len(paths), "bytes": total, "seconds": round(time.monotonic() - started, 1),
             "shards": shards}  # fmt: skip
    (out / INDEX).write_text(json.dumps(index, indent=2) + "\n")
    return index


def list_packs(folder: str | Path) -> list[Path]:
    """The shards in ``folder`` (not below it), sorted; none where it is a folder of photos."""
    folder = Path(folder)
    return sorted(folder.glob(f"*{PACK_SUFFIX}")) if folder.is_dir() else []


class PackedPhotos:
    """The photos of some shards: their bytes in one array, decoded on demand (``read``).

    One array, not a list of bytes objects: DataLoader workers forked from the loading process share its pages
    (nothing counts references to its parts), so 15 workers hold the packs once.
    """

    def __init__(self, shards: Sequence[Path]) -> None:
        if not shards:
            raise InputError("no photo packs given")
        data, offsets, names, end = [], [np.zeros(1, np.int64)], [], 0
        for shard in shards:
            try:
                with np.load(shard) as npz:
                    data.append(npz["data"])
                    offsets.append(npz["offsets"][1:] + end)
                    names += bytes(npz["names"]).decode().split("\n")
            except (OSError, KeyError, ValueError) as exc:
                raise InputError(f"{shard} is not a photo pack (vidcolor pack-photos): {exc}") from exc
            end += data[-1].size
        self.data, self.offsets = np.concatenate(data), np.concatenate(offsets)
        self.names = [PurePosixPath(name) for name in names]  # for the collections (``source_of``)
        if len(self.names) != len(self.offsets) - 1 or self.offsets[-1] != self.data.size:
            raise InputError(f"the photo packs {', '.join(s.name for s in shards)} are damaged")

    def __len__(self) -> int:
        return len(self.names)

    def read(self, index: int) -> torch.Tensor:
        """uint8 RGB (3, H, W), as ``read_rgb`` gives a photo file."""
        bgr = cv2.imdecode(self.data[self.offsets[index] : self.offsets[index + 1]], cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"{self.names[index]} in the photo packs cannot be decoded")
        return torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).permute(2, 0, 1).contiguous()


def read_index(folder: str | Path) -> dict | None:
    """What ``pack_photos`` wrote in ``folder``'s ``index.json``, if anything."""
    path = Path(folder) / INDEX
    return json.loads(path.read_text()) if path.is_file() else None
