"""Calibration of a bins-head model and a confidence gate on its colour (issue 34, "Do no harm").

    python benchmarks/confidence_gate.py PHOTOS [--model fast | --weights W.pt] [--limit N] [--scales 0.8,0.6]
                                         [--pixel-h0 4,4.5,5] [--width 1] [--frame-f0 4,4.5] [--frame-width 1]
                                         [--check] [--json OUT.json]

Per photo the network runs once (PyTorch, CPU, float32, the working size of the model): its rendered a*b* at the
output stride and the entropy of its raw bin distribution there (``MobileUNet.entropy``). Then, in place of the
rendered a*b*, each gate's (``gate``): a*b* times a pixel factor clip((H0 - H) / width, 0, 1) of the entropy H
(smoothed 3x3 at the output stride) and a frame factor clip((F0 - mean H) / frame_width, 0, 1) — the rest of the
way is the colorizer's own (bilinear to the working size, guided to the photo's size) and the scores are
``vidcolor eval``'s (PSNR, false / lost colour, wrong hue, photos more than 3 dB below grey; no SSIM). Every
region entropy is tried alone, with every frame entropy, and each frame entropy alone; ``--scales``: the control,
every photo's a*b* times a constant. ``--check``: the gate off must be ``Colorizer.colorize_image`` to the bit.

Calibration (the gate off): per photo the mean entropy against the a*b* error (RMS over the pixels, of the output
and of grey) and whether the photo beats grey; per pixel, entropy bins (at the photo's size, the entropy
upsampled bilinearly) against the a*b* error, the share of false colour and of lost colour.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import Colorizer
from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.models.ab_bins import confidence_gate
from vidcolor.train.chroma_errors import (
    DULL_BELOW,
    FALSE_ABOVE,
    NEUTRAL_BELOW,
    SATURATED_ABOVE,
    chroma_errors,
    complex_ab,
    mean_chroma_errors,
)
from vidcolor.train.data import list_images
from vidcolor.train.evaluate import BELOW_GREY_DB, psnr, scored_images

PIXEL_BINS = np.arange(0.0, 5.51, 0.5)  # nats; log 188 (the fast model's rendered bins) = 5.24


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")] if text else []


def gate(ab: torch.Tensor, entropy: torch.Tensor, scale: float, h0: float | None, width: float, f0: float | None,
         frame_width: float) -> torch.Tensor:  # fmt: skip
    """a*b* (1, 2, h, w) at the output stride, scaled toward grey where the entropy (1, 1, h, w) is high (and
    everywhere by ``scale``: the control, a gate that knows nothing)."""
    return ab * scale * confidence_gate(entropy, h0 or 0.0, width, f0 or 0.0, frame_width)


def render(colorizer: Colorizer, lightness: torch.Tensor, model_input: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """a*b* at the output stride -> uint8 RGB at the photo's size, as ``Colorizer.colorize_image`` makes it."""
    out = F.interpolate(ab, size=model_input.shape[-2:], mode="bilinear", align_corners=False)
    prediction = colorizer._finish(lightness, model_input, out)
    full = colorizer.upsample_ab(prediction, prediction.lightness)
    rgb = lab_to_rgb(torch.cat((prediction.lightness, full), dim=1))[0].permute(1, 2, 0).numpy()
    return np.rint(rgb * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--model", default="fast")
    parser.add_argument("--weights", type=Path, help="a checkpoint instead of the shipped --model")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--scales", type=floats, default=[], help="uniform chroma scales, the control")
    parser.add_argument("--pixel-h0", type=floats, default=[])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--frame-f0", type=floats, default=[])
    parser.add_argument("--frame-width", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="check the gate off is colorize_image to the bit")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    colorizer = Colorizer(backend="cpu", model="auto" if args.weights else args.model, weights=args.weights,
                          precision="fp32", threads=1)  # fmt: skip
    network = colorizer._network
    settings = [(1.0, None, None)] + [(s, None, None) for s in args.scales] + [(1.0, h, None) for h in args.pixel_h0]
    settings += [(1.0, None, f) for f in args.frame_f0] + [(1.0, h, f) for h, f in itertools.product(args.pixel_h0,
                                                                                                     args.frame_f0)]
    scores: dict[tuple, list] = {s: [] for s in settings}
    grey_psnr, calibration = [], []
    edges = PIXEL_BINS
    pixel = {k: np.zeros(len(edges) + 1) for k in ("n", "err2", "grey2", "neutral", "false", "saturated", "lost")}
    paths = list_images(args.photos)[: args.limit]
    for index, path in enumerate(paths):
        given, grey, truth = scored_images(path)
        lightness = rgb_to_lab(torch.from_numpy(given).permute(2, 0, 1).float() / 255)[:1][None]
        model_input = colorizer.model_input(lightness)
        with torch.inference_mode():
            features = network.decode(model_input)
            ab, entropy = network.colour(features), network.entropy(features)
        grey_psnr.append(psnr(grey, truth))
        true_ab = complex_ab(truth)
        for scale, h0, f0 in settings:
            gated = gate(ab, entropy, scale, h0, args.width, f0, args.frame_width)
            out = render(colorizer, lightness, model_input, gated)
            off = scale == 1.0 and h0 is None and f0 is None
            if off and args.check:
                assert np.array_equal(out, colorizer.colorize_image(given)), path
            scores[(scale, h0, f0)].append((psnr(out, truth), chroma_errors(out, truth)))
            if off:  # calibration, the gate off
                predicted_ab = complex_ab(out)
                error = np.abs(predicted_ab - true_ab)
                calibration.append({"photo": path.name, "mean_entropy": float(entropy.mean()),
                                    "ab_rmse": float(np.sqrt(np.mean(error**2))),
                                    "grey_ab_rmse": float(np.sqrt(np.mean(np.abs(true_ab) ** 2))),
                                    "psnr": scores[(scale, h0, f0)][-1][0], "grey_psnr": grey_psnr[-1]})  # fmt: skip
                full = F.interpolate(entropy, size=truth.shape[:2], mode="bilinear", align_corners=False)[0, 0].numpy()
                which = np.digitize(full, edges)
                true_c, predicted_c = np.abs(true_ab), np.abs(predicted_ab)
                neutral, saturated = true_c < NEUTRAL_BELOW, true_c > SATURATED_ABOVE
                for key, values in (("n", np.ones_like(full)), ("err2", error**2), ("grey2", true_c**2),
                                    ("neutral", neutral), ("false", neutral & (predicted_c > FALSE_ABOVE)),
                                    ("saturated", saturated), ("lost", saturated & (predicted_c < DULL_BELOW))):
                    pixel[key] += np.bincount(which.ravel(), weights=values.ravel().astype(np.float64),
                                              minlength=len(edges) + 1)  # fmt: skip
        if index % 25 == 0:
            print(f"{index + 1}/{len(paths)} {path.name}", flush=True)
    rows = []
    for (scale, h0, f0), photos in scores.items():
        psnrs = np.array([p for p, _ in photos])
        means = mean_chroma_errors([c for _, c in photos])
        rows.append({"scale": scale, "pixel_h0": h0, "width": args.width, "frame_f0": f0,
                     "frame_width": args.frame_width,
                     "psnr": float(psnrs.mean()), "over_grey": float(psnrs.mean() - np.mean(grey_psnr)),
                     **{k: means[k] for k in ("false_colour_pct", "lost_colour_pct", "wrong_hue_pct")},
                     "photos_3db_below_grey": int(np.sum(psnrs < np.array(grey_psnr) - BELOW_GREY_DB))})  # fmt: skip
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()))
    if args.json:
        args.json.write_text(json.dumps({"photos": str(args.photos), "limit": args.limit, "model": args.model,
                                         "grey_psnr": float(np.mean(grey_psnr)), "rows": rows,
                                         "calibration": calibration, "pixel_bins": edges.tolist(),
                                         "pixel": {k: v.tolist() for k, v in pixel.items()}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
