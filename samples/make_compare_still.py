"""Make the README's picture: one frame of ``vidcolor SAMPLE --compare side`` with today's shipped model.

    python samples/make_compare_still.py            # writes samples/compare_side.jpg
    python samples/make_compare_still.py --sample ../shared/data/clips/ir/thermal_towers_pan_osd.mp4 \
        --sensor thermal --seconds 4 --out samples/night_thermal.jpg
    python samples/make_compare_still.py --sample ../shared/data/ir/nir/holdout/epflnir_00171_ir.webp \
        --sensor nir --out samples/night_nir.jpg

Re-run it whenever the model changes, so the picture shows what the tool does now.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

from vidcolor import Colorizer, colorize_file
from vidcolor.images import IMAGE_SUFFIXES
from vidcolor.models.presets import SENSORS

HERE = Path(__file__).resolve().parent


def video_still(sample: Path, seconds: float, colorizer: Colorizer) -> np.ndarray:
    """BGR: the frame of ``vidcolor SAMPLE --compare side`` at or after ``seconds`` (else the last)."""
    with tempfile.TemporaryDirectory() as work:
        video = Path(work) / "compare.mp4"
        colorize_file(sample, video, colorizer=colorizer, compare="side", overlay_fps=False)
        with av.open(str(video)) as container:
            for frame in container.decode(video=0):
                if frame.time >= seconds:
                    break
            return frame.to_ndarray(format="bgr24")


def image_still(sample: Path, colorizer: Colorizer) -> np.ndarray:
    """BGR: a grey picture beside its colours, as --compare side shows a video."""
    grey = cv2.imread(str(sample), cv2.IMREAD_GRAYSCALE)
    colour = cv2.cvtColor(colorizer.colorize_image(grey), cv2.COLOR_RGB2BGR)
    return np.hstack((cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), colour))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE / "indoor_gray.mp4", help="a grey video or picture")
    parser.add_argument("--seconds", type=float, default=2.0, help="time of the frame to show")
    parser.add_argument("--sensor", choices=SENSORS, default="visible")
    parser.add_argument("--out", type=Path, default=HERE / "compare_side.jpg")
    args = parser.parse_args()
    colorizer = Colorizer(sensor=args.sensor)
    if args.sample.suffix.lower() in IMAGE_SUFFIXES:
        bgr = image_still(args.sample, colorizer)
    else:
        bgr = video_still(args.sample, args.seconds, colorizer)
    cv2.imwrite(str(args.out), bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({bgr.shape[1]}x{bgr.shape[0]}, {args.sample.name})")


if __name__ == "__main__":
    main()
