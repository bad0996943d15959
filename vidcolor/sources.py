"""Frame sources. A file source demuxes with PyAV and hands out luma planes and untouched audio packets."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from .color import Matrix, YuvFormat
from .errors import InputError, first_line

# 8-bit formats whose plane 0 is Y'; anything else is converted to yuv420p first.
_LUMA_FIRST_FORMATS = {
    "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
    "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "nv12", "nv21", "gray",
}  # fmt: skip
_FULL_RANGE_FORMATS = {"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p"}
_AVCOL_RANGE_JPEG = 2
_AVCOL_SPC_BT709 = 1
_AVCOL_SPC_BT601 = {5, 6}  # BT470BG, SMPTE170M
_INTERLACED_FIELD_ORDERS = {2, 3, 4, 5}  # AV_FIELD_TT, BB, TB, BT


@dataclass(frozen=True)
class LumaFrame:
    """One decoded picture's Y' plane with its presentation time in the source's time base."""

    luma: np.ndarray  # (H, W) uint8
    pts: int
    duration: int  # 0 where the container does not say
    index: int
    warm_up: bool = False  # decoded only for the temporal smoother, not written: the frames before a resumed run's
    # first (its history), or after a split video's segment (what it looks ahead to)

    def __post_init__(self) -> None:
        if self.luma.dtype != np.uint8 or self.luma.ndim != 2:
            raise ValueError(f"luma must be a (H, W) uint8 array, got {self.luma.dtype} {self.luma.shape}")


@dataclass(frozen=True)
class Segment:
    """A part of a video to colorize on its own (``vidcolor batch --split-minutes``): the frames shown from pts
    ``start`` (None: from the first) up to pts ``end`` (None: to the last), in the video stream's time base.
    ``first_frame``: about where ``start`` falls in frames, for messages."""

    start: int | None
    end: int | None
    first_frame: int = 0


@dataclass(frozen=True)
class VideoInfo:
    """What the sink needs to know about the video before the first frame."""

    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction | None
    frame_count: int | None  # from the container header; may be missing or approximate
    yuv: YuvFormat
    start_pts: int = 0  # the stream's start time: a frame's time in the video is (pts - start_pts) * time_base


@dataclass(frozen=True)
class Orientation:
    """How a player turns the stored pixels to show them, from the stream's display matrix: transposed, then
    rows and columns reversed. The eight rotations and mirrorings phones and editors write all take this form."""

    transpose: bool = False
    flip_rows: bool = False  # upside down
    flip_cols: bool = False  # left to right

    @classmethod
    def of(cls, frame: av.VideoFrame) -> Orientation:
        """From the frame's display matrix; upright where it has none or it turns by other than quarter turns.

        FFmpeg's definition (libavutil/display.h): the stored pixel (p, q) is shown at (a*p + c*q, b*p + d*q) for
        the matrix [[a, b, u], [c, d, v], [x, y, w]] in 16.16 fixed point, p rightwards and q downwards.
        """
        side_data = frame.side_data.get(SideDataType.DISPLAYMATRIX)
        if side_data is None:
            return cls()
        exact = np.frombuffer(side_data, np.int32).reshape(3, 3)[:2, :2] / 65536
        units = np.rint(exact)
        if np.abs(exact - units).max() > 0.01:  # another angle (rare): shown as stored, the flag is dropped
            return cls()
        (a, b), (c, d) = units.tolist()
        if a == d == 0:  # shown at (c*q, b*p): a quarter turn
            return cls(transpose=True, flip_rows=b < 0, flip_cols=c < 0)
        return cls(flip_rows=d < 0, flip_cols=a < 0)

    def apply(self, luma: np.ndarray) -> np.ndarray:
        if self.transpose:
            luma = luma.T
        if self.flip_rows:
            luma = luma[::-1]
        if self.flip_cols:
            luma = luma[:, ::-1]
        return np.ascontiguousarray(luma)

    @property
    def action(self) -> str:
        """What applying it does, in words ("" when the picture is stored upright)."""
        return _ORIENTATION_ACTIONS.get((self.transpose, self.flip_rows, self.flip_cols), "")


_ORIENTATION_ACTIONS = {
    (False, True, True): "rotating the picture 180°",
    (True, True, False): "rotating the picture 90° counter-clockwise",
    (True, False, True): "rotating the picture 90° clockwise",
    (False, False, True): "mirroring the picture left to right",
    (False, True, False): "mirroring the picture top to bottom",
    (True, False, False): "rotating the picture 90° clockwise and mirroring it left to right",
    (True, True, True): "rotating the picture 90° counter-clockwise and mirroring it left to right",
}


def yuv_format(codec: av.codec.context.CodecContext, height: int) -> YuvFormat:
    full_range = codec.color_range == _AVCOL_RANGE_JPEG or codec.pix_fmt in _FULL_RANGE_FORMATS
    matrix: Matrix
    if codec.colorspace == _AVCOL_SPC_BT709:
        matrix = "bt709"
    elif codec.colorspace in _AVCOL_SPC_BT601:
        matrix = "bt601"
    else:  # unspecified: the convention players follow
        matrix = "bt709" if height >= 720 else "bt601"
    return YuvFormat(full_range=full_range, matrix=matrix)


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The frame's Y' plane as a (H, W) uint8 array (copied: the decoder may reuse its buffers)."""
    if frame.format.name not in _LUMA_FIRST_FORMATS:
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


class FileSource:
    """A video file: its first video stream decoded to luma, its first audio stream passed on as packets.

    The first picture is decoded on opening: its display matrix, pixel format and field order are facts the
    sink must know before it starts. Pictures come out as players show them: the display matrix is applied to
    the pixels (as FFmpeg's CLI does), since not every player honours the flag and the model expects upright
    scenes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.container = _open(self.path)
        try:
            self._probe()
        except BaseException:
            self.container.close()
            raise

    def _probe(self) -> None:
        if not self.container.streams.video:
            raise InputError(f"{self.path} has no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.dropped_streams = [
            f"#{s.index} {s.type}" for s in self.container.streams if s is not self.video and s is not self.audio
        ]
        codec = self.video.codec_context
        if not codec.width or not codec.height or self.video.time_base is None:
            raise InputError(f"{self.path}: the video stream has no picture size or time base")
        self.decode_error: str | None = None  # FFmpeg's reason where decoding stopped before the end
        self._first_index, self._warm = 0, 0  # moved by start_at
        self._last_pts: int | None = None  # the previous picture's, to repair timestamps that do not increase
        self.repaired_from: int | None = None  # the first picture whose timestamp was repaired
        self._end: int | None = None  # set by stop_at
        self._look_ahead = 0  # frames handed out past ``_end``, flagged warm_up
        self._rest = self._demux()
        self._head = self._read_to_first_picture()
        first: av.VideoFrame = self._head[-1]
        self.orientation = Orientation.of(first)
        self.pixel_format = first.format.name
        self.bit_depth = max(c.bits for c in first.format.components)
        self.interlaced = first.interlaced_frame or codec.field_order in _INTERLACED_FIELD_ORDERS
        width, height = (codec.height, codec.width) if self.orientation.transpose else (codec.width, codec.height)
        self.info = VideoInfo(
            width=width,
            height=height,
            time_base=self.video.time_base,
            frame_rate=self.video.average_rate or self.video.guessed_rate,
            frame_count=self.video.frames or self._frames_from_duration(),
            yuv=yuv_format(codec, codec.height),
            start_pts=self.video.start_time or 0,
        )

    def _frames_from_duration(self) -> int | None:
        rate = self.video.average_rate or self.video.guessed_rate
        if self.container.duration and rate:
            return round(self.container.duration / av.time_base * rate)
        return None

    def frames_in_stream(self) -> int | None:
        """The frames the video stream's own duration holds, where the container gives it one (MP4, MOV, AVI,
        MPEG-TS; not Matroska, whose only duration may be a longer audio track's). Not the header's frame
        count: an edit list (a file cut without re-encoding) leaves frames there that are never shown."""
        if self.video.duration is None or not self.video.average_rate:
            return None
        return round(self.video.duration * self.video.time_base * self.video.average_rate)

    def _demux(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded pictures and audio packets; a decode error ends them early and is kept in ``decode_error``."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        try:
            for packet in self.container.demux(streams):
                if packet.stream is self.video:
                    yield from self.video.decode(packet)
                elif packet.size:  # demux ends each stream with an empty flush packet
                    yield packet
        except av.FFmpegError as exc:  # a damaged file: what was decoded before the damage is still good
            self.decode_error = ffmpeg_reason(exc)

    def _read_to_first_picture(self) -> list[av.VideoFrame | av.Packet]:
        head: list[av.VideoFrame | av.Packet] = []
        for item in self._rest:
            head.append(item)
            if isinstance(item, av.VideoFrame):
                return head
        reason = f" ({self.decode_error})" if self.decode_error else ""
        raise InputError(f"{self.path}: the video stream holds no decodable frame{reason}")

    def decoded(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded pictures (as stored, not rotated) and audio packets, in the order the container holds them."""
        head, self._head = self._head, []
        yield from head
        yield from self._rest

    def items(self) -> Iterator[LumaFrame | av.Packet]:
        """Upright luma frames and audio packets, in the order the container holds them."""
        index, past_end = self._first_index, 0
        for item in self.decoded():
            if isinstance(item, av.VideoFrame):
                if self._end is not None and item.pts is not None and item.pts >= self._end:
                    if past_end == self._look_ahead:
                        return  # pictures come out in presentation order: the rest is later still
                    past_end += 1
                yield self._luma_frame(item, index, beyond=past_end > 0)
                index += 1
            elif not past_end:  # audio past the end belongs to the next segment
                yield item

    def start_at(self, seconds: Fraction, frame_index: int, *, warm_up: int) -> None:
        """Make ``items`` begin with the frame shown at ``seconds`` (frame ``frame_index``), preceded by up to
        ``warm_up`` earlier frames flagged ``warm_up``; audio from ``seconds`` on. For resuming a run, and for a
        segment of a split video (whose start is a keyframe: the seek goes back far enough for the warm-up)."""
        target = round(seconds / self.video.time_base)
        lead = round(warm_up / ((self.info.frame_rate or Fraction(25)) * self.video.time_base))
        start = self.video.start_time or 0
        self.container.seek(max(start, target - lead), stream=self.video, backward=True)  # to a keyframe before
        self._head, self._first_index, self._last_pts = [], frame_index - warm_up, None
        self._rest = self._from(self._demux(), target, warm_up)

    def _from(self, items: Iterator[av.VideoFrame | av.Packet], target: int,
              warm_up: int) -> Iterator[av.VideoFrame | av.Packet]:  # fmt: skip
        """Frames from pts ``target`` on, after up to ``warm_up`` earlier ones; audio from the same moment on."""
        cut = target * self.video.time_base
        before: collections.deque[av.VideoFrame] = collections.deque(maxlen=warm_up)
        reached = False
        for item in items:
            if isinstance(item, av.Packet):
                if item.pts is None or item.pts * item.time_base >= cut:  # earlier audio is in the kept part
                    yield item
            elif reached or item.pts is None or item.pts >= target:
                if not reached:
                    reached = True
                    self._first_index += warm_up - len(before)  # the clip may hold fewer frames before it
                    self._warm = len(before)
                    yield from before
                yield item
            else:
                before.append(item)

    def stop_at(self, pts: int, *, look_ahead: int = 0) -> None:
        """Make ``items`` end before the first frame shown at or after ``pts`` (a split video's next segment), but
        for ``look_ahead`` frames after it flagged ``warm_up``."""
        self._end, self._look_ahead = pts, look_ahead

    def _luma_frame(self, frame: av.VideoFrame, index: int, *, beyond: bool = False) -> LumaFrame:
        pts = self._repaired_pts(frame.pts, index)
        luma = self.orientation.apply(luma_plane(frame))
        warm_up = self._warm > 0 or beyond
        self._warm -= self._warm > 0
        return LumaFrame(luma=luma, pts=pts, duration=frame.duration or 0, index=index, warm_up=warm_up)

    def _repaired_pts(self, pts: int | None, index: int) -> int:
        """A picture's timestamp, made to increase as FFmpeg makes it: one missing (raw streams) comes from the
        frame rate; one that repeats or goes back (a broken muxer) becomes the previous one plus a frame, and
        ``repaired_from`` says where that began, for the one notice."""
        # the stream's base rate: an average over broken timestamps is broken too (750 fps for 25)
        rate = self.video.guessed_rate or self.info.frame_rate or Fraction(25)
        step = max(1, round(1 / (rate * self.info.time_base)))
        if pts is None:
            pts = round(index / rate / self.info.time_base) if self._last_pts is None else self._last_pts + step
        elif self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + step
            if self.repaired_from is None:
                self.repaired_from = index
        self._last_pts = pts
        return pts

    def close(self) -> None:
        self.container.close()


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a video file: {path}")
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as a video: {ffmpeg_reason(exc)}") from exc


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's own words, without the file name PyAV appends."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return exc.strerror
    return first_line(exc)
