"""`vidcolor train`, `quantize` and `eval`: make, shrink and score a model."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..errors import InputError
from ..models.presets import DEFAULT_SIZE, PRESETS
from ..models.tflite_import import DEFAULT_TFLITE
from .options import (
    Parser,
    add_message_flags,
    add_model_options,
    add_reference_option,
    colorizer_from,
    log,
    model_size,
    positive_int,
    reference_from,
)


def build_train_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vidcolor train", description="Train the colorizer on a folder of colour images."
    )
    parser.add_argument("data", type=Path, help="folder of colour images, searched recursively")
    parser.add_argument("--out", type=Path, required=True, help="weights to write (fp16); training state goes beside")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=positive_int, help="optimizer steps to run")
    budget.add_argument("--minutes", type=float, help="wall-clock minutes to train")
    parser.add_argument("--crop", type=model_size, default=128, help="training crop side (default: 128)")
    parser.add_argument("--batch", type=positive_int, default=16, help="crops per step (default: 16)")
    parser.add_argument("--model", choices=tuple(PRESETS), default="fast", help="the preset to train (default: fast)")
    parser.add_argument("--bins", action="store_true",
                        help="classify a*b* into bins (annealed-mean output) instead of regressing it")
    parser.add_argument("--encoder", type=Path, default=DEFAULT_TFLITE,
                        help="the MobileNetV2 ImageNet .tflite file the encoder starts from")
    parser.add_argument("--finetune-from", type=float, metavar="FRACTION",
                        help="from this fraction of the budget on, also train the deepest encoder stage (0.1x rate)")
    parser.add_argument("--init-from", type=Path, metavar="WEIGHTS",
                        help="start from these trained weights of the same preset (a head of another kind starts "
                             "afresh: e.g. --bins from the shipped regression model)")
    parser.add_argument("--source-cap", type=positive_int, metavar="N",
                        help="at most N photos of one collection (file name up to its last '_') an epoch")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    parser.add_argument("--rebalance", type=float, default=0.9, metavar="MIX",
                        help="class-rebalancing mix with the uniform prior, 0 disables it (default: 0.9)")
    parser.add_argument("--workers", type=int, default=1, help="data loading processes (default: 1)")
    parser.add_argument("--threads", type=positive_int, help="CPU threads for the network (default: all cores)")
    parser.add_argument("--sensor", choices=("visible", "thermal", "nir"), default="visible",
                        help="thermal, nir: DATA holds *_ir frames beside their aligned *_rgb colour frames "
                             "(default: visible, colour photos)")  # fmt: skip
    parser.add_argument("--daylight", action="store_true",
                        help="with --sensor: learn the colour frames' lightness too, for --render daylight")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snapshot-minutes", type=float, metavar="M",
                        help="also write the weights every M minutes of training, as OUT.30min.pt (to score them)")
    parser.add_argument("--resume", action="store_true", help="continue from the state file beside --out")
    add_message_flags(parser)
    return parser


def run_train(args: argparse.Namespace) -> int:
    from ..train.loop import TrainConfig, train

    config = TrainConfig(
        data=str(args.data), out=str(args.out), steps=args.steps, minutes=args.minutes, crop=args.crop,
        model=args.model, ab_bins=args.bins, encoder=str(args.encoder), finetune_from=args.finetune_from,
        batch=args.batch, lr=args.lr, rebalance_mix=args.rebalance or None, workers=args.workers,
        threads=args.threads, seed=args.seed, init_from=args.init_from and str(args.init_from),
        source_cap=args.source_cap, sensor=args.sensor, daylight=args.daylight,
        snapshot_minutes=args.snapshot_minutes,
    )  # fmt: skip
    summary = train(config, resume=args.resume, progress_bar=not args.quiet, command=_command_line("train"))
    log.info("wrote %s after %d steps (%.1f min)", args.out, summary["steps"], summary["train_minutes"])
    return 0


def build_train_hints_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vidcolor train-hints",
                    description="Teach a trained model to follow colour hints (its own weights stay as they are).")
    parser.add_argument("data", type=Path, help="folder of colour images, searched recursively")
    parser.add_argument("--out", type=Path, required=True, help="weights to write (fp16); training state goes beside")
    parser.add_argument("--model", choices=tuple(PRESETS), default="fast",
                        help="the shipped model whose network learns hints (default: fast)")
    parser.add_argument("--base", type=Path, help="the trained weights to start from (default: --model's shipped)")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=positive_int, help="optimizer steps to run")
    budget.add_argument("--minutes", type=float, help="wall-clock minutes to train")
    parser.add_argument("--crop", type=model_size, default=192, help="training crop side (default: 192)")
    parser.add_argument("--batch", type=positive_int, default=12, help="crops per step (default: 12)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: 3e-3)")
    parser.add_argument("--neutral-weight", type=float, default=1.0,
                        help="weight of the loss on colour given to what is grey in truth (default: 1)")
    parser.add_argument("--threads", type=positive_int, help="CPU threads for the network (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the state file beside --out")
    add_message_flags(parser)
    return parser


def run_train_hints(args: argparse.Namespace) -> int:
    from ..train.hints import HintTrainConfig, train_hints

    config = HintTrainConfig(
        data=str(args.data), out=str(args.out), base=str(args.base or PRESETS[args.model].weights),
        steps=args.steps, minutes=args.minutes, crop=args.crop, batch=args.batch, lr=args.lr, threads=args.threads,
        seed=args.seed, neutral_weight=args.neutral_weight,
    )  # fmt: skip
    summary = train_hints(config, resume=args.resume, progress_bar=not args.quiet, command=_command_line("train-hints"))
    log.info("wrote %s after %d steps (%.1f min)", args.out, summary["steps"], summary["train_minutes"])
    return 0


def _command_line(command: str) -> str | None:
    """How this run was started, for the weights' card."""
    return shlex.join(["vidcolor", command, *sys.argv[2:]]) if sys.argv[1:2] == [command] else None


def build_train_gate_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vidcolor train-gate",
                    description="Learn a trained bins model's colour gate: how much of each frame's colour to keep "
                                "(its other weights stay as they are).")  # fmt: skip
    parser.add_argument("photos", type=Path, nargs="+",
                        help="folders of colour photos (a night-vision pair folder gives its colour frames)")
    parser.add_argument("--out", type=Path, required=True, help="the checkpoint with the gate, to write")
    parser.add_argument("--model", choices=tuple(PRESETS), default="fast", help="the shipped model (default: fast)")
    parser.add_argument("--weights", type=Path, help="a bins checkpoint instead of --model's shipped weights")
    parser.add_argument("--count", type=positive_int,
                        help="at most this many photos of each folder, a seeded pick (default: all)")
    parser.add_argument("--size", type=model_size, default=DEFAULT_SIZE,
                        help=f"working size the photos are seen at (default: {DEFAULT_SIZE})")
    parser.add_argument("--lift", type=float, default=1.0,
                        help="keep more colour: the PSNR-best factor times this, at most 1 (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="picks the --count photos (default: 0)")
    add_message_flags(parser)
    return parser


def run_train_gate(args: argparse.Namespace) -> int:
    from ..train.colour_gate import train_colour_gate

    if args.lift < 1.0:
        raise InputError(f"--lift must be at least 1, got {args.lift}")
    summary = train_colour_gate(args.weights or PRESETS[args.model].weights, args.photos, args.out, count=args.count,
                                short_side=args.size, lift=args.lift, seed=args.seed, progress=not args.quiet,
                                command=_command_line("train-gate"))  # fmt: skip
    log.info("wrote %s: a*b* %.2f dB as it was, %.2f gated (grey %.2f), mean factor %.2f, on %d photos", args.out,
             summary["colour_db"], summary["gated_db"], summary["grey_db"], summary["mean_factor"], summary["photos"])
    return 0


def build_quantize_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vidcolor quantize",
                     description="Make the int8 version of a shipped model for --precision int8 (onnxruntime).")
    parser.add_argument("photos", type=Path, help="folder of colour photos to calibrate on (training photos)")
    parser.add_argument("--model", choices=tuple(PRESETS), default="fast", help="the preset (default: fast)")
    parser.add_argument("--out", type=Path, help="int8 ONNX to write (default: the one --precision int8 loads)")
    parser.add_argument("--count", type=positive_int, default=200, help="calibration photos (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="picks the calibration photos (default: 0)")
    add_message_flags(parser)
    return parser


def run_quantize(args: argparse.Namespace) -> int:
    import onnxruntime

    from ..models.checkpoint import load_model
    from ..train.quantize import FLOAT_CONVS, quantize_int8

    preset = PRESETS[args.model]
    out = args.out or preset.int8
    picked = quantize_int8(load_model(preset.weights), args.photos, out, count=args.count, short_side=preset.size,
                           seed=args.seed)  # fmt: skip
    card = {
        "model": preset.name, "from": preset.weights.name,
        "format": f"ONNX, QDQ: int8 weights per output channel, uint8 activations, MinMax calibration; the first "
                  f"{FLOAT_CONVS} convolutions and a bins head's last convolution, annealed mean and colour gate in "
                  "float",
        "command": shlex.join(["vidcolor", "quantize", *sys.argv[2:]]) if sys.argv[1:2] == ["quantize"] else None,
        "calibration": {"folder": str(args.photos), "photos": len(picked), "seed": args.seed},
        "onnxruntime": onnxruntime.__version__,
    }  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    log.info("wrote %s (%.1f MiB), calibrated on %d photos", out, out.stat().st_size / 2**20, len(picked))
    return 0


def build_eval_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vidcolor eval", description="Score the colorizer on held-out photos.")
    parser.add_argument("photos", type=Path, help="folder of colour photos")
    add_model_options(parser)
    parser.add_argument("--limit", type=positive_int, help="score only the first N photos")
    parser.add_argument("--sheet", type=Path,
                        help="write a contact sheet (grey | vidcolor | truth, captioned with their scores) PNG here")
    parser.add_argument("--json", type=Path, help="write the scores, the means and every photo's, as JSON here")
    parser.add_argument("--hints", type=positive_int, metavar="N",
                        help="give the model N hints per photo, each the true mean colour of 5x5 pixels at a random "
                             "place (as a person who knows the colours would)")
    parser.add_argument("--hint-seed", type=int, default=0, help="where --hints falls (default: 0)")
    add_reference_option(parser)
    parser.add_argument("--card", type=Path,
                        help="also record the mean scores in this weights card, under 'evaluation' and the folder name")
    add_message_flags(parser)
    return parser


def run_eval(args: argparse.Namespace) -> int:
    from ..train.evaluate import evaluate

    colorizer = colorizer_from(args)
    scores = evaluate(colorizer, args.photos, limit=args.limit, sheet=args.sheet, progress=not args.quiet,
                      hints=args.hints, hint_seed=args.hint_seed, reference=reference_from(args))
    print(format_scores(scores))
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2) + "\n")
    if args.card:
        card = json.loads(args.card.read_text()) if args.card.is_file() else {}
        # one record per photo folder: a model is scored on the holdout and on the benchmark photos
        card.setdefault("evaluation", {})[args.photos.resolve().name] = {
            key: value for key, value in scores.items() if key != "per_photo"}  # fmt: skip
        args.card.write_text(json.dumps(card, indent=2) + "\n")
    return 0


def format_scores(scores: dict) -> str:
    """The table ``vidcolor eval`` prints: mean scores of vidcolor and grey; the chroma errors in percent over the
    photos that count for them ('-': none did), then how many counted."""
    from ..train.chroma_errors import legend
    from ..train.evaluate import BELOW_GREY_DB
    from ..train.hot_contrast import HOT_SHARE

    chroma = {"false_colour_pct": ("false %", 8), "lost_colour_pct": ("lost %", 7), "wrong_hue_pct": ("hue %", 6)}

    def columns(cells: dict[str, str]) -> str:
        return " ".join(f"{cells[key]:>{width}}" for key, (_, width) in chroma.items())

    lines = [f"{scores['photos']} photos from {scores['folder']} at short side {scores['size']}",
             f"{'':14} {'PSNR dB':>8} {'SSIM':>7} {'colourfulness':>14} "
             + columns({key: title for key, (title, _) in chroma.items()})]  # fmt: skip
    for name in ("vidcolor", "grey"):
        row = scores[name]
        percents = {key: "-" if row[key] is None else f"{row[key]:.1f}" for key in chroma}
        lines.append(f"{name:14} {row['psnr']:8.2f} {row['ssim']:7.4f} {row['colourfulness']:14.2f} "
                     + columns(percents))  # fmt: skip
    lines.append(f"{'truth':14} {'':8} {'':7} {scores['truth']['colourfulness']:14.2f}")
    counted = {key: str(n) for key, n in scores["vidcolor"]["counted"].items()}
    lines.append(f"{'photos counted':14} {'':8} {'':7} {'':14} {columns(counted)}")
    lines.append(f"vidcolor is more than {BELOW_GREY_DB:g} dB below grey's PSNR on "
                 f"{scores['vidcolor']['photos_3db_below_grey']} of {scores['photos']} photos")  # fmt: skip
    if "hot_contrast" in scores["vidcolor"]:  # a night sensor's
        truth = scores["truth"]["hot_contrast"]
        lines.append(f"hot-object contrast, output / sensor: vidcolor {scores['vidcolor']['hot_contrast']:.2f}x"
                     + ("" if truth is None else f", truth {truth:.2f}x") + " (grey, the sensor frame: 1)")
        lines.append(f"hot-object contrast: (mean L* over the sensor's hottest {HOT_SHARE:.0%} of pixels - over the "
                     "rest) / the sensor's own")  # fmt: skip
    return "\n".join([*lines, *legend()])
