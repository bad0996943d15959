"""The GPU check's helpers (benchmarks/gpu_check.sh): the training probe's photos, and the report.

    python benchmarks/gpu_check.py photos samples OUT/photos   # every frame of the sample clips, as PNG
    python benchmarks/gpu_check.py report OUT                  # OUT/gpu_check.json and OUT/gpu_check.md
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import av
import cv2


def write_photos(samples: Path, out: Path) -> int:
    """Every frame of the sample clips as a PNG in ``out`` (the step-rate probe needs pictures, not colour)."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for clip in sorted(samples.glob("*.mp4")):
        with av.open(str(clip)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                cv2.imwrite(str(out / f"{clip.stem}_{index:04d}.png"), frame.to_ndarray(format="bgr24"))
                count += 1
    return count


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def collect(out: Path) -> dict:
    """Every step's record, and the figures the steps that finished left behind."""
    with (out / "steps.tsv").open(newline="") as file:
        steps = list(csv.DictReader(file, delimiter="\t"))
    report: dict = {"steps": steps, "bench": [], "model_only_fps": {}, "live": None, "training": None}
    for bench in sorted((out / "bench").glob("bench-*.json")):
        data = _json(bench) or {}
        report.setdefault("machine", data.get("machine"))
        report["bench"] += data.get("rows", [])
        report["model_only_fps"] |= data.get("model_only_fps", {})
    report["live"] = _json(out / "live_latency.json")
    card = _json(out / "train-probe.json")
    if card is not None:
        training = card["training"]
        minutes = training["train_minutes"]
        report["training"] = {"steps": training["steps"], "minutes": minutes, "device": training["device"],
                              "steps_per_second": training["steps"] / (minutes * 60) if minutes else None,
                              "images_per_second": training["images_seen_total"] / (minutes * 60) if minutes else None}
    return report


def markdown(report: dict) -> str:
    lines = ["# vidcolor GPU check", ""]
    if report.get("machine"):
        lines += ["Machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()), ""]
    lines += ["| step | status | seconds |", "|---|---|---|"]
    lines += [f"| {s['name']} | {s['status']} | {s['seconds']} |" for s in report["steps"]]
    if report["bench"]:
        lines += ["", "| backend | model | size | batch | infer fps | pipeline fps | ceiling fps |", "|---" * 7 + "|"]
        lines += [f"| {r['backend']} | {r['model']} | {r['resolution']} | {r['batch']} | "
                  f"{r['stage_fps'].get('infer', 0):.1f} | **{r['pipeline_fps']:.1f}** | {r['ceiling_fps']:.1f} |"
                  for r in report["bench"]]  # fmt: skip
    if report["model_only_fps"]:
        lines += ["", "| model alone | fps |", "|---|---|"]
        lines += [f"| {case} | {fps:.1f} |" for case, fps in report["model_only_fps"].items()]
    if report["live"]:
        lines += ["", "Live latency: `" + json.dumps(report["live"].get("sizes", report["live"]))[:400] + "`"]
    if report["training"]:
        t = report["training"]
        lines += ["", f"Training probe on {t['device']}: {t['steps']} steps in {t['minutes']} min"
                      + (f" ({t['steps_per_second']:.1f} steps/s, {t['images_per_second']:.0f} images/s)"
                         if t["steps_per_second"] else "")]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    photos = commands.add_parser("photos", help="the training probe's photos")
    photos.add_argument("samples", type=Path)
    photos.add_argument("out", type=Path)
    report = commands.add_parser("report", help="gpu_check.json and gpu_check.md from a check's folder")
    report.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "photos":
        print(f"{write_photos(args.samples, args.out)} photos in {args.out}")
        return
    collected = collect(args.out)
    (args.out / "gpu_check.json").write_text(json.dumps(collected, indent=2) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(collected))
    print(f"wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'}")


if __name__ == "__main__":
    main()
