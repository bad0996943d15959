"""Live mode, headless: a real MPEG-TS stream on loopback UDP, a real model, real drops and reconnects."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import TEST_SIZE, run_cli
from media import (
    CLIPS_DIR,
    UdpStreamer,
    as_background_job,
    decode_frames,
    frame_times,
    free_udp_port,
    luma_planes,
    write_video,
)
from test_source_notices import display_matrix, displayed

from vidcolor import Colorizer
from vidcolor.bench import scaled_clip
from vidcolor.capture import Capture, LiveFrame, RateMeter, reader_factory
from vidcolor.live import LiveOptions, LiveSession, run_live, save_snapshot
from vidcolor.train.evaluate import psnr

needs_clips = pytest.mark.skipif(not CLIPS_DIR.is_dir(), reason="shared clips not present")


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory) -> Path:
    """5 s of a real street clip (12.5 fps, 640 wide), a keyframe every 5 frames like a camera's stream."""
    folder = tmp_path_factory.mktemp("live")
    return scaled_clip(CLIPS_DIR / "traffic_overhead.mp4", 360, folder, frames=60, crf=23, preset="ultrafast", gop=5)


def open_capture(url: str, timeout: float = 5.0) -> Capture:
    return Capture(reader_factory(url, timeout=timeout, rtsp_transport="tcp", loop=False), name=url)


@needs_clips
def test_udp_stream_is_colorized_and_stats_printed(camera_clip, weights, tmp_path):
    with UdpStreamer(camera_clip, free_udp_port()) as stream:
        result = run_cli("live", stream.url, "--no-window", "--frames", "30", "--weights", weights, "--size",
                         TEST_SIZE, "--backend", "cpu", "--record", tmp_path / "rec.mp4", timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = [line for line in result.stdout.splitlines() if line.startswith("vidcolor live:")]
    assert stats and "fps | source" in stats[0] and "latency" in stats[0]
    assert "30 frames in" in result.stderr
    recorded = decode_frames(tmp_path / "rec.mp4")
    assert len(recorded) == 30 and (recorded[0].width, recorded[0].height) == (640, 360)
    assert frame_times(tmp_path / "rec.mp4")[0] == 0.0  # no frozen lead-in while the stream was being opened
    chroma = recorded[-1].to_ndarray(format="yuv420p")[360:]
    assert np.abs(chroma.astype(int) - 128).mean() > 0.5  # coloured, not grey


@needs_clips
def test_thermal_udp_stream_runs_the_thermal_model(tmp_path):
    """A white-hot thermal camera's stream (real LWIR footage), coloured by the shipped thermal model."""
    clip = scaled_clip(CLIPS_DIR / "ir" / "thermal_park_pedestrians.mp4", 240, tmp_path, frames=50, crf=23,
                       preset="ultrafast", gop=5)  # fmt: skip
    with UdpStreamer(clip, free_udp_port()) as stream:
        result = run_cli("live", stream.url, "--no-window", "--frames", "20", "--sensor", "thermal", "--backend",
                         "cpu", "--record", tmp_path / "rec.mp4", timeout=90)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "model thermal" in result.stderr and "sensor thermal" in result.stderr
    chroma = decode_frames(tmp_path / "rec.mp4")[-1].to_ndarray(format="yuv420p")[240:]
    assert np.abs(chroma.astype(int) - 128).mean() > 0.5  # coloured, not grey


class SlowBackend:
    """The real model, held back to 150 ms a frame: a source at 12.5 fps outruns it."""

    def __init__(self, backend) -> None:
        self.backend, self.NAME, self.device = backend, backend.NAME, backend.device

    def infer(self, lightness):
        time.sleep(0.15)
        return self.backend.infer(lightness)


@needs_clips
def test_slow_model_drops_frames_and_latency_stays_bounded(camera_clip, weights):
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)
    colorizer.backend = SlowBackend(colorizer.backend)
    with UdpStreamer(camera_clip, free_udp_port()) as stream:
        result = run_live(open_capture(stream.url), colorizer, LiveOptions(window=False, frames=15))
    assert result.frames == 15
    assert result.dropped > 0  # stale frames were replaced, not queued
    # A queue would grow by ~1 frame per model step: over a second behind by the end. Latest-frame-wins keeps it
    # within about two model steps (a frame waits at most one step in the mailbox), with room for a busy CI.
    assert result.latency_p95_ms < 2 * 150 + 200


@needs_clips
def test_stream_that_stops_and_restarts_is_survived(camera_clip, weights):
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)
    with UdpStreamer(camera_clip, free_udp_port()) as stream:

        def outage() -> None:  # about 18 frames, then the camera is off the network for 2.5 s
            time.sleep(1.5)
            stream.sending.clear()
            time.sleep(2.5)
            stream.sending.set()

        threading.Thread(target=outage, daemon=True).start()
        result = run_live(open_capture(stream.url, timeout=1.0), colorizer, LiveOptions(window=False, frames=40))
    assert result.frames == 40  # most of them after the outage
    assert result.reconnects >= 1


def test_dead_stream_is_a_one_line_error():
    result = run_cli("live", "rtsp://127.0.0.1:9/camera", "--no-window", "--timeout", "2")
    assert result.returncode == 1
    expected = "vidcolor: error: cannot open rtsp://127.0.0.1:9/camera: Connection refused"
    assert result.stderr.strip().splitlines() == [expected]


def test_silent_udp_stream_times_out_cleanly():
    url = f"udp://127.0.0.1:{free_udp_port()}"
    result = run_cli("live", url, "--no-window", "--timeout", "1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"vidcolor: error: cannot open {url}: nothing received for 1 s"]


@pytest.mark.parametrize("source, message", [
    ("9", "cannot open camera 9"),
    ("/dev/video97", "cannot open camera /dev/video97"),
    ("no-such-file.mp4", "source not found: no-such-file.mp4"),
    ("ftp://example/feed", "unsupported stream ftp://example/feed"),
])  # fmt: skip
def test_unopenable_sources_are_named(source, message):
    result = run_cli("live", source, "--no-window")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland displays are a Linux matter")
def test_no_display_is_one_line_suggesting_no_window(tmp_path, weights, monkeypatch):
    """Without a display the window used to abort the process (Qt, exit 134); now it is refused up front."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=5)
    result = run_cli("live", clip, "--frames", "3", "--weights", weights, "--size", TEST_SIZE)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "--no-window" in lines[0]


@pytest.mark.parametrize("quiet", [False, True])
def test_ctrl_c_exits_130_like_file_mode_and_quiet_prints_no_stats(tmp_path, weights, quiet):
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=10, fps=25)
    command = [sys.executable, "-m", "vidcolor", "live", str(clip), "--loop", "--no-window", "--weights", str(weights),
               "--size", str(TEST_SIZE), *(["-q"] if quiet else [])]  # fmt: skip
    live = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            preexec_fn=as_background_job)  # fmt: skip
    try:
        first = ""
        if quiet:
            time.sleep(5)  # model loaded and several seconds of frames: a stats line would have been printed
        else:
            first = live.stdout.readline()  # running: stats once a second
        live.send_signal(signal.SIGINT)
        out, err = live.communicate(timeout=60)
    finally:
        live.kill()
    assert live.returncode == 130, err
    assert ("vidcolor live: " in first + out) is not quiet
    assert "Traceback" not in err


def test_looped_file_plays_at_its_own_rate_and_keeps_going(tmp_path, weights):
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=10, fps=25)  # 0.4 s a loop
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)
    capture = Capture(reader_factory(str(clip), timeout=5, rtsp_transport="tcp", loop=True), name=str(clip))
    result = run_live(capture, colorizer, LiveOptions(window=False, frames=25, equalize=True))
    assert result.frames == 25  # 2.5 loops
    assert result.source_fps == pytest.approx(25, rel=0.25)


def test_frames_counts_every_frame_of_a_clip_the_model_keeps_up_with(tmp_path, colorizer, monkeypatch):
    """The model's first call is slow (a cold start); it is made before the source starts, not on its first frame,
    so no frame is dropped meanwhile: `--frames 20` on a 20-frame clip shows 20, not 19."""
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=20, fps=25)
    predict, calls = colorizer.predict, []

    def cold_first(*args, **kwargs):
        calls.append(None)
        if len(calls) == 1:
            time.sleep(0.3)  # seven frame intervals
        return predict(*args, **kwargs)

    monkeypatch.setattr(colorizer, "predict", cold_first)
    capture = Capture(reader_factory(str(clip), timeout=5, rtsp_transport="tcp", loop=False), name=str(clip))
    result = run_live(capture, colorizer, LiveOptions(window=False, frames=20, stats_every=float("inf")))
    assert (result.frames, result.dropped) == (20, 0)


def test_record_refuses_to_overwrite(tmp_path, weights):
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=5)
    existing = tmp_path / "rec.mp4"
    existing.write_bytes(b"keep me")
    result = run_cli("live", clip, "--no-window", "--record", existing, "--weights", weights, "--size", TEST_SIZE)
    assert result.returncode == 1 and "exists" in result.stderr
    assert existing.read_bytes() == b"keep me"


def test_record_keeps_an_earlier_cut_recording(tmp_path, weights):
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=5)
    cut_short = tmp_path / ".rec.mp4.partial.mp4"  # what kill -9 leaves of a recording: it plays
    cut_short.write_bytes(b"an earlier recording")
    result = run_cli("live", clip, "--no-window", "--record", tmp_path / "rec.mp4", "--weights", weights,
                     "--size", TEST_SIZE)  # fmt: skip
    assert result.returncode == 1 and "earlier recording that was cut short" in result.stderr, result.stderr
    assert cut_short.read_bytes() == b"an earlier recording"


def test_snapshots_never_overwrite(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    paths = {save_snapshot(image, tmp_path) for _ in range(3)}
    assert len(paths) == 3 and all(p.suffix == ".png" and p.is_file() for p in paths)


def test_overlay_fps_in_file_mode(tmp_path, weights):
    src = write_video(tmp_path / "in.mp4", width=320, height=192, frames=6)
    for name, extra in (("plain.mp4", []), ("overlay.mp4", ["--overlay-fps"])):
        result = run_cli(src, "-o", tmp_path / name, "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu",
                         "--crf", "0", "-q", *extra)  # fmt: skip  (lossless: untouched pixels compare exactly)
        assert result.returncode == 0, result.stderr
    plain, overlay = (decode_frames(tmp_path / name)[-1].to_ndarray(format="yuv420p")
                      for name in ("plain.mp4", "overlay.mp4"))  # fmt: skip
    corner = (slice(0, 20), slice(0, 60))
    assert np.abs(plain[corner].astype(int) - overlay[corner]).mean() > 5  # text and its box drawn
    assert np.array_equal(plain[150:192], overlay[150:192])  # the rest of the picture untouched


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xwd") is None, reason="needs Xvfb and xwd")
def test_window_shows_the_overlay(tmp_path, weights):
    display = ":97"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24", "-wr"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        clip = flat_grey_clip(tmp_path / "cam.mp4")
        live = subprocess.Popen([sys.executable, "-m", "vidcolor", "live", str(clip), "--loop", "--weights",
                                 str(weights), "--size", str(TEST_SIZE), "--backend", "cpu"],
                                env=dict(os.environ, DISPLAY=display), stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(6.0)
        shot = subprocess.run(["xwd", "-root", "-silent", "-display", display], capture_output=True, check=True).stdout
        live.terminate()
        assert live.wait(10) == 0  # SIGTERM ends live mode like q does
    finally:
        server.terminate()
    screen = xwd_pixels(shot)[..., :3]
    # White root window, a mid-grey picture: the only dark pixels are the overlay's box, with white text in it.
    rows, cols = np.nonzero(screen.max(axis=2) < 60)
    assert len(rows) > 1000, "no overlay box on screen"
    box = screen[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert (box.min(axis=2) > 200).sum() > 50, "no text in the overlay box"


def flat_grey_clip(path: Path, frames: int = 50) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 192, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((192 * 3 // 2, 320), 128, np.uint8), format="yuv420p")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def xwd_pixels(data: bytes) -> np.ndarray:
    """A 24/32-bit ZPixmap XWD screenshot as (H, W, 4) uint8."""
    header = np.frombuffer(data[:100], ">u4")
    header_size, width, height, bytes_per_line, ncolors = header[0], header[4], header[5], header[12], header[19]
    start = header_size + 12 * ncolors
    rows = np.frombuffer(data[start : start + bytes_per_line * height], np.uint8).reshape(height, bytes_per_line)
    return rows[:, : width * 4].reshape(height, width, 4)


def test_rate_meter_reads_steady_rates_and_ignores_bursts():
    meter = RateMeter()
    for index in range(40):
        meter.tick(index / 25)
    assert meter.rate(now=39 / 25) == pytest.approx(25, rel=0.05)
    assert meter.rate(now=39 / 25 + 1.5) == 0.0  # the source stopped
    meter.tick(10.0)
    meter.tick(10.001)  # two frames at once after a stall
    assert meter.rate(now=10.001) <= 2.0


@pytest.mark.parametrize("full_range", [True, False])
def test_live_colours_match_the_image_path(full_range):
    """The window's full-range BT.601 Y'CbCr -> BGR shows the colours the image path computes in Lab."""
    grey = cv2.imread(str(Path(__file__).parents[1] / "samples" / "street_gray.png"), cv2.IMREAD_GRAYSCALE)
    colorizer = Colorizer(backend="cpu")
    expected = cv2.cvtColor(colorizer.colorize_image(grey), cv2.COLOR_RGB2BGR).astype(int)
    luma = grey if full_range else np.round(16 + grey * (219 / 255)).astype(np.uint8)  # the same picture, limited
    session = LiveSession(colorizer, LiveOptions(smooth=0.0, window=False))
    shown = session.view(session.colorize(LiveFrame(luma, full_range, captured_at=0.0))).astype(int)
    # Measured with the fast bins model: 3.0 / 3.4 mean and 16 / 17 at the 99th percentile (4:2:0 chroma, 8-bit
    # rounding; its colour changes faster at edges than the regression model's, 2.1 / 2.5 and 10 / 11); showing
    # the same chroma as limited-range BT.709 instead reads 8.3 / 8.8 and 32 / 33.
    assert np.abs(shown - expected).mean() < 4.5
    assert np.percentile(np.abs(shown - expected), 99) < 24


def test_a_rotated_file_is_shown_and_recorded_upright(tmp_path, weights):
    """A phone's clip stored sideways plays upright in live mode too, as file mode writes it."""
    clip = write_video(tmp_path / "phone.mp4", width=96, height=64, frames=12, rotation=90)
    upright = displayed(luma_planes(clip)[0], display_matrix(clip))
    result = run_cli("live", clip, "--no-window", "--frames", "4", "--weights", weights, "--size", TEST_SIZE,
                     "--backend", "cpu", "--record", tmp_path / "rec.mp4", timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    recorded = luma_planes(tmp_path / "rec.mp4")
    assert recorded[0].shape == upright.shape == (96, 64)
    assert psnr(recorded[0], upright) > psnr(recorded[0], np.rot90(upright, 2)) + 5


def test_the_network_runs_on_its_own_thread_beside_the_smoother(tmp_path, weights, monkeypatch):
    """The two halves of a frame overlap: the network on its thread, smoothing and showing on the caller's."""
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=12, fps=25)
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)  # its own: patched methods stay with it
    threads: dict[str, list[str]] = {"network": [], "finish": []}
    run_network, prediction_of_run = colorizer.run_network, colorizer.prediction_of_run

    def network(*args, **kwargs):
        threads["network"].append(threading.current_thread().name)
        return run_network(*args, **kwargs)

    def finish(*args, **kwargs):
        threads["finish"].append(threading.current_thread().name)
        return prediction_of_run(*args, **kwargs)

    monkeypatch.setattr(colorizer, "run_network", network)
    monkeypatch.setattr(colorizer, "prediction_of_run", finish)
    capture = Capture(reader_factory(str(clip), timeout=5, rtsp_transport="tcp", loop=False), name=str(clip))
    result = run_live(capture, colorizer, LiveOptions(window=False, stats_every=float("inf")))
    assert result.frames + result.dropped == 12
    main = threading.current_thread().name
    assert threads["network"][0] == threads["finish"][0] == main  # the warm-up, before the source starts
    assert set(threads["network"][1:]) == {"vidcolor-network"} and set(threads["finish"][1:]) == {main}
    assert len(threads["finish"]) == result.frames + 1


def test_an_error_of_the_network_stops_live_mode_with_it(tmp_path, weights, monkeypatch):
    clip = write_video(tmp_path / "cam.mp4", width=160, height=96, frames=50, fps=25)
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=weights)  # its own: patched methods stay with it
    run_network, calls = colorizer.run_network, []

    def failing(*args, **kwargs):
        calls.append(None)
        if len(calls) == 4:
            raise RuntimeError("the network broke")
        return run_network(*args, **kwargs)

    monkeypatch.setattr(colorizer, "run_network", failing)
    capture = Capture(reader_factory(str(clip), timeout=5, rtsp_transport="tcp", loop=False), name=str(clip))
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the network broke"):
        run_live(capture, colorizer, LiveOptions(window=False, stats_every=float("inf")))
    assert time.monotonic() - started < 1.5  # raised at once, not after the clip's 2 s
    assert not any(thread.name == "vidcolor-network" for thread in threading.enumerate())


def test_a_frame_inferred_before_the_working_size_changed_is_smoothed_without_error(colorizer):
    """The pace changes the size while the network may hold a frame at the old one: the smoother restarts when
    a frame of the new size reaches it."""
    session = LiveSession(colorizer, LiveOptions(window=False))
    luma = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (96, 160), np.uint8), (0, 0), 3)
    frame = LiveFrame(luma, True, captured_at=0.0)
    old_size = session.infer(frame)
    session.set_working_size(colorizer.size + 32)
    new_size = session.infer(frame)
    pictures = [session.finish(inferred) for inferred in (old_size, old_size, new_size, new_size)]
    assert all(picture.cb.shape == (48, 80) for picture in pictures)
    assert session.smoother._history.lightness.shape == tuple(new_size.model_input.shape[-2:])
