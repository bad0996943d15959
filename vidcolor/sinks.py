"""Frame sinks. A file sink encodes 4:2:0 H.264 with PyAV and muxes the source's audio beside it."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .errors import OutputError
from .fragments import FRAGMENTED_MP4, KEYFRAME_SECONDS
from .safe_output import VIDEO_CONTAINERS, write_failure
from .sources import VideoInfo

log = logging.getLogger("vidcolor")

_AVCOL_RANGE = {False: 1, True: 2}  # MPEG (limited), JPEG (full)
_AVCOL_SPC = {"bt709": 1, "bt601": 6}  # BT709, SMPTE170M
_DEFAULT_RATE = Fraction(25)
# x264's speed preset unless the user names one: 'veryfast' takes half the CPU of 'fast' at 480p (5.3 vs 11.0 ms a
# frame) for 1.3 dB less PSNR against the encoder's input at crf 18 (40.9 vs 42.2 dB, 13 % smaller file); on two
# cores that CPU is the model's and the smoother's, and real time is the promise (benchmarks/README.md, issue 32)
DEFAULT_X264_PRESET = "veryfast"
_MP4_SUFFIXES = (".mp4", ".m4v")  # PCM is legal there, yet browsers and phones will not play it


# FFmpeg's MPEG-TS muxer keeps no codec list (asked, it names its MPEG-2 defaults alone), yet it writes these audio
# codecs (libavformat/mpegtsenc.c's stream types; raw AAC from MP4 gets its ADTS headers there)
_MPEGTS_AUDIO = frozenset({"aac", "mp2", "mp3", "ac3", "eac3", "opus", "dts", "truehd"})


@functools.cache
def _codecs_of(suffix: str) -> frozenset[str]:
    """The codecs FFmpeg's muxer for ``suffix`` can hold (empty where it does not say: then audio is AAC)."""
    muxer = VIDEO_CONTAINERS[suffix.lower()]
    with av.open(io.BytesIO(), mode="w", format=muxer) as probe:
        return frozenset(probe.supported_codecs) | (_MPEGTS_AUDIO if muxer == "mpegts" else frozenset())


def encoded_size(width: int, height: int) -> tuple[int, int]:
    """4:2:0 H.264 needs even sides: an odd last row or column is cropped."""
    return width - width % 2, height - height % 2


class VideoFileSink:
    """Writes Y'CbCr 4:2:0 frames with the source's timestamps, and its audio (copied, or AAC if it must), as
    fragmented MP4 (see fragments.py); ``finish_as`` is the suffix of the container it will be remuxed into."""

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        *,
        audio: av.audio.stream.AudioStream | None,
        crf: int,
        preset: str,
        finish_as: str = ".mp4",
    ) -> None:
        try:
            self.container = av.open(str(path), mode="w", format="mp4", options=FRAGMENTED_MP4)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(f"cannot write {path}: {exc}") from exc
        try:
            self.video = self._add_video_stream(info, crf, preset)
            self.audio_in = audio
            self.audio_out, self.audio_copied = self._add_audio_stream(audio, finish_as) if audio else (None, False)
        except BaseException:
            self.container.close()
            raise
        self.path, self.time_base = path, info.time_base
        self.frames_written = 0

    def _add_video_stream(self, info: VideoInfo, crf: int, preset: str) -> av.video.stream.VideoStream:
        stream = self.container.add_stream("libx264", rate=info.frame_rate or _DEFAULT_RATE)
        stream.width, stream.height = encoded_size(info.width, info.height)
        stream.pix_fmt = "yuv420p"
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        stream.codec_context.color_range = _AVCOL_RANGE[info.yuv.full_range]
        stream.codec_context.colorspace = _AVCOL_SPC[info.yuv.matrix]
        keyframe_every = round(KEYFRAME_SECONDS * (info.frame_rate or _DEFAULT_RATE))  # one fragment each
        stream.options = {"crf": str(crf), "preset": preset, "g": str(max(1, keyframe_every))}
        return stream

    def _add_audio_stream(self, audio: av.audio.stream.AudioStream, suffix: str) -> tuple[av.stream.Stream, bool]:
        name = audio.codec_context.name
        if name.startswith("pcm_") and suffix.lower() in _MP4_SUFFIXES:
            log.info("audio: %s in %s plays in few players; re-encoding to AAC", name, suffix)
            stream, copied = self._aac_stream(audio), False
        elif name in self.container.supported_codecs and name in _codecs_of(suffix):
            stream, copied = self.container.add_stream_from_template(audio), True
        else:
            log.info("audio: %s does not fit this container; re-encoding to AAC", name)
            stream, copied = self._aac_stream(audio), False
        if "language" in audio.metadata:  # which language the track is in matters to players' track menus
            stream.metadata["language"] = audio.metadata["language"]
        return stream, copied

    def _aac_stream(self, audio: av.audio.stream.AudioStream) -> av.stream.Stream:
        stream = self.container.add_stream("aac", rate=audio.codec_context.sample_rate)
        stream.layout = audio.codec_context.layout
        return stream

    def write_frame(self, luma: np.ndarray, cb: np.ndarray, cr: np.ndarray, pts: int, duration: int) -> None:
        """Encode one picture: Y' (H, W), Cb and Cr (H/2, W/2), all uint8, pts in the source's time base."""
        planes = np.concatenate((luma.reshape(-1), cb.reshape(-1), cr.reshape(-1)))
        frame = av.VideoFrame.from_ndarray(planes.reshape(-1, luma.shape[1]), format="yuv420p")
        frame.pts, frame.time_base, frame.duration = pts, self.time_base, duration
        self._mux(self.video.encode(frame))
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        if self.audio_out is None:
            return
        if self.audio_copied:
            packet.stream = self.audio_out
            self.container.mux(packet)
            return
        for frame in self.audio_in.codec_context.decode(packet):
            self._mux(self.audio_out.encode(frame))

    def close(self, flush: bool = True) -> None:
        """Drain the encoders (``flush``) and write the trailer; the file is playable afterwards."""
        try:
            if flush:
                self._mux(self.video.encode(None))
                if self.audio_out is not None and not self.audio_copied:
                    for frame in self.audio_in.codec_context.decode(None):
                        self._mux(self.audio_out.encode(frame))
                    self._mux(self.audio_out.encode(None))
        finally:
            with self._write_errors():
                self.container.close()

    def copy_packets(self, packets: Iterable[tuple[str, av.Packet]]) -> None:
        """Mux an earlier run's encoded ("video" or "audio", packet)s ahead of the frames still to come."""
        for kind, packet in packets:
            stream = self.video if kind == "video" else self.audio_out
            if stream is None:
                continue
            packet.stream = stream
            self._mux([packet])
            self.frames_written += stream is self.video

    def _mux(self, packets: list[av.Packet]) -> None:
        if packets:
            with self._write_errors():
                self.container.mux(packets)

    @contextlib.contextmanager
    def _write_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            failure = write_failure(exc, self.path)
            if failure is None:
                raise
            raise failure from exc
