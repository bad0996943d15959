"""Resuming a killed run: whether a partial output still belongs to this input and these settings, and which
of its packets are whole (those of the fragments the file holds to their last byte). And continuing a run that
Ctrl-C or kill stopped: it finished its output, shorter; the record it leaves beside it lets the same command
take that output up again as a killed run's partial."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
from av.bitstream import BitStreamFilterContext

from . import safe_output
from .errors import OutputError
from .fragments import fragments_path

log = logging.getLogger("vidcolor")
_HEAD_BYTES = 1 << 20  # hashing the first MiB tells a replaced file from a touched one, in milliseconds
_FORMAT = "vidcolor-resume/1"
# Outputs that a partial can be read from as they are, to continue them: MP4 and QuickTime keep the timestamps
# exactly. Matroska's are milliseconds (a frame at the seam was lost) and MPEG-TS's remux to MP4 fails.
_CONTINUABLE = (".mp4", ".m4v", ".mov")


def sidecar_path(output: Path) -> Path:
    """The small JSON beside the partial output that says what it was made from and how."""
    return output.with_name(f".{output.name}.partial.json")


def run_record(source: Path, settings: dict[str, object]) -> dict[str, object]:
    """The input's identity and the settings that change the pixels: a partial made under another record is
    not continued."""
    stat = source.stat()
    with source.open("rb") as file:
        head = hashlib.sha256(file.read(_HEAD_BYTES)).hexdigest()
    identity = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}
    return {"format": _FORMAT, "input": identity, "settings": settings}


def write_record(path: Path, record: dict[str, object]) -> None:
    path.write_text(json.dumps(record, indent=2) + "\n")


def mismatch(path: Path, record: dict[str, object]) -> str | None:
    """Why the partial beside ``path`` cannot be continued under ``record`` (None: it can)."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return "its record is missing or unreadable"
    if earlier.get("format") != record["format"]:
        return "it was written by another version"
    if earlier.get("input") != record["input"]:
        return "the input has changed since"
    settings, before = record["settings"], earlier.get("settings", {})
    changed = sorted(k for k in settings if before.get(k) != settings[k])  # type: ignore[union-attr]
    if changed:
        return f"{', '.join(changed)} changed since"
    return None


@dataclass(frozen=True)
class Cut:
    """Where a partial output is cut to continue it: after its whole fragments (each starts at a keyframe and
    holds a closed group of pictures, so the frames they hold are whole in display order too)."""

    frames: int
    resume_at: Fraction  # seconds: the first frame to colorize again
    whole_bytes: int = 0  # the file's first bytes that hold whole boxes: packets beyond were cut off


def find_cut(partial: Path) -> Cut:
    """After the last whole fragment whose frames leave no gap in display order. A fragment the encoder wrote
    when a run was stopped (not killed) can end inside a group of pictures: its last P-frame is there, the
    B-frames shown before it are not; such a tail is cut back to its keyframe."""
    whole_bytes = _whole_boxes(partial)
    try:
        container = av.open(str(partial))
    except av.FFmpegError:  # killed before its header was whole: no frame to keep
        return Cut(0, Fraction(0))
    with container:  # the timing of each whole video packet, not its data: a long partial holds gigabytes
        video = [_Timing(p.pts, p.duration or 0, p.is_keyframe, p.time_base) for p in _packets(container)
                 if p.stream.type == "video" and _within(p, whole_bytes)]  # fmt: skip
    # Cuts to try, latest first: the end, where every frame's duration is known, then before each keyframe up to
    # the first frame whose end is unknown.
    known = next((i for i, p in enumerate(video) if not p.duration), len(video))
    cuts = [i for i, p in enumerate(video[:known]) if p.is_keyframe and i] + ([known] if known == len(video) else [])
    for frames in reversed(cuts):
        kept = video[:frames]
        if _no_gap(kept):
            resume_at = max((p.pts + p.duration) * p.time_base for p in kept)
            return Cut(frames, resume_at, whole_bytes)
    return Cut(0, Fraction(0), whole_bytes)


class _Timing(NamedTuple):
    pts: int
    duration: int
    is_keyframe: bool
    time_base: Fraction


def _no_gap(packets: list[_Timing]) -> bool:
    """Whether these frames follow one another in display order: no step between two longer than one and a half
    of their usual duration (a variable frame rate's longer step only costs a shorter cut)."""
    if not packets:
        return False
    times = sorted(p.pts for p in packets)
    usual = sorted(p.duration for p in packets)[len(packets) // 2]
    return all(later - earlier <= 1.5 * usual for earlier, later in zip(times, times[1:], strict=False))


def _within(packet: av.Packet, whole_bytes: int) -> bool:
    return packet.pos is not None and 0 <= packet.pos and packet.pos + packet.size <= whole_bytes


def _whole_boxes(path: Path) -> int:
    """How many of the file's first bytes are whole top-level MP4 boxes: a run killed while writing a fragment
    leaves its box cut short, and the packets there unreadable or short."""
    size, end = path.stat().st_size, 0
    with path.open("rb") as file:
        while end + 8 <= size:
            file.seek(end)
            header = file.read(16)
            box = int.from_bytes(header[:4], "big")
            if box == 1 and len(header) == 16:  # a 64-bit size follows the type
                box = int.from_bytes(header[8:16], "big")
            elif box == 0:  # "to the end of the file"
                box = size - end
            if box < 8 or end + box > size:
                break
            end += box
    return end


def kept_packets(partial: Path, cut: Cut) -> Iterator[tuple[str, av.Packet]]:
    """("video" or "audio", packet) ahead of ``cut``, in file order: the first ``cut.frames`` video packets,
    as Annex B (the byte stream x264 writes, which the muxer of the new file expects), and audio before it."""
    with av.open(str(partial)) as container:
        to_annex_b = BitStreamFilterContext("h264_mp4toannexb", in_stream=container.streams.video[0])
        frames = 0
        for packet in _packets(container):
            if packet.stream.type == "video":
                if frames < cut.frames:
                    yield from (("video", p) for p in to_annex_b.filter(packet))
                frames += 1
            elif packet.pts * packet.time_base < cut.resume_at and _within(packet, cut.whole_bytes):
                yield "audio", packet  # (audio is interleaved: some may follow the cut)


def _packets(container: av.container.InputContainer) -> Iterator[av.Packet]:
    """Video and audio packets with timestamps, in file order, up to where the file is cut off."""
    streams = [*container.streams.video[:1], *container.streams.audio[:1]]
    try:
        for packet in container.demux(streams):
            if packet.dts is not None and packet.pts is not None:
                yield packet
    except av.FFmpegError:  # the cut-off end: what came before it stands
        return


def resumable_cut(output: Path, record: dict[str, object], *, restart: bool) -> Cut | None:
    """Where to continue a killed run's partial ``output`` from, or an interrupted run's ``output`` itself (see
    ``Interruption``); None to start afresh (said, with why, where a partial was there), its leftovers removed."""
    partial, sidecar = fragments_path(output), sidecar_path(output)
    if not partial.exists() and interrupted_path(output).exists():
        return _interrupted_cut(output, record, restart=restart)
    if not partial.exists():
        sidecar.unlink(missing_ok=True)
        return None
    reason = "--restart" if restart else mismatch(sidecar, record)
    cut = find_cut(partial) if reason is None else None
    if cut is not None and cut.frames == 0:
        reason = "it holds no whole fragment yet"
    if reason is not None:
        log.info("starting afresh, not resuming the earlier run's %s: %s", partial.name, reason)
        forget(output)
        return None
    return cut


def interrupted_path(output: Path) -> Path:
    """The record a run stopped by Ctrl-C or kill leaves beside the output it finished, shorter."""
    return output.with_name(f".{output.name}.interrupted.json")


class Interruption:
    """The command line's side of continuing a run that Ctrl-C or kill stopped, as a killed one is continued.

    Stopped, a run finishes its output (shorter, playable) and removes the record beside its partial: ``note``,
    given to ``colorize_file`` as ``on_frames``, reads that record while the run goes on, and ``keep`` leaves it
    beside the output (an .mp4, .m4v or .mov). Next time, where ``continues``, the output is not refused as an
    existing one: the same command continues it from its end (``resumable_cut``), ``--restart`` redoes it, and
    another input or other settings are refused, the output kept. ``overwrite`` (-y) forgets the record.
    """

    def __init__(self, output: Path, *, overwrite: bool) -> None:
        self.output = output
        if overwrite or not output.exists():  # redone, or gone: the record has nothing to continue
            interrupted_path(output).unlink(missing_ok=True)
        self.continues = interrupted_path(output).exists()
        self._record: dict[str, object] | None = None

    def note(self, frames: int) -> None:
        """``on_frames``: the run's record, read from beside its partial once frames are being written."""
        if self._record is None:
            try:
                self._record = json.loads(sidecar_path(self.output).read_text())
            except (OSError, ValueError):
                self._record = {}

    def keep(self, frames: int) -> bool:
        """After the run was stopped: its record beside the ``frames`` it finished, where they can be continued."""
        if not self._record or not self.output.exists() or self.output.suffix.lower() not in _CONTINUABLE:
            return False
        write_record(interrupted_path(self.output), {**self._record, "interrupted_at": frames})
        return True


def _interrupted_cut(output: Path, record: dict[str, object], *, restart: bool) -> Cut | None:
    """Where to continue an interrupted run's finished ``output`` from, once it is put back as the partial (its
    record as the partial's); None to redo it (--restart). Another input or other settings are refused."""
    marker, partial = interrupted_path(output), fragments_path(output)
    if restart:
        log.info("starting afresh, not continuing the interrupted run's %s: --restart", output.name)
        marker.unlink()
        return None
    reason = mismatch(marker, record)
    cut = find_cut(output) if reason is None else None
    if cut is not None and cut.frames == 0:
        reason = "it holds no whole group of pictures"
    if reason is not None:
        raise OutputError(f"output {output} is what an interrupted run left, but {reason}: the command that made it "
                          "continues it; -y redoes it")  # fmt: skip
    os.replace(output, partial)
    os.replace(marker, sidecar_path(output))
    return cut


def forget(output: Path) -> None:
    """Remove a partial ``output`` and its record."""
    safe_output.discard(fragments_path(output))
    sidecar_path(output).unlink(missing_ok=True)
