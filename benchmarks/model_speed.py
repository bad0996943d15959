r"""Model-only CPU speed of several colorizers, timed side by side in one run (interleaved rounds).

CPUs differ 2-3x between machines (AVX-512 vs AVX2 alone), so only figures from one run compare; the CPU's
model name and vector flags are recorded with them. A model is a preset name or LABEL=CHECKPOINT:

    git show 713031d:vidcolor/weights/colorizer.pt > /tmp/previous.pt
    python benchmarks/model_speed.py previous=/tmp/previous.pt fast quality \
        --json benchmarks/results/model_speed_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from vidcolor.backends.pytorch import cpu_inference_model
from vidcolor.bench import cpu_name, cpu_vector_flags
from vidcolor.models.checkpoint import load_model
from vidcolor.models.presets import PRESETS


def time_models(models: dict[str, torch.nn.Module], shape: tuple[int, ...], rounds: int, runs: int) -> dict[str, float]:
    """Best-of-``rounds`` milliseconds per call; each round times every model in turn, so drift hits all alike."""
    x = (torch.rand(shape) * 100).contiguous(memory_format=torch.channels_last)  # as the CPU backend feeds it
    best = dict.fromkeys(models, float("inf"))
    with torch.inference_mode():
        for model in models.values():
            model(x)  # warm-up: oneDNN builds its kernels
        for _ in range(rounds):
            for name, model in models.items():
                started = time.perf_counter()
                for _ in range(runs):
                    model(x)
                best[name] = min(best[name], (time.perf_counter() - started) / runs * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME (a preset) or LABEL=CHECKPOINT")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--threads", default=f"1,{max(1, (os.cpu_count() or 1) - 1)}", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10, help="calls per model per round")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    models = {}
    for spec in args.models:
        label, _, path = spec.partition("=")
        models[label] = cpu_inference_model(load_model(path or PRESETS[label].weights))
    shape = (1, 1, args.height, args.width)
    result = {"cpu": cpu_name(), "cpu_flags": cpu_vector_flags(), "cores": os.cpu_count(), "torch": torch.__version__,
              "shape": list(shape), "ms_per_frame": {}}  # fmt: skip
    print(f"{result['cpu']} ({' '.join(result['cpu_flags'])}), torch {torch.__version__}, input {shape}")
    for threads in sorted({int(t) for t in args.threads.split(",")}):
        torch.set_num_threads(threads)
        best = time_models(models, shape, args.rounds, args.runs)
        result["ms_per_frame"][f"{threads} threads"] = {name: round(ms, 2) for name, ms in best.items()}
        print(f"{threads} thread(s): " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in best.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
