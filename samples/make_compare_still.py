"""Make the README's picture: one frame of ``vidcolor SAMPLE --compare side`` with today's shipped model.

    python samples/make_compare_still.py            # writes samples/compare_side.jpg

Re-run it whenever the model changes, so the picture shows what the tool does now.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import cv2

from vidcolor import colorize_file

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE / "indoor_gray.mp4")
    parser.add_argument("--seconds", type=float, default=2.0, help="time of the frame to show")
    parser.add_argument("--out", type=Path, default=HERE / "compare_side.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        video = Path(work) / "compare.mp4"
        colorize_file(args.sample, video, compare="side", overlay_fps=False)
        with av.open(str(video)) as container:
            for frame in container.decode(video=0):  # the first at or after --seconds, else the last
                if frame.time >= args.seconds:
                    break
            bgr = frame.to_ndarray(format="bgr24")
    cv2.imwrite(str(args.out), bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({bgr.shape[1]}x{bgr.shape[0]}, {args.sample.name} at {frame.time:.2f} s)")


if __name__ == "__main__":
    main()
