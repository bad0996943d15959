"""Small real test media, written with PyAV: moving gradients and shapes, optional audio."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLIPS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"


def picture(index: int, width: int, height: int) -> np.ndarray:
    """An RGB uint8 frame: a colour gradient with a square that moves one step per frame."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        ((x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), np.full_like(x, 96)), axis=-1
    ).astype(np.uint8)
    side = max(4, min(width, height) // 4)
    left = (index * 3) % max(1, width - side)
    rgb[height // 3 : height // 3 + side, left : left + side] = (230, 40, 40)
    return rgb


def write_video(
    path: Path,
    *,
    width: int = 96,
    height: int = 64,
    frames: int = 12,
    fps: int = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    frame_times: list[float] | None = None,
    audio_seconds: float | None = None,
    audio_codec: str = "aac",
    audio_language: str | None = None,
    rotation: int = 0,
    mirrored: bool = False,
    interlaced: bool = False,
    faststart: bool = False,
    keyframe_every: int | None = None,
) -> Path:
    """Write a clip. ``frame_times`` (seconds) makes it variable frame rate; ``audio_seconds`` adds a tone.

    ``rotation`` (degrees counter-clockwise, then ``mirrored`` left to right) stores a display matrix as a phone
    or an editor does; ``interlaced`` codes the frames as fields; ``faststart`` puts the MP4 index before the
    media data, so a cut file still opens. ``keyframe_every`` (frames) sets the x264 GOP (default 250).
    """
    time_base = Fraction(1, 90000) if frame_times else Fraction(1, fps)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else None) as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = video.codec_context.time_base = time_base
        if codec == "libx264":
            video.options = {"preset": "ultrafast", "crf": "10"}
        if interlaced:
            video.options = {**video.options, "flags": "+ildct+ilme"}
        if keyframe_every:
            video.options = {**video.options, "g": str(keyframe_every)}
        if rotation or mirrored:
            video.set_display_rotation(rotation, hflip=mirrored)
        audio = None
        if audio_seconds:
            audio = container.add_stream(audio_codec, rate=48000)
            audio.layout = "mono"
            if audio_language:
                audio.metadata["language"] = audio_language
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24").reformat(format=pix_fmt)
            frame.pts = round(frame_times[i] / time_base) if frame_times else i
            frame.time_base = time_base
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            write_tone(container, audio, audio_seconds)
    return path


def write_tone(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    rate, chunk = 48000, 1024
    total = round(seconds * rate)
    t = np.arange(total) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, chunk):
        block = samples[start : start + chunk]
        frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def decode_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(container.streams.video[0]))


def frame_times(path: Path) -> list[float]:
    """Presentation times of every frame, in seconds."""
    return [float(f.pts * f.time_base) for f in decode_frames(path)]


def audio_packets(path: Path) -> list[tuple[float, bytes]]:
    """Every audio packet's time (seconds) and bytes."""
    with av.open(str(path)) as container:
        return [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(audio=0) if p.dts is not None]


def luma_planes(path: Path) -> list[np.ndarray]:
    from vidcolor.sources import luma_plane

    return [luma_plane(f) for f in decode_frames(path)]



def chroma_planes(path: Path) -> list[np.ndarray]:
    """Cb and Cr of every frame, stacked (2, H/2, W/2), as int."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            planes = frame.to_ndarray(format="yuv420p")
            height = frame.height
            out.append(planes[height:].reshape(2, height // 2, frame.width // 2).astype(int))
    return out


def as_background_job() -> None:
    """``preexec_fn`` for a child started as a shell starts a background job (`cmd &`, nohup): SIGINT ignored.
    Its Ctrl-C tests then test what users get there too, whatever shell runs pytest."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServeProcess:
    """`vidcolor serve` on a free port of 127.0.0.1 (``args`` after the port), entered once /api/health answers
    (its answer in ``health``); stopped with SIGTERM on leaving, its stderr then in ``stderr``."""

    def __init__(self, *args: str | Path, timeout: float = 60) -> None:
        self.port = free_tcp_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args, self.timeout = [str(a) for a in args], timeout
        self.stderr = ""

    def __enter__(self) -> ServeProcess:
        self.process = subprocess.Popen([sys.executable, "-m", "vidcolor", "serve", "--port", str(self.port),
                                         *self.args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.health = json.loads(urllib.request.urlopen(f"{self.base}/api/health", timeout=2).read())
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__()
                    raise AssertionError(f"vidcolor serve did not come up: {self.stderr}") from None
                time.sleep(0.3)

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.stderr = self.process.communicate(timeout=30)[1]


class UdpStreamer:
    """Serves a video file as MPEG-TS to udp://127.0.0.1:PORT in real time, looping, from a thread (a stand-in
    for an IP camera). ``pause()`` stops sending, as a camera that drops off the network does."""

    def __init__(self, clip: Path, port: int) -> None:
        self.clip, self.url = clip, f"udp://127.0.0.1:{port}"
        self.sending = threading.Event()
        self.sending.set()
        self._stop = threading.Event()
        self.packets = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> UdpStreamer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sending.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sending.wait()
            with av.open(str(self.clip)) as src, av.open(self.url + "?pkt_size=1316", "w", format="mpegts") as out:
                video = src.streams.video[0]
                stream = out.add_stream_from_template(video)
                started = time.monotonic()
                for packet in src.demux(video):
                    if packet.dts is None:
                        continue
                    time.sleep(max(0.0, started + float(packet.dts * video.time_base) - time.monotonic()))
                    if self._stop.is_set() or not self.sending.is_set():
                        break
                    packet.stream = stream
                    out.mux(packet)
                    self.packets += 1


# three colour hints (the format of `vidcolor --hints` and the API) well apart, away from picture()'s square
THREE_HINTS = {"hints": [{"x": 0.2, "y": 0.25, "color": "#1f4fa0"}, {"x": 0.5, "y": 0.75, "color": "#d03020"},
                         {"x": 0.8, "y": 0.3, "color": "#20c040"}]}  # fmt: skip


def ab_near(bgr: np.ndarray, x: float, y: float, side: int = 5) -> np.ndarray:
    """The mean CIELAB a*b* of a BGR uint8 picture's ``side`` x ``side`` pixels about (x, y), fractions of its width
    and height: what a colour hint there asks for."""
    import cv2

    height, width = bgr.shape[:2]
    row, col, half = min(height - 1, int(y * height)), min(width - 1, int(x * width)), side // 2
    window = bgr[max(0, row - half) : row + half + 1, max(0, col - half) : col + half + 1]
    return cv2.cvtColor(window.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)[..., 1:].reshape(-1, 2).mean(axis=0)
