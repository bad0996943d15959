"""``--split-minutes``: a long video cut at keyframes into segments that several workers colorize at once, then
joined by stream copy, with the input's audio muxed once.

Each segment is a job like a file: a worker runs ``colorize_file`` on that part of the input (its smoother warmed
up on the frames before it; no audio), into ``.NAME.split/START-END.mp4`` beside the output, named by the pts range
it covers. A finished segment file is the proof of done and the manifest records it, so a run killed at any
moment leaves the finished segments for the next; the driver joins a video once all its segments are there. A
segment's frames are those shown from its start to the next segment's, so the join holds every frame once, with
the input's timestamps.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.bitstream import BitStreamFilterContext

from .. import fragments, resume
from ..errors import first_line
from ..sinks import VideoFileSink
from ..sources import FileSource, Segment
from .discover import Job, media_length
from .worker import ColorOptions

log = logging.getLogger("vidcolor")


@dataclass
class Film:
    """A video split into segments, and what is left of it to do in this run."""

    job: Job
    parts: list[Job]  # in order
    lengths: dict[str, tuple[int, float]]  # each segment's (frames, seconds), about: for the progress bar
    left: set[str] = field(default_factory=set)  # keys of the segments still to colorize
    failed: bool = False


def split_folder(output: Path) -> Path:
    """Where a split video's segments are written: beside its output, hidden, named after it."""
    return output.with_name(f".{output.name}.split")


def split_long_videos(
    jobs: list[Job], minutes: float, *, overwrite: bool
) -> tuple[list[Job], list[Film], dict[str, tuple[int, float]]]:
    """Replace each video longer than ``minutes`` whose output is still to make (or is to be redone) by its
    segments, of at most about ``minutes`` each, cut at keyframes. Returns the jobs, largest first, the split
    videos, and the (frames, seconds) of the jobs it measured (segments: about). Files of an earlier split with
    other cuts are removed."""
    out: list[Job] = []
    films: list[Film] = []
    lengths: dict[str, tuple[int, float]] = {}
    for job in jobs:
        parts = []
        if job.kind == "video" and (overwrite or not job.output.exists()):
            lengths[job.key] = frames, seconds = media_length(job)
            parts = _segments(job, frames, seconds, minutes) if seconds > minutes * 60 else []
        if len(parts) < 2:
            out.append(job)
            continue
        film = Film(job, [part for part, _ in parts], {part.key: length for part, length in parts})
        _remove_other_segments(film)
        films.append(film)
        out.extend(film.parts)
        lengths.update(film.lengths)
    return sorted(out, key=lambda job: (-job.bytes, job.key)), films, lengths


def _segments(job: Job, frames: int, seconds: float, minutes: float) -> list[tuple[Job, tuple[int, float]]]:
    """The segment jobs of ``job`` with their (frames, seconds), about: cut at the keyframes at or before the
    ends of equal parts of at most ``minutes``. None where the file cannot be sought in: it is colorized whole."""
    try:
        with av.open(str(job.input)) as container:
            video = container.streams.video[0]
            time_base, start = video.time_base, video.start_time or 0
            end = start + round(Fraction(seconds) / time_base)
            count = math.ceil(seconds / (minutes * 60))
            cuts = [start]
            for k in range(1, count):
                container.seek(start + (end - start) * k // count, stream=video, backward=True)
                keyframe = next((p.pts for p in container.demux(video) if p.is_keyframe and p.pts is not None), None)
                if keyframe is not None and keyframe > cuts[-1]:
                    cuts.append(keyframe)
    except (av.FFmpegError, OSError) as exc:
        log.info("%s: not split (%s); colorized whole", job.input, first_line(exc))
        return []
    folder = split_folder(job.output)
    parts = []
    for first, after in zip(cuts, [*cuts[1:], None], strict=True):
        share = ((end if after is None else after) - first) / max(1, end - start)
        segment = Segment(start=None if first == start else first, end=after,
                          first_frame=round(frames * (first - start) / max(1, end - start)))  # fmt: skip
        name = f"{first}-{'end' if after is None else after}.mp4"
        key = (Path(job.key).parent / folder.name / name).as_posix()
        part = dataclasses.replace(job, output=folder / name, key=key, bytes=round(job.bytes * share),
                                   segment=segment)  # fmt: skip
        parts.append((part, (round(frames * share), seconds * share)))
    return parts


def _remove_other_segments(film: Film) -> None:
    """Remove what nothing will use: the files of an earlier split with other cuts (segments, their partials and
    records), and a partial of an unsplit run."""
    folder = split_folder(film.job.output)
    ours = [part.output.name for part in film.parts]
    if folder.is_dir():
        for path in folder.iterdir():
            if not any(path.name == name or path.name.startswith(f".{name}.") for name in ours):
                path.unlink()
    resume.forget(film.job.output)


def join(film: Film, options: ColorOptions) -> int:
    """Join ``film``'s segment files (stream copy) with its input's audio into its output; return the frames.
    Written as a single-file run writes: a fragmented partial beside the output, remuxed into place."""
    output = film.job.output
    source = FileSource(film.job.input)
    try:
        with av.open(str(film.parts[0].output)) as first:
            codec = first.streams.video[0].codec_context
            info = dataclasses.replace(source.info, width=codec.width, height=codec.height)  # --compare: wider
    finally:
        source.close()
    partial = fragments.fragments_path(output)
    with av.open(str(film.job.input)) as original:
        audio = original.streams.audio[0] if original.streams.audio else None
        sink = VideoFileSink(partial, info, audio=audio, crf=options.crf, preset=options.preset,
                             finish_as=output.suffix)  # fmt: skip
        try:
            audio_packets = (p for p in original.demux(audio) if p.size) if audio is not None else iter(())
            _interleave(sink, film.parts, info.time_base, audio_packets)
        except BaseException:
            sink.close(flush=False)
            raise
        sink.close()
    fragments.finish(partial, output)
    shutil.rmtree(split_folder(output), ignore_errors=True)
    return sink.frames_written


def _interleave(sink: VideoFileSink, parts: list[Job], time_base: Fraction, audio: Iterator[av.Packet]) -> None:
    """Mux the segments' video in order, each audio packet before the first video packet decoded after it. Each
    segment's decode times carry on from the last one's; where B-frames would make one repeat or go back (the
    muxer refuses that), it is moved a tick later."""
    pending = next(audio, None)
    last: Fraction | None = None
    for part in parts:
        for packet in _video_packets(part, time_base):
            if last is not None and packet.dts * packet.time_base <= last:
                packet.dts = math.floor(last / packet.time_base) + 1
            last = packet.dts * packet.time_base
            while pending is not None and _time(pending) <= last:
                sink.write_audio(pending)
                pending = next(audio, None)
            sink.copy_packets([("video", packet)])
    while pending is not None:
        sink.write_audio(pending)
        pending = next(audio, None)


def _time(packet: av.Packet) -> Fraction:
    return (packet.pts if packet.pts is not None else packet.dts or 0) * packet.time_base


def _video_packets(part: Job, time_base: Fraction) -> Iterator[av.Packet]:
    """A segment file's video packets as Annex B (what the joined file's muxer takes, as for a resumed run), at
    the input's times: a segment file whose first frame is not where its segment starts is moved there."""
    with av.open(str(part.output)) as container:
        video = container.streams.video[0]
        to_annex_b = BitStreamFilterContext("h264_mp4toannexb", in_stream=video)
        shift = None
        for packet in container.demux(video):
            if packet.dts is None or packet.pts is None:  # the demuxer's end-of-stream marker
                continue
            if shift is None:  # the first packet is the segment's first frame, a keyframe
                start = part.segment.start if part.segment is not None else None
                shift = 0 if start is None else round(start * time_base / packet.time_base) - packet.pts
            packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
            yield from to_annex_b.filter(packet)
