#!/usr/bin/env python3
"""Rebuild the small demo inputs in samples/ from the shared clips.

Usage (from the repository root):

    python samples/make_samples.py [--clips ../shared/data/clips]

Only the CC BY 4.0 clips from intel-iot-devkit/sample-videos are used
(traffic_overhead.mp4, indoor_people.mp4). Everything is done with PyAV and
numpy: no ffmpeg subprocess.

Outputs (written next to this script):
  traffic_gray.mp4   4 s of traffic_overhead.mp4 from 2 s, grayscale, with its AAC track
  indoor_gray.mp4    3 s of indoor_people.mp4 from 7 s (person in view), grayscale, no audio
  traffic_color.mp4  the same 4 s of traffic_overhead.mp4 in colour, no audio
  street_gray.png    one grayscale still from traffic_overhead.mp4 (t = 4 s), 640x360

"Grayscale" for the clips means: the decoded Y plane is kept as is and both
chroma planes are set to exactly 128 (neutral), then encoded with libx264
(crf 23, preset medium, yuv420p) at the source's own frame rate, with the
source's timestamps (shifted so the clip starts at 0).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CLIPS = REPO / ".." / "shared" / "data" / "clips"

X264_OPTIONS = {"crf": "23", "preset": "medium"}
AAC_BITRATE = 128_000


def to_gray_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """Keep the Y plane, set U and V to exactly 128 (yuv420p)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    arr = frame.to_ndarray()  # (h * 3 / 2, w): Y rows, then U and V packed
    h = frame.height
    arr[h:, :] = 128
    out = av.VideoFrame.from_ndarray(arr, format="yuv420p")
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


def _add_video_stream(out: av.container.OutputContainer, src: av.video.stream.VideoStream):
    rate = src.average_rate or src.guessed_rate
    st = out.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
    st.width = src.codec_context.width
    st.height = src.codec_context.height
    st.pix_fmt = "yuv420p"
    # Carry the source time base over so the source timestamps stay exact.
    st.time_base = src.time_base
    st.codec_context.time_base = src.time_base
    return st


def _read_audio(src_path: Path, start: float, end: float):
    """Decode the audio of [start, end) as float32 planar (channels, samples)."""
    with av.open(str(src_path)) as inp:
        ast = inp.streams.audio[0]
        rate = ast.codec_context.sample_rate
        layout = ast.codec_context.layout.name
        chunks, first = [], None
        for fr in inp.decode(ast):
            if fr.pts is None:
                continue
            t0 = int(round(float(fr.pts * fr.time_base) * rate))
            data = fr.to_ndarray()  # fltp: (channels, n)
            if data.dtype != np.float32 or fr.format.name != "fltp":
                raise RuntimeError(f"unexpected audio format {fr.format.name}")
            if first is None:
                first = t0
            chunks.append((t0, data))
    total = max(t0 + d.shape[1] for t0, d in chunks)
    channels = chunks[0][1].shape[0]
    buf = np.zeros((channels, total - first), dtype=np.float32)
    for t0, d in chunks:
        buf[:, t0 - first:t0 - first + d.shape[1]] = d
    a = int(round(start * rate)) - first
    b = int(round(end * rate)) - first
    return buf[:, a:b], rate, layout


def make_clip(src_path: Path, dst_path: Path, start: float, duration: float,
              gray: bool, audio: bool) -> None:
    end = start + duration
    inp = av.open(str(src_path))
    vsrc = inp.streams.video[0]
    tb = vsrc.time_base
    start_pts = int(round(start / tb))
    end_pts = int(round(end / tb))

    out = av.open(str(dst_path), "w", options={"movflags": "+faststart"})
    vst = _add_video_stream(out, vsrc)
    ast = None
    if audio:
        samples, rate, layout = _read_audio(src_path, start, end)
        ast = out.add_stream("aac", rate=rate, layout=layout)
        ast.bit_rate = AAC_BITRATE
        ast.time_base = Fraction(1, rate)

    # Video: frames whose pts lies in [start, end), pts shifted to start at 0.
    n = 0
    for fr in inp.decode(vsrc):
        if fr.pts is None or fr.pts < start_pts:
            continue
        if fr.pts >= end_pts:
            break
        pts = fr.pts - start_pts
        fr = to_gray_frame(fr) if gray else fr
        fr.pts = pts
        fr.time_base = tb
        fr.pict_type = av.video.frame.PictureType.NONE
        for pkt in vst.encode(fr):
            out.mux(pkt)
        n += 1
    for pkt in vst.encode(None):
        out.mux(pkt)
    inp.close()

    # Audio: exactly the samples of [start, end), fed in 1024-sample frames.
    if ast is not None:
        fs = 1024
        for i in range(0, samples.shape[1], fs):
            chunk = np.ascontiguousarray(samples[:, i:i + fs])
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            af.sample_rate = rate
            af.pts = i
            af.time_base = Fraction(1, rate)
            for pkt in ast.encode(af):
                out.mux(pkt)
        for pkt in ast.encode(None):
            out.mux(pkt)
    out.close()
    print(f"wrote {dst_path.name}: {n} video frames")


def make_still(src_path: Path, dst_path: Path, t: float, width: int = 640) -> None:
    """One grayscale PNG: Y plane mapped from limited (16-235) to full range."""
    with av.open(str(src_path)) as inp:
        vsrc = inp.streams.video[0]
        want = int(round(t / vsrc.time_base))
        for fr in inp.decode(vsrc):
            if fr.pts is not None and fr.pts >= want:
                break
    y = fr.reformat(format="yuv420p").to_ndarray()[: fr.height]
    g = np.clip((y.astype(np.float32) - 16.0) * (255.0 / 219.0) + 0.5, 0, 255).astype(np.uint8)
    gf = av.VideoFrame.from_ndarray(g, format="gray")
    height = int(round(fr.height * width / fr.width / 2)) * 2
    gf = gf.reformat(width=width, height=height, format="gray", interpolation="AREA")
    cc = av.CodecContext.create("png", "w")
    cc.width, cc.height, cc.pix_fmt = width, height, "gray"
    cc.time_base = Fraction(1, 1)
    gf.pts = 0
    data = b"".join(bytes(p) for p in cc.encode(gf)) + b"".join(bytes(p) for p in cc.encode(None))
    dst_path.write_bytes(data)
    print(f"wrote {dst_path.name}: {width}x{height}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=DEFAULT_CLIPS,
                    help="folder with traffic_overhead.mp4 and indoor_people.mp4 "
                         "(default: ../shared/data/clips relative to the repo root)")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: samples/)")
    args = ap.parse_args()
    clips = args.clips.resolve()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    traffic = clips / "traffic_overhead.mp4"
    indoor = clips / "indoor_people.mp4"

    make_clip(traffic, out / "traffic_gray.mp4", start=2.0, duration=4.0, gray=True, audio=True)
    make_clip(indoor, out / "indoor_gray.mp4", start=7.0, duration=3.0, gray=True, audio=False)
    make_clip(traffic, out / "traffic_color.mp4", start=2.0, duration=4.0, gray=False, audio=False)
    make_still(traffic, out / "street_gray.png", t=4.0, width=640)


if __name__ == "__main__":
    main()
