"""Guided upsampling of a*b* against plain bilinear: `vidcolor eval`'s scores with each on a photo folder, and what
the upsampling alone costs a frame at 480p and 1080p on this machine's CPU (the part that runs per output pixel).

    python benchmarks/guided_upsample.py PHOTOS [--model fast] [--limit N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vidcolor import Colorizer
from vidcolor.guided_upsample import guided_upsample
from vidcolor.train.evaluate import evaluate

COLUMNS = ("psnr", "ssim", "false_colour_pct", "lost_colour_pct", "wrong_hue_pct", "photos_3db_below_grey")
SIZES = {"480p": (480, 854), "1080p": (1080, 1920)}
WORKING = {"480p": (256, 448), "1080p": (256, 448)}  # the model's working size for a 16:9 frame at short side 256


def per_frame_ms(upsample, output: tuple[int, int], working: tuple[int, int], repeats: int = 30) -> float:
    """Median milliseconds to bring one frame's a*b* from the working size to the chroma planes' (half the output)."""
    chroma = ((output[0] + 1) // 2, (output[1] + 1) // 2)
    ab = torch.randn(1, 2, *working) * 20
    light_low, light = torch.rand(1, 1, *working) * 100, torch.rand(1, 1, *chroma) * 100
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        upsample(ab, light_low, light)
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def bilinear(ab: torch.Tensor, _light_low: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    return F.interpolate(ab, size=light.shape[-2:], mode="bilinear", align_corners=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--model", default="fast", choices=("fast", "quality"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report = {"photos": str(args.photos), "limit": args.limit, "model": args.model,
              "cpu": platform.processor() or platform.machine(), "upsample_ms_per_frame": {}, "scores": {}}
    for name, size in SIZES.items():
        report["upsample_ms_per_frame"][name] = {
            "bilinear": round(per_frame_ms(bilinear, size, WORKING[name]), 2),
            "guided": round(per_frame_ms(guided_upsample, size, WORKING[name]), 2),
        }
    print(json.dumps(report["upsample_ms_per_frame"]), flush=True)
    for refine in (False, True):
        colorizer = Colorizer(backend="cpu", model=args.model, precision="fp32", refine=refine)
        scores = evaluate(colorizer, args.photos, limit=args.limit)
        row = {k: scores["vidcolor"].get(k) for k in COLUMNS} | {"grey_psnr": scores["grey"]["psnr"]}
        report["scores"]["guided" if refine else "bilinear"] = row
        print("guided" if refine else "bilinear", json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
