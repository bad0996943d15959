"""Frame sources. A file source demuxes with PyAV and hands out luma planes and untouched audio packets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

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


@dataclass(frozen=True)
class LumaFrame:
    """One decoded picture's Y' plane with its presentation time in the source's time base."""

    luma: np.ndarray  # (H, W) uint8
    pts: int
    duration: int  # 0 where the container does not say
    index: int

    def __post_init__(self) -> None:
        if self.luma.dtype != np.uint8 or self.luma.ndim != 2:
            raise ValueError(f"luma must be a (H, W) uint8 array, got {self.luma.dtype} {self.luma.shape}")


@dataclass(frozen=True)
class VideoInfo:
    """What the sink needs to know about the video before the first frame."""

    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction | None
    frame_count: int | None  # from the container header; may be missing or approximate
    yuv: YuvFormat


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
    """A video file: its first video stream decoded to luma, its first audio stream passed on as packets."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"input not found: {self.path}")
        if self.path.is_dir():
            raise InputError(f"input is a folder, not a video file: {self.path}")
        try:
            self.container = av.open(str(self.path), mode="r")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {self.path} as a video: {ffmpeg_reason(exc)}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.path} has no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.dropped_streams = [
            f"#{s.index} {s.type}" for s in self.container.streams if s is not self.video and s is not self.audio
        ]
        codec = self.video.codec_context
        if not codec.width or not codec.height or self.video.time_base is None:
            self.container.close()
            raise InputError(f"{self.path}: the video stream has no picture size or time base")
        self.info = VideoInfo(
            width=codec.width,
            height=codec.height,
            time_base=self.video.time_base,
            frame_rate=self.video.average_rate or self.video.guessed_rate,
            frame_count=self.video.frames or self._frames_from_duration(),
            yuv=yuv_format(codec, codec.height),
        )

    def _frames_from_duration(self) -> int | None:
        rate = self.video.average_rate or self.video.guessed_rate
        if self.container.duration and rate:
            return round(self.container.duration / av.time_base * rate)
        return None

    def decoded(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded pictures and audio packets, in the order the container holds them."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        pictures = 0
        try:
            for packet in self.container.demux(streams):
                if packet.stream is self.video:
                    for frame in self.video.decode(packet):
                        yield frame
                        pictures += 1
                elif packet.size:  # demux ends each stream with an empty flush packet
                    yield packet
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: decoding failed after {pictures} frames: {ffmpeg_reason(exc)}") from exc
        if pictures == 0:
            raise InputError(f"{self.path}: the video stream holds no decodable frame")

    def items(self) -> Iterator[LumaFrame | av.Packet]:
        """Luma frames and audio packets, in the order the container holds them."""
        index = 0
        for item in self.decoded():
            if isinstance(item, av.VideoFrame):
                yield self._luma_frame(item, index)
                index += 1
            else:
                yield item

    def _luma_frame(self, frame: av.VideoFrame, index: int) -> LumaFrame:
        pts = frame.pts
        if pts is None:  # raw streams: derive from the frame rate
            rate = self.info.frame_rate or Fraction(25)
            pts = round(index / rate / self.info.time_base)
        return LumaFrame(luma=luma_plane(frame), pts=pts, duration=frame.duration or 0, index=index)

    def close(self) -> None:
        self.container.close()


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's own words, without the file name PyAV appends."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return exc.strerror
    return first_line(exc)
