"""Which statistics of a frame should the colour gate read? (issue 34, "do no harm")

    python benchmarks/gate_statistics.py [--model fast] [--count 3000] [--cache runs/gate_statistics.pt]
                                         [--json benchmarks/results/gate_statistics.json]

The shipped gate (``vidcolor/models/colour_gate.py``) reads two: the mean bin entropy and the mean rendered chroma.
Here the frozen network runs once over the same photos ``vidcolor train-gate`` fits on (3,000 training photos and
the night pairs' colour frames), the holdout, the benchmark, and every 10th of the first 150 frames of each shared
colour clip, keeping eleven candidate statistics and the three sums that give any factor's a*b* error
(``vidcolor.train.colour_gate``). A gate is then fitted on the training rows for each set of statistics
(``fit_logistic``, the same loss as train-gate) and scored: on photos, the mean a*b* PSNR-like score over grey's
(dB, as train-gate prints it); on clips, the clip's a*b* error against grey's (10 log10 of the mean squared
errors' ratio, every sampled frame alike: the file mode's picture before the smoother). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import av
import torch

from vidcolor.models.checkpoint import load_model
from vidcolor.models.colour_gate import CHROMA_UNIT, pooled_entropy
from vidcolor.models.presets import PRESETS
from vidcolor.train.colour_gate import GateExamples, colour_photos, error_sums, fit_logistic, network_pass
from vidcolor.train.data import list_images, read_rgb

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
STATISTICS = ("entropy mean", "entropy std", "entropy q10", "entropy q50", "entropy q90", "chroma mean",
              "chroma std", "chroma q50", "chroma q90", "lightness mean", "lightness std")  # fmt: skip
SETS = {  # the statistics each gate reads, by index into STATISTICS; "shipped" is the gate of fast and quality
    "shipped (entropy, chroma means)": [0, 5],
    "+ entropy std": [0, 1, 5],
    "+ chroma std": [0, 5, 6],
    "+ both 90th percentiles": [0, 4, 5, 8],
    "+ lightness mean, std": [0, 5, 9, 10],
    "+ entropy std, lightness": [0, 1, 5, 9, 10],
    "entropy and chroma, all": [0, 1, 2, 3, 4, 5, 6, 7, 8],
    "all eleven": list(range(11)),
}
CLIP_FRAMES, CLIP_EVERY = 150, 10


@torch.no_grad()
def frame_row(model: torch.nn.Module, rgb: torch.Tensor, short_side: int) -> torch.Tensor:
    """An RGB frame (3, H, W) uint8 -> the candidate statistics, then Σ|ab|², Σ ab·truth, Σ|truth|² and the count."""
    lightness, features, ab, truth = network_pass(model, rgb, short_side)
    entropy = pooled_entropy(features, model.head, model.rendered_bins).flatten()
    chroma = ab.norm(dim=1).flatten() / CHROMA_UNIT
    lightness = lightness.flatten() / 100
    quantiles = torch.tensor([0.1, 0.5, 0.9])
    row = [entropy.mean()[None], entropy.std()[None], torch.quantile(entropy, quantiles), chroma.mean()[None],
           chroma.std()[None], torch.quantile(chroma, quantiles[1:]), lightness.mean()[None], lightness.std()[None],
           error_sums(ab, truth)]
    return torch.cat(row).double()


def clip_frames(path: Path) -> list[torch.Tensor]:
    """Every CLIP_EVERY-th of the first CLIP_FRAMES frames of ``path``, RGB (3, H, W) uint8."""
    with av.open(str(path)) as container:
        frames = itertools.islice(container.decode(video=0), 0, CLIP_FRAMES, CLIP_EVERY)
        return [torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1) for frame in frames]


def gather(model: torch.nn.Module, count: int, short_side: int) -> dict[str, torch.Tensor]:
    """Each group's rows: the training pick, holdout, benchmark and each clip."""
    groups = {"train": colour_photos([DATA / "photos/train", DATA / "ir/thermal/train", DATA / "ir/nir/train"], count),
              "holdout": list_images(DATA / "photos/holdout"), "benchmark": list_images(DATA / "photos/benchmark")}
    tables = {name: torch.stack([frame_row(model, read_rgb(p), short_side) for p in photos])
              for name, photos in groups.items()}  # fmt: skip
    for clip in sorted((DATA / "clips").glob("*.mp4")):
        tables[f"clip {clip.stem}"] = torch.stack([frame_row(model, rgb, short_side) for rgb in clip_frames(clip)])
    return tables


def examples(table: torch.Tensor) -> GateExamples:
    return GateExamples(table[:, :-4].float(), *table[:, -4:].unbind(dim=1))


def score(name: str, table: torch.Tensor, factor: torch.Tensor) -> float:
    """dB over grey: photos' mean a*b* score (train-gate's), or a clip's error ratio."""
    rows = examples(table)
    if not name.startswith("clip"):
        return float(rows.loss(torch.zeros_like(factor)) - rows.loss(factor)) * 10 / math.log(10)
    return float(10 * torch.log10(rows.mean_squared_error(torch.zeros_like(factor)).mean()
                                  / rows.mean_squared_error(factor).mean()))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast", choices=("fast", "quality"))
    parser.add_argument("--count", type=int, default=3000, help="training photos of each folder (train-gate's)")
    parser.add_argument("--size", type=int, default=256, help="working size, short side")
    parser.add_argument("--cache", type=Path, help="keep the rows here (the network's pass is the slow part)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        tables = torch.load(args.cache, weights_only=True)
    else:
        tables = gather(load_model(PRESETS[args.model].weights).eval(), args.count, args.size)
        if args.cache:
            torch.save(tables, args.cache)
    results = {}
    for set_name, columns in SETS.items():
        weight, bias = fit_logistic(tables["train"][:, columns].float(), examples(tables["train"]))
        factors = {name: torch.sigmoid(table[:, columns] @ weight + bias) for name, table in tables.items()}
        results[set_name] = {"statistics": [STATISTICS[c] for c in columns],
                             **{name: round(score(name, tables[name], f), 2) for name, f in factors.items()},
                             "mean factor, traffic_overhead": round(float(factors["clip traffic_overhead"].mean()), 3)}
    results["no gate"] = {name: round(score(name, table, torch.ones(len(table), dtype=torch.float64)), 2)
                          for name, table in tables.items()}  # fmt: skip
    for set_name, row in results.items():
        print(f"{set_name:34s} " + " ".join(f"{k.removeprefix('clip ')[:10]} {v:+.2f}" for k, v in row.items()
                                             if isinstance(v, float) and not k.startswith("mean")))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "photos_per_folder": args.count, "results": results},
                                        indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
