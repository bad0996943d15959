"""`vidcolor bench` (speed of each stage) and `vidcolor eval-video` (flicker of the smoothers)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..backends import BACKEND_NAMES, available_backends
from ..errors import InputError
from .options import (
    Parser,
    add_encoder_options,
    add_message_flags,
    add_model_options,
    colorizer_from,
    float_list,
    log,
    positive_int,
)


def _name_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return names

    return parse


def _int_list(text: str) -> list[int]:
    return [positive_int(n) for n in text.split(",")]


def build_bench_parser() -> argparse.ArgumentParser:
    from ..bench import RESOLUTIONS

    parser = Parser(
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
    parser.add_argument("--frames", type=positive_int, default=120, help="frames of the clip to use (default: 120)")
    add_model_options(parser, backend=False)
    parser.add_argument("--model-only", action="store_true", help="time inference alone at the working size")
    add_encoder_options(parser)
    parser.add_argument("--out", type=Path, default=Path("vidcolor-bench"),
                        help="report folder (default: vidcolor-bench in the current folder)")
    parser.add_argument("--name", default=None, help="report file stem (default: bench-<machine>)")
    add_message_flags(parser)
    return parser


def run_bench(args: argparse.Namespace) -> int:
    from ..bench import (
        FULL_BATCHES,
        RESOLUTIONS,
        default_report_stem,
        fuller_run_minutes,
        markdown_table,
        model_only_fps,
        run_bench,
        write_report,
    )
    from ..colorizer import working_size

    names = args.backends or available_backends()
    colorizers = {
        name: colorizer_from(args, backend=name) for name in names
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
        for row in rows:
            print(f"\ninside the pipeline, {row.backend} {row.resolution} batch {row.batch}:\n{row.pipeline_profile}")
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




def build_eval_video_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vidcolor eval-video", description="Flicker (CDC, warping error) and PSNR: per frame, and "
                     "smoothed as live does (causal) and as file mode does (looking ahead).")  # fmt: skip
    parser.add_argument("clips", type=Path, help="folder of colour clips (*.mp4, not searched recursively), or of "
                        "night-vision *_ir.mp4 clips beside their frame-synced *_rgb.mp4; or one such clip")
    parser.add_argument("--smooth", type=float_list, default=[0.5, 0.7, 0.9], help="strengths to try")
    parser.add_argument("--frames", type=positive_int, default=90, help="frames per clip (default: 90)")
    add_model_options(parser)
    parser.add_argument("--reference", choices=("first",),
                        help="first: each clip's own first frame in colour is its reference picture")
    parser.add_argument("--strips", type=Path, help="folder for per-frame | smoothed | truth strips (JPEG)")
    parser.add_argument("--json", type=Path, help="write per-clip and mean scores here")
    add_message_flags(parser)
    return parser


def run_eval_video(args: argparse.Namespace) -> int:
    from ..temporal_eval import (
        clip_paths,
        evaluate_clip,
        format_against_grey,
        format_clips,
        format_hot_contrast,
        format_memory,
        format_summary,
        run_name,
        strip,
        summarise,
    )

    clips = clip_paths(args.clips)
    if not clips:
        raise InputError(f"no .mp4 clips in {args.clips}")
    colorizer = colorizer_from(args)
    strongest = max(args.smooth)  # its cuts are logged, its frames drawn
    shown = [run_name("live", strongest), run_name("file", strongest)]
    results = []
    for clip in clips:
        log.info("evaluating %s", clip.name)
        result = evaluate_clip(colorizer, clip, args.smooth, args.frames, reference=args.reference)
        resets = result["cuts"][shown[-1]]
        log.info("%s: smoother reset at frames %s", clip.name, ", ".join(map(str, resets)) or "none")
        if args.strips:
            args.strips.mkdir(parents=True, exist_ok=True)
            strip(result, ["per-frame", *shown, "truth"], args.strips / f"{clip.stem}.jpg")
        results.append(result)
    summary = summarise(results)
    print(format_clips(results))
    print(format_memory(results))
    print(format_against_grey(results))
    print(format_summary(summary, len(results)))
    if (hot := format_hot_contrast(results)) is not None:  # night sensors
        print(hot)
    if args.json:
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        args.json.write_text(json.dumps({"mean": summary, "clips": public}, indent=2) + "\n")
    return 0
