"""Crash-safe video files. While encoding, the output is fragmented MP4 (a fragment per keyframe, every couple of
seconds, flushed as written), so whatever kills the process — kill -9, a power cut, a full disk — it plays up to
its last whole fragment. At the end a stream-copy remux turns it into the container the user asked for
(faststart for MP4), under a temporary name renamed into place."""

from __future__ import annotations

import os
from pathlib import Path

import av

from . import safe_output

# delay_moov: the header goes out with the first fragment, once the start is known, so it can hold the edit
# list that lets B-frames and audio priming begin before 0 (an empty moov up front cannot: every timestamp would
# move later by that delay). A run killed before its first fragment had nothing worth keeping.
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof", "flush_packets": "1"}
KEYFRAME_SECONDS = 2.0  # a killed run loses at most about this much encoded video
_FASTSTART_SUFFIXES = (".mp4", ".m4v", ".mov")  # the index up front: players start before the download ends


def fragments_path(output: Path) -> Path:
    """Where ``output`` is written while it is encoded: beside it, hidden, an MP4 whatever the final container."""
    return output.with_name(f".{output.name}.partial.mp4")


def finish(fragments: Path, output: Path) -> None:
    """Remux the finished ``fragments`` into ``output`` (stream copy) and remove them."""
    finishing = output.with_name(f".{output.name}.finishing{output.suffix}")
    options = {"movflags": "faststart"} if output.suffix.lower() in _FASTSTART_SUFFIXES else {}
    try:
        with av.open(str(fragments)) as src, av.open(str(finishing), "w", options=options) as dst:
            kept = [s for s in src.streams if s.type in ("video", "audio")]
            copies = {s.index: dst.add_stream_from_template(s) for s in kept}
            for stream in kept:  # the template carries the codec, not the tags players show
                if "language" in stream.metadata:
                    copies[stream.index].metadata["language"] = stream.metadata["language"]
            for packet in src.demux(kept):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = copies[packet.stream.index]
                dst.mux(packet)
    except BaseException as exc:
        failure = safe_output.write_failure(exc, finishing)
        safe_output.discard(finishing)
        if failure is None:
            raise
        raise failure from exc
    os.replace(finishing, output)
    fragments.unlink()


def plays(path: Path) -> bool:
    """Whether a (possibly cut-off) fragments file holds at least one picture a player can show."""
    try:
        with av.open(str(path)) as container:
            return next(container.decode(video=0), None) is not None
    except (av.FFmpegError, OSError):
        return False
