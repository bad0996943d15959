"""Command line: collects arguments, calls the public API, turns failures into one-line messages."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .backends import BACKEND_NAMES, available_backends
from .color import SATURATION_MAX
from .colorizer import Colorizer
from .compare import COMPARE_MODES
from .errors import InputError, VidcolorError, first_line
from .images import colorize_image_file, colorize_image_folder, is_image_path
from .models import SIZE_MULTIPLE
from .models.presets import MODEL_NAMES, PRECISIONS, PRESETS, RENDERS, SENSORS
from .models.tflite_import import DEFAULT_TFLITE
from .safe_output import check_output, check_video_suffix
from .temporal import DEFAULT_SMOOTH

log = logging.getLogger("vidcolor")

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


class _Parser(argparse.ArgumentParser):
    """argparse that names the option a mistyped one was probably meant to be (Python 3.14's suggest_on_error
    does this for choices only, and only there)."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: None = None) -> argparse.Namespace:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self._given, namespace)

    def error(self, message: str) -> NoReturn:
        super().error(message + _did_you_mean(getattr(self, "_given", []), list(self._option_string_actions)))


def _did_you_mean(tokens: Sequence[str], options: Sequence[str]) -> str:
    """' (did you mean --output?)' for the first ``--word`` that is no option nor the start of one."""
    for token in tokens:
        name = token.split("=", 1)[0]
        if name.startswith("--") and not any(option.startswith(name) for option in options):
            close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


def _model_size(text: str) -> int:
    value = int(text)
    if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"must be a positive multiple of {SIZE_MULTIPLE}, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _strength(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _saturation(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= SATURATION_MAX:
        raise argparse.ArgumentTypeError(f"must be between 0 (grey) and {SATURATION_MAX:g}, got {text}")
    return value


def _add_look_options(parser: argparse.ArgumentParser) -> None:
    """How the colour is written: its strength and the comparison with the input."""
    parser.add_argument("--saturation", type=_saturation, default=1.0,
                        help="scale the colour: 0 grey, 1 as predicted (default), 1.3 more vivid")
    parser.add_argument("--compare", choices=COMPARE_MODES, default="off",
                        help="side: the input's grey left of the colour (twice the width); split: grey left half, "
                             "colour right half (default: off)")  # fmt: skip


def _add_colorize_options(parser: argparse.ArgumentParser) -> None:
    """What single-file mode and batch mode share: the model, smoothing, encoder and colour settings."""
    _add_model_options(parser)
    parser.add_argument("--batch", type=_positive_int, default=1, help="frames per model call (default: 1)")
    _add_smooth_option(parser)
    _add_encoder_options(parser)
    _add_look_options(parser)


def _crf(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"must be between 0 and 51, got {value}")
    return value


def _add_encoder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--crf", type=_crf, default=18, help="x264 constant rate factor, 0-51 (default: 18)")
    parser.add_argument("--preset", choices=X264_PRESETS, default="fast", help="x264 preset (default: fast)")


def _add_model_options(parser: argparse.ArgumentParser, *, backend: bool = True) -> None:
    parser.add_argument("--model", choices=MODEL_NAMES, default="auto",
                        help="shipped model: fast (the CPU default), quality (the GPU default); auto picks by backend")
    parser.add_argument("--weights", type=Path, help="a colorizer checkpoint instead of a shipped model")
    parser.add_argument("--sensor", choices=SENSORS, default="visible",
                        help="the camera: visible light (default), thermal (white-hot), thermal-blackhot, or nir (an "
                             "infrared-lit CCTV camera at night): night vision runs a model of its own")  # fmt: skip
    parser.add_argument("--render", choices=RENDERS, default="auto",
                        help="night vision: sensor keeps the camera's brightness and adds colour; daylight shows "
                             "the lightness the scene would have by day (auto: the sensor's default, README)")
    parser.add_argument("--size", type=_model_size, help="model working size, short side (default: the model's)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="int8: the shipped model quantized, on onnxruntime (1.6x as fast on a CPU); auto: int8 "
                             "where onnxruntime runs a shipped model, else fp32")
    if backend:
        parser.add_argument("--backend", choices=BACKEND_NAMES, default="auto", help="inference backend")


def _colorizer(args: argparse.Namespace, backend: str | None = None) -> Colorizer:
    """The colorizer the model options ask for (``backend`` where the command names it per case)."""
    return Colorizer(backend=backend or args.backend, size=args.size, weights=args.weights, model=args.model,
                     precision=args.precision, sensor=args.sensor, render=args.render)  # fmt: skip


def _add_smooth_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smooth", type=_strength, default=DEFAULT_SMOOTH,
                        help=f"temporal smoothing 0..1, 0 = per frame (default: {DEFAULT_SMOOTH})")  # fmt: skip


def _add_message_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notices, errors only")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vidcolor",
        description="Colorize a grayscale video (or an image, or a folder of images).",
        epilog="other commands: vidcolor batch, live, serve, train, quantize, eval, eval-video, bench "
               "(each with --help)",
    )
    parser.add_argument("input", type=Path, help="video file, image file, or folder of images")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output video, image, or folder")
    parser.add_argument("-y", "--overwrite", action="store_true", help="overwrite an existing output")
    parser.add_argument("--restart", action="store_true",
                        help="start afresh where a killed run left a partial output (default: resume it)")
    _add_colorize_options(parser)
    parser.add_argument("--overlay-fps", action="store_true",
                        help="draw the processing rate on every frame (and label --compare's halves)")
    _add_message_flags(parser)
    parser.add_argument("--version", action="version", version=f"vidcolor {__version__}")
    return parser


def _colorize(args: argparse.Namespace) -> int:
    from .pipeline import colorize_file  # the video stack (PyAV) loads only for commands that decode video

    source: Path = args.input
    if not source.exists():
        raise InputError(f"input not found: {source}")
    is_video = not source.is_dir() and not is_image_path(source)
    if is_video:
        check_video_suffix(args.output)  # before the model loads
    if not source.is_dir():
        check_output(source, args.output, overwrite=args.overwrite)  # so is a refusal of the output
    colorizer = _colorizer(args)
    look = {"saturation": args.saturation, "compare": args.compare}
    if source.is_dir():
        done = colorize_image_folder(colorizer, source, args.output, overwrite=args.overwrite, progress=not args.quiet,
                                     labels=args.overlay_fps, **look)  # fmt: skip
        if done.failed:  # each bad image is named above; the run ends on one error line, exit 1
            raise InputError(done.summary())
        log.info("%s", done.summary())
        return 0
    if is_image_path(source):
        colorize_image_file(colorizer, source, args.output, overwrite=args.overwrite, labels=args.overlay_fps, **look)
        log.info("wrote %s", args.output)
        return 0
    result = colorize_file(
        source, args.output, colorizer=colorizer, overwrite=args.overwrite,
        crf=args.crf, preset=args.preset, batch=args.batch, smooth=args.smooth, progress=not args.quiet,
        overlay_fps=args.overlay_fps, restart=args.restart, **look,
    )  # fmt: skip
    if result.interrupted:
        log.warning("interrupted: %s holds the first %d frames and plays", result.output, result.frames)
        return EXIT_INTERRUPTED
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", result.output, result.frames, result.seconds, result.fps)
    return 0


def build_train_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vidcolor train", description="Train the colorizer on a folder of colour images."
    )
    parser.add_argument("data", type=Path, help="folder of colour images, searched recursively")
    parser.add_argument("--out", type=Path, required=True, help="weights to write (fp16); training state goes beside")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=_positive_int, help="optimizer steps to run")
    budget.add_argument("--minutes", type=float, help="wall-clock minutes to train")
    parser.add_argument("--crop", type=_model_size, default=128, help="training crop side (default: 128)")
    parser.add_argument("--batch", type=_positive_int, default=16, help="crops per step (default: 16)")
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
    parser.add_argument("--source-cap", type=_positive_int, metavar="N",
                        help="at most N photos of one collection (file name up to its last '_') an epoch")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    parser.add_argument("--rebalance", type=float, default=0.9, metavar="MIX",
                        help="class-rebalancing mix with the uniform prior, 0 disables it (default: 0.9)")
    parser.add_argument("--workers", type=int, default=1, help="data loading processes (default: 1)")
    parser.add_argument("--threads", type=_positive_int, help="CPU threads for the network (default: all cores)")
    parser.add_argument("--sensor", choices=("visible", "thermal", "nir"), default="visible",
                        help="thermal, nir: DATA holds *_ir frames beside their aligned *_rgb colour frames "
                             "(default: visible, colour photos)")  # fmt: skip
    parser.add_argument("--daylight", action="store_true",
                        help="with --sensor: learn the colour frames' lightness too, for --render daylight")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the state file beside --out")
    _add_message_flags(parser)
    return parser


def _train(args: argparse.Namespace) -> int:
    from .train.loop import TrainConfig, train

    config = TrainConfig(
        data=str(args.data), out=str(args.out), steps=args.steps, minutes=args.minutes, crop=args.crop,
        model=args.model, ab_bins=args.bins, encoder=str(args.encoder), finetune_from=args.finetune_from,
        batch=args.batch, lr=args.lr, rebalance_mix=args.rebalance or None, workers=args.workers,
        threads=args.threads, seed=args.seed, init_from=args.init_from and str(args.init_from),
        source_cap=args.source_cap, sensor=args.sensor, daylight=args.daylight,
    )  # fmt: skip
    command = shlex.join(["vidcolor", "train", *sys.argv[2:]]) if sys.argv[1:2] == ["train"] else None
    summary = train(config, resume=args.resume, progress_bar=not args.quiet, command=command)
    log.info("wrote %s after %d steps (%.1f min)", args.out, summary["steps"], summary["train_minutes"])
    return 0


def build_quantize_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vidcolor quantize",
                     description="Make the int8 version of a shipped model for --precision int8 (onnxruntime).")
    parser.add_argument("photos", type=Path, help="folder of colour photos to calibrate on (training photos)")
    parser.add_argument("--model", choices=tuple(PRESETS), default="fast", help="the preset (default: fast)")
    parser.add_argument("--out", type=Path, help="int8 ONNX to write (default: the one --precision int8 loads)")
    parser.add_argument("--count", type=_positive_int, default=200, help="calibration photos (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="picks the calibration photos (default: 0)")
    _add_message_flags(parser)
    return parser


def _quantize(args: argparse.Namespace) -> int:
    import onnxruntime

    from .models.checkpoint import load_model
    from .train.quantize import FLOAT_CONVS, quantize_int8

    preset = PRESETS[args.model]
    out = args.out or preset.int8
    picked = quantize_int8(load_model(preset.weights), args.photos, out, count=args.count, short_side=preset.size,
                           seed=args.seed)  # fmt: skip
    card = {
        "model": preset.name, "from": preset.weights.name,
        "format": f"ONNX, QDQ: int8 weights per output channel, uint8 activations, MinMax calibration; the first "
                  f"{FLOAT_CONVS} convolutions and a bins head's annealed mean in float",
        "command": shlex.join(["vidcolor", "quantize", *sys.argv[2:]]) if sys.argv[1:2] == ["quantize"] else None,
        "calibration": {"folder": str(args.photos), "photos": len(picked), "seed": args.seed},
        "onnxruntime": onnxruntime.__version__,
    }  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    log.info("wrote %s (%.1f MiB), calibrated on %d photos", out, out.stat().st_size / 2**20, len(picked))
    return 0


def build_eval_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vidcolor eval", description="Score the colorizer on held-out photos.")
    parser.add_argument("photos", type=Path, help="folder of colour photos")
    _add_model_options(parser)
    parser.add_argument("--limit", type=_positive_int, help="score only the first N photos")
    parser.add_argument("--sheet", type=Path,
                        help="write a contact sheet (grey | vidcolor | truth, captioned with their scores) PNG here")
    parser.add_argument("--json", type=Path, help="write the scores, the means and every photo's, as JSON here")
    parser.add_argument("--card", type=Path,
                        help="also record the mean scores in this weights card, under 'evaluation' and the folder name")
    _add_message_flags(parser)
    return parser


def _eval(args: argparse.Namespace) -> int:
    from .train.evaluate import evaluate

    colorizer = _colorizer(args)
    scores = evaluate(colorizer, args.photos, limit=args.limit, sheet=args.sheet, progress=not args.quiet)
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
    from .train.chroma_errors import legend
    from .train.evaluate import BELOW_GREY_DB

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
    return "\n".join([*lines, *legend()])


def _name_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return names

    return parse


def _int_list(text: str) -> list[int]:
    return [_positive_int(n) for n in text.split(",")]


def build_bench_parser() -> argparse.ArgumentParser:
    from .bench import RESOLUTIONS

    parser = _Parser(
        prog="vidcolor bench",
        description="Frames per second of each stage and of the whole pipeline, per backend, size and batch.",
    )
    parser.add_argument("--clip", type=Path,
                        help="clip to scale to each size (default: a synthetic 1080p clip; real footage is better)")
    parser.add_argument("--backends", type=_name_list(BACKEND_NAMES[1:]),
                        help="comma-separated (default: every one this machine has)")  # fmt: skip
    parser.add_argument("--sizes", type=_name_list(tuple(RESOLUTIONS)), default=["480p"],
                        help=f"of {','.join(RESOLUTIONS)} (default: 480p)")  # fmt: skip
    parser.add_argument("--batches", type=_int_list, default=[1], help="frames per model call (default: 1)")
    parser.add_argument("--frames", type=_positive_int, default=120, help="frames of the clip to use (default: 120)")
    _add_model_options(parser, backend=False)
    parser.add_argument("--model-only", action="store_true", help="time inference alone at the working size")
    _add_encoder_options(parser)
    parser.add_argument("--out", type=Path, default=Path("vidcolor-bench"),
                        help="report folder (default: vidcolor-bench in the current folder)")
    parser.add_argument("--name", default=None, help="report file stem (default: bench-<machine>)")
    _add_message_flags(parser)
    return parser


def _bench(args: argparse.Namespace) -> int:
    from .bench import (
        FULL_BATCHES,
        RESOLUTIONS,
        default_report_stem,
        fuller_run_minutes,
        markdown_table,
        model_only_fps,
        run_bench,
        write_report,
    )
    from .colorizer import working_size

    names = args.backends or available_backends()
    colorizers = {
        name: _colorizer(args, backend=name) for name in names
    }
    model_only: dict[str, float] = {}
    rows = []
    if args.model_only:
        shape = working_size(1080, 1920, next(iter(colorizers.values())).size)
        for name, colorizer in colorizers.items():
            for batch in args.batches:
                case = f"{name} {colorizer.model_name} batch {batch} {shape[0]}x{shape[1]}"
                model_only[case] = model_only_fps(colorizer, batch, shape)
    else:
        if args.clip is None:
            log.info("no --clip: timing a synthetic 1080p clip (real footage gives truer encode figures)")
        elif not args.clip.is_file():
            raise InputError(f"clip not found: {args.clip}")
        started = time.perf_counter()
        rows = run_bench(
            colorizers, args.clip, resolutions=args.sizes, batches=args.batches, frames=args.frames,
            crf=args.crf, preset=args.preset, progress=lambda case: log.info("measuring %s", case),
        )  # fmt: skip
        print(markdown_table(rows))
        fuller = fuller_run_minutes(time.perf_counter() - started, args.sizes, args.batches)
        if fuller is not None:
            log.info("a fuller run (--sizes %s --batches %s) would take about %.0f min here", ",".join(RESOLUTIONS),
                     ",".join(map(str, FULL_BATCHES)), fuller)  # fmt: skip
    for case, value in model_only.items():
        print(f"model only, {case}: {value:.1f} frames/s")
    stem = args.name or default_report_stem(args.model_only)
    paths = write_report(rows, model_only, args.out, stem, clip=args.clip)
    log.info("wrote the report to %s: %s", args.out, ", ".join(p.name for p in paths))
    return 0


def _float_list(text: str) -> list[float]:
    return [_strength(n) for n in text.split(",")]


def build_eval_video_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vidcolor eval-video", description="Flicker (CDC, warping error) and PSNR: per frame, and "
                     "smoothed as live does (causal) and as file mode does (looking ahead).")  # fmt: skip
    parser.add_argument("clips", type=Path, help="folder of colour clips (*.mp4, not searched recursively), or of "
                        "night-vision *_ir.mp4 clips beside their frame-synced *_rgb.mp4")
    parser.add_argument("--smooth", type=_float_list, default=[0.5, 0.7, 0.9], help="strengths to try")
    parser.add_argument("--frames", type=_positive_int, default=90, help="frames per clip (default: 90)")
    _add_model_options(parser)
    parser.add_argument("--strips", type=Path, help="folder for per-frame | smoothed | truth strips (JPEG)")
    parser.add_argument("--json", type=Path, help="write per-clip and mean scores here")
    _add_message_flags(parser)
    return parser


def _eval_video(args: argparse.Namespace) -> int:
    from .temporal_eval import clip_paths, evaluate_clip, format_clips, format_summary, run_name, strip, summarise

    clips = clip_paths(args.clips)
    if not clips:
        raise InputError(f"no .mp4 clips in {args.clips}")
    colorizer = _colorizer(args)
    strongest = max(args.smooth)  # its cuts are logged, its frames drawn
    shown = [run_name("live", strongest), run_name("file", strongest)]
    results = []
    for clip in clips:
        log.info("evaluating %s", clip.name)
        result = evaluate_clip(colorizer, clip, args.smooth, args.frames)
        resets = result["cuts"][shown[-1]]
        log.info("%s: smoother reset at frames %s", clip.name, ", ".join(map(str, resets)) or "none")
        if args.strips:
            args.strips.mkdir(parents=True, exist_ok=True)
            strip(result, ["per-frame", *shown, "truth"], args.strips / f"{clip.stem}.jpg")
        results.append(result)
    summary = summarise(results)
    print(format_clips(results))
    print(format_summary(summary, len(results)))
    if args.json:
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        args.json.write_text(json.dumps({"mean": summary, "clips": public}, indent=2) + "\n")
    return 0


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def build_live_parser() -> argparse.ArgumentParser:
    from .capture import RTSP_TRANSPORTS

    parser = _Parser(
        prog="vidcolor live",
        description="Colorize a camera or stream live, in a window with an FPS overlay. "
        "Keys: q/Esc quit, space pause, c side-by-side, t smoothing on/off, +/- saturation, s snapshot.",
    )
    parser.add_argument("source", help="camera index (0), /dev/videoN, rtsp:// rtmp:// udp:// http(s):// srt:// URL, "
                        "or a video file (a stand-in camera at its own frame rate)")  # fmt: skip
    _add_model_options(parser)
    _add_smooth_option(parser)
    parser.add_argument("--saturation", type=_saturation, default=1.0,
                        help="colour strength to start at (the +/- keys change it): 0 grey, 1 as predicted")
    parser.add_argument("--equalize", action="store_true", help="CLAHE on dark, low-contrast (IR) feeds first")
    parser.add_argument("--no-window", action="store_true", help="headless: print the stats once a second")
    parser.add_argument("--frames", type=_positive_int, help="stop after this many processed frames")
    parser.add_argument("--loop", action="store_true", help="a file source starts again at its end")
    parser.add_argument("--rtsp-transport", choices=RTSP_TRANSPORTS, default="tcp", help="default: tcp")
    parser.add_argument("--timeout", type=_positive_float, default=10.0,
                        help="seconds to wait for a stream to open or send (default: 10)")  # fmt: skip
    parser.add_argument("--record", type=Path, help="also write the colorized feed to this video file")
    parser.add_argument("--record-overlay", action="store_true", help="with --record: keep the stats overlay")
    parser.add_argument("-y", "--overwrite", action="store_true", help="overwrite an existing --record file")
    parser.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where s saves PNGs (default: .)")
    _add_message_flags(parser)
    return parser


def _display_available() -> bool:
    """False on a Linux box with no X11 or Wayland display, where opening a window aborts the process (Qt)."""
    if not sys.platform.startswith("linux"):
        return True  # macOS and Windows always have a window server for a desktop session
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _live(args: argparse.Namespace) -> int:
    from .capture import Capture, reader_factory
    from .live import LiveOptions, run_live

    if args.record_overlay and args.record is None:
        raise InputError("--record-overlay needs --record FILE")
    if args.record is not None:
        check_video_suffix(args.record)  # before a stream is waited for
    if not args.no_window and not _display_available():
        raise InputError("no display to open the window on (DISPLAY is not set); add --no-window to print the "
                         "stats instead, and --record FILE to keep the video")  # fmt: skip
    open_reader = reader_factory(args.source, timeout=args.timeout, rtsp_transport=args.rtsp_transport,
                                 loop=args.loop)  # fmt: skip
    capture = Capture(open_reader, name=args.source)  # before the model loads: a dead source fails fast
    try:
        colorizer = _colorizer(args)
    except BaseException:
        capture.stop()
        raise
    options = LiveOptions(smooth=args.smooth, saturation=args.saturation, equalize=args.equalize,
                          window=not args.no_window, frames=args.frames, record=args.record,
                          record_overlay=args.record_overlay, overwrite=args.overwrite, snapshot_dir=args.snapshot_dir,
                          stats_every=float("inf") if args.quiet else LiveOptions.stats_every)  # fmt: skip
    result = run_live(capture, colorizer, options)
    log.info("%s", result.summary())
    return EXIT_INTERRUPTED if result.interrupted else 0  # as file mode: a script can tell Ctrl-C from the end


def _ray_address(text: str) -> str:
    """A cluster address, not a source folder caught by the optional value (`--ray SRC`)."""
    if text not in ("", "auto") and not text.startswith("ray://") and (":" not in text or Path(text).exists()):
        raise argparse.ArgumentTypeError(f"{text!r} is no cluster address (host:port, ray://host:port or auto); "
                                         "put the sources before --ray")  # fmt: skip
    return text


def _suffix(text: str) -> str:
    return "." + text.lower().lstrip(".")


def build_batch_parser() -> argparse.ArgumentParser:
    from .batch import DEFAULT_CPUS_PER_WORKER, DEFAULT_RETRIES

    parser = _Parser(prog="vidcolor batch", description="Colorize every video and image under the sources into "
                     "a mirrored tree, on local worker processes or a Ray cluster. Running it again finishes "
                     "what is missing.")  # fmt: skip
    parser.add_argument("sources", type=Path, nargs="+", metavar="SRC", help="folders (searched recursively) or files")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("-y", "--overwrite", action="store_true", help="redo outputs that exist")
    parser.add_argument("--workers", type=_positive_int, default=1, help="local worker processes (default: 1)")
    parser.add_argument("--ray", nargs="?", const="", type=_ray_address, metavar="ADDRESS",
                        help="run on Ray (vidcolor[ray]): the cluster at ADDRESS, else RAY_ADDRESS, else a new one")
    parser.add_argument("--cpus-per-worker", type=_positive_int, default=DEFAULT_CPUS_PER_WORKER,
                        help=f"with --ray and no GPU: one worker per this many CPUs (default: "
                             f"{DEFAULT_CPUS_PER_WORKER})")  # fmt: skip
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, choices=range(0, 100), metavar="N",
                        help=f"tries after a file's first failure, over all runs (default: {DEFAULT_RETRIES})")
    parser.add_argument("--video-format", type=_suffix, default=".mp4", help="suffix of the output videos (mp4)")
    parser.add_argument("--image-format", type=_suffix, help="suffix of the output images (default: the input's)")
    parser.add_argument("--split-minutes", type=_positive_float, metavar="M",
                        help="cut a video longer than M minutes at keyframes into segments of about M minutes that "
                             "the workers colorize at once, then join them")  # fmt: skip
    _add_colorize_options(parser)
    _add_message_flags(parser)
    return parser


def _batch(args: argparse.Namespace) -> int:
    from . import batch

    options = batch.ColorOptions(model=args.model, weights=args.weights, size=args.size, precision=args.precision,
                                 sensor=args.sensor, render=args.render,
                                 backend=args.backend, batch=args.batch, smooth=args.smooth, crf=args.crf,
                                 preset=args.preset, saturation=args.saturation, compare=args.compare)  # fmt: skip
    result = batch.run(
        args.sources, args.output, options=options, engine="local" if args.ray is None else "ray",
        workers=args.workers, ray_address=args.ray or None, cpus_per_worker=args.cpus_per_worker,
        retries=args.retries, overwrite=args.overwrite, video_suffix=args.video_format,
        image_suffix=args.image_format, split_minutes=args.split_minutes, progress=not args.quiet,
    )  # fmt: skip
    if not args.quiet:
        print(batch.summary_table(result))
    if result.failed:
        for line in batch.failure_lines(result):
            log.warning("%s", line)
        raise InputError(f"{len(result.failed)} of {len(result.failed) + len(result.done) + len(result.skipped)} "
                         f"files failed (named above); {args.output / batch.MANIFEST_NAME} has every attempt")
    return 0


def build_serve_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vidcolor serve", description="Colorize over HTTP: a JSON API (OpenAPI page at /docs).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this "
                        "machine only)")
    parser.add_argument("--port", type=_positive_int, default=8000, help="default: 8000")
    parser.add_argument("--out", type=Path, default=Path("vidcolor-serve"),
                        help="folder for results and uploads in progress (default: ./vidcolor-serve)")
    parser.add_argument("--token", default=os.environ.get("VIDCOLOR_TOKEN"),
                        help="demand 'Authorization: Bearer TOKEN' on every route (default: $VIDCOLOR_TOKEN)")
    parser.add_argument("--max-upload", type=_positive_int, metavar="BYTES", default=4 << 30,
                        help="largest upload accepted (default: 4 GiB)")
    parser.add_argument("--source", action="append", type=_named_source, default=[], metavar="NAME=URL",
                        help="a live source for the Live page, as vidcolor live takes it (camera index, /dev/videoN, "
                             "rtsp://, udp://, a video file, looped); repeat for more")
    parser.add_argument("--smooth", type=_strength, default=DEFAULT_SMOOTH,
                        help=f"live sources' temporal smoothing 0..1 (default: {DEFAULT_SMOOTH})")
    _add_model_options(parser)
    _add_message_flags(parser)
    return parser


def _named_source(text: str) -> tuple[str, str]:
    name, _, location = text.partition("=")
    if not name or not location or not name.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected NAME=URL, NAME of letters, digits, - and _; got {text!r}")
    return name, location


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .serve import create_app
    except ImportError as exc:
        raise InputError(f"vidcolor serve needs its extra: pip install 'vidcolor[serve]' ({exc.name} is missing)"
                         ) from exc  # fmt: skip
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: other machines can reach it%s", args.host,
                    "" if args.token else " (and no --token guards it)")  # fmt: skip
    names = [name for name, _ in args.source]
    if len(set(names)) != len(names):
        raise InputError(f"--source names must differ: {', '.join(names)}")
    def load(model: str, sensor: str) -> Colorizer:  # another shipped model or sensor, as a request asks
        return _colorizer(argparse.Namespace(**{**vars(args), "model": model, "sensor": sensor, "render": "auto"}))

    app = create_app(_colorizer(args), args.out, load=None if args.weights else load, token=args.token,
                     max_upload=args.max_upload, sources=dict(args.source), smooth=args.smooth)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


COMMANDS = {
    "batch": (build_batch_parser, _batch),
    "train": (build_train_parser, _train),
    "eval": (build_eval_parser, _eval),
    "quantize": (build_quantize_parser, _quantize),
    "eval-video": (build_eval_video_parser, _eval_video),
    "bench": (build_bench_parser, _bench),
    "live": (build_live_parser, _live),
    "serve": (build_serve_parser, _serve),
}


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _refuse_mistyped_command(argv: Sequence[str]) -> None:
    """``vidcolor bnech`` would be read as an input file named bnech: say which command was meant instead."""
    if not argv or argv[0] in COMMANDS or Path(argv[0]).exists() or Path(argv[0]).suffix:
        return
    close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1, cutoff=0.6)
    if close:
        build_parser().error(f"no command or file named {argv[0]!r}; did you mean 'vidcolor {close[0]}'?")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # `vidcolor` alone: what it does and its commands, not a complaint about a missing input
        build_parser().print_help()
        return 0
    _refuse_mistyped_command(argv)
    if argv and argv[0] in COMMANDS:
        build, run = COMMANDS[argv[0]]
        args = build().parse_args(argv[1:])
    else:
        build, run = build_parser, _colorize
        args = build().parse_args(argv)
    logging.basicConfig(format="vidcolor: %(message)s", level=logging.WARNING if args.quiet else logging.INFO)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # `kill` finishes the file like Ctrl-C
    try:
        return run(args)
    except VidcolorError as exc:
        log.error("error: %s", first_line(exc))
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # anything unforeseen still ends in one line, unless asked for the traceback
        if args.debug:
            raise
        log.error("error: %s: %s (run with --debug for the traceback)", type(exc).__name__, first_line(exc))
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
