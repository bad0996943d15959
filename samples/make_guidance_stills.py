"""The README's guidance stills, from the shared CC BY 4.0 clips (re-run when the model changes):

    python samples/make_guidance_stills.py            # reads ../shared/data/clips, writes samples/*_still.jpg

hints_still.jpg: a frame of indoor_people.mp4, automatic | with 5 hints (each the true colour of 5x5 pixels at a
place drawn with seed 0, marked by a ring) | the true colours. reference_still.jpg: a frame of traffic_overhead.mp4
as a car passes, automatic | with the clip's first frame as the reference | the true colours.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from vidcolor import Colorizer
from vidcolor.guidance.hints import truth_hints
from vidcolor.guidance.reference import Reference

HEIGHT = 240  # each panel's height in the still
CAPTION = 22


def frame_at(clip: Path, seconds: float) -> np.ndarray:
    """The RGB frame (H, W, 3) shown at ``seconds``."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{clip} ends before {seconds} s")


def panel(rgb: np.ndarray, caption: str) -> np.ndarray:
    small = cv2.resize(rgb, (round(rgb.shape[1] * HEIGHT / rgb.shape[0]), HEIGHT), interpolation=cv2.INTER_AREA)
    band = np.full((CAPTION, small.shape[1], 3), 255, np.uint8)
    cv2.putText(band, caption, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, small])


def save(panels: list[np.ndarray], path: Path) -> None:
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    row = np.concatenate([p for pair in zip(panels, [gap] * len(panels), strict=True) for p in pair][:-1], axis=1)
    cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print("wrote", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=Path("../shared/data/clips"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    colorizer = Colorizer(model="fast", backend="cpu")

    truth = frame_at(args.clips / "indoor_people.mp4", 8.0)
    grey = cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY)
    hints = truth_hints(truth, 5, torch.Generator().manual_seed(0))
    hinted = np.ascontiguousarray(colorizer.colorize_image(grey, hints=hints))
    for hint in hints:  # a ring around each hint, in its own colour
        centre = (round(hint.x * truth.shape[1]), round(hint.y * truth.shape[0]))
        colour = tuple(int(c) for c in truth[centre[1], centre[0]])
        cv2.circle(hinted, centre, 9, (255, 255, 255), 3, cv2.LINE_AA)
        cv2.circle(hinted, centre, 9, colour, 2, cv2.LINE_AA)
    save([panel(colorizer.colorize_image(grey), "automatic"), panel(hinted, "5 hints"), panel(truth, "truth")],
         args.out / "hints_still.jpg")

    traffic = args.clips / "traffic_overhead.mp4"
    first, truth = frame_at(traffic, 0.0), frame_at(traffic, 4.0)
    grey = cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY)
    with_reference = colorizer.colorize_image(grey, reference=Reference(first))
    save([panel(colorizer.colorize_image(grey), "automatic"), panel(with_reference, "reference: the first frame"),
          panel(truth, "truth")], args.out / "reference_still.jpg")


if __name__ == "__main__":
    main()
