"""`vidcolor eval-video`: flicker and accuracy of per-frame colour, and of the two smoothers (live's causal one,
file mode's that looks ahead), on real colour clips.

Each clip is colorized from its luma alone at the model's working size. Reported per clip and averaged:
CDC (colour distribution consistency: Jensen-Shannon divergence of a*, b* histograms between frames 1, 2 and 4
apart), warping error (a*b* of frame t against frame t-1 warped by flow computed on the TRUE colour frames,
occluded pixels masked by a forward-backward check), PSNR of the RGB against the truth (with the L* the output
shows: the picture's own, or the daylight rendering's), and the smoother's cost. For a night sensor also the
hot-object contrast (``train/hot_contrast.py``): how visible what is hot stays in the L* shown, against the sensor's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from .color import lab_to_rgb, rgb_to_lab
from .colorizer import Colorizer, Guided
from .errors import InputError
from .guidance.reference import Reference
from .guidance.video import VideoGuide
from .lookahead import LookAheadSmoother
from .motion import pixel_grid
from .sources import FileSource, luma_plane
from .temporal import TemporalSmoother
from .train.data import IR_SUFFIX, RGB_SUFFIX, ir_partner, rgb_partner
from .train.hot_contrast import HOT_SHARE, hot_contrast, hot_is_bright, mean_of_measured

CDC_GAPS = (1, 2, 4)
HISTOGRAM_BINS = 64
AB_RANGE = (-110.0, 110.0)


@dataclass(frozen=True)
class ClipFrames:
    lightness: torch.Tensor  # (T, 1, h, w) model input L* from the luma
    truth_lab: np.ndarray  # (T, 3, h, w) true colours at the working size


def clip_paths(folder: Path) -> list[Path]:
    """The clips of ``folder`` to score (or ``folder`` itself, a clip): colour clips, and night-vision pairs by
    their ``*_ir`` clip (the ``*_rgb`` clip beside it, frame-synced, is its truth)."""
    clips = [folder] if folder.is_file() else sorted(folder.glob("*.mp4"))
    return [clip for clip in clips if not (clip.stem.endswith(RGB_SUFFIX) and ir_partner(clip).is_file())]


def _video_frames(source: FileSource) -> Iterator[av.VideoFrame]:
    yield from (item for item in source.decoded() if isinstance(item, av.VideoFrame))


def load_clip(colorizer: Colorizer, path: Path, frames: int) -> ClipFrames:
    """Luma -> model-input L*, and the true colours resized to the same grid, for the first ``frames``; the
    colours of a ``*_ir`` clip are its ``*_rgb`` partner's."""
    source = FileSource(path)
    paired = path.stem.endswith(IR_SUFFIX) and rgb_partner(path).is_file()
    colour_source = FileSource(rgb_partner(path)) if paired else source
    lightness, truth = [], []
    try:
        colours = _video_frames(colour_source) if paired else None
        for item in _video_frames(source):
            colour = next(colours, None) if colours else item
            if colour is None:  # the partner ended first
                break
            luma = torch.from_numpy(luma_plane(item))[None].to(colorizer.device)
            x = colorizer.model_input(colorizer.lightness_from_luma(luma, source.info.yuv.full_range))
            rgb = cv2.resize(colour.to_ndarray(format="rgb24"), x.shape[:-3:-1], interpolation=cv2.INTER_AREA)
            lightness.append(x.cpu())
            truth.append(rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255).float().numpy())
            if len(lightness) == frames:
                break
    finally:
        source.close()
        colour_source.close()
    return ClipFrames(torch.cat(lightness), np.stack(truth))


def _histograms(ab: np.ndarray) -> np.ndarray:
    """(T, 2, h, w) -> (T, 2, bins) normalised histograms of a* and b*."""
    edges = np.linspace(*AB_RANGE, HISTOGRAM_BINS + 1)
    counts = np.stack([[np.histogram(frame[c], edges)[0] for c in range(2)] for frame in ab]).astype(np.float64)
    return (counts + 1e-9) / (counts + 1e-9).sum(axis=-1, keepdims=True)


def cdc(ab: np.ndarray) -> float:
    """Mean Jensen-Shannon divergence (bits) of a*, b* histograms between frames CDC_GAPS apart."""
    hist = _histograms(ab)
    scores = []
    for gap in CDC_GAPS:
        p, q = hist[:-gap], hist[gap:]
        mid = 0.5 * (p + q)
        scores.append(0.5 * ((p * np.log2(p / mid)).sum(-1) + (q * np.log2(q / mid)).sum(-1)).mean())
    return float(np.mean(scores))


def _true_flows(truth_lab: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """For t >= 1: where each pixel of frame t was in frame t-1 (map_x, map_y), and a mask of trusted pixels."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [np.clip(lab[0] * 2.55, 0, 255).astype(np.uint8) for lab in truth_lab]
    height, width = grey[0].shape
    grid_x, grid_y = pixel_grid(height, width)
    flows = []
    for t in range(1, len(grey)):
        back = dis.calc(grey[t], grey[t - 1], None)
        forth = dis.calc(grey[t - 1], grey[t], None)
        map_x, map_y = grid_x + back[..., 0], grid_y + back[..., 1]
        round_trip = back + cv2.remap(forth, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
        flows.append(((map_x, map_y), inside & (np.linalg.norm(round_trip, axis=-1) < 1.0)))
    return flows


def warping_error(ab: np.ndarray, flows: list) -> float:
    """Mean |a*b*(t) - warped a*b*(t-1)| over unoccluded pixels, in CIELAB units."""
    errors = []
    for t, ((map_x, map_y), mask) in enumerate(flows, start=1):
        previous = cv2.remap(ab[t - 1].transpose(1, 2, 0), map_x, map_y, cv2.INTER_LINEAR)
        errors.append(np.abs(ab[t].transpose(1, 2, 0) - previous).sum(-1)[mask].mean())
    return float(np.mean(errors))


def _rgb(lab: np.ndarray) -> np.ndarray:
    return (lab_to_rgb(torch.from_numpy(lab).double()).numpy() * 255).round()


def psnr_to_truth(lab: np.ndarray, truth_lab: np.ndarray) -> float:
    mse = np.mean((_rgb(lab) - _rgb(truth_lab)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def run_name(mode: str, strength: float, remember: bool = True) -> str:
    if strength == 0:
        return "per-frame"
    return f"{mode} {strength:g}" + ("" if remember else " no memory")


def smoother_for(mode: str, strength: float, remember: bool = True) -> TemporalSmoother | LookAheadSmoother:
    """``live``: the causal smoother; ``file``: the one that looks ahead; ``remember``: with the scene memory."""
    if mode == "live":
        return TemporalSmoother(strength, remember=remember)
    return LookAheadSmoother(strength, remember=remember)


def _smoothed(smoother: TemporalSmoother | LookAheadSmoother, lightness: torch.Tensor,
              guided: list[Guided]) -> tuple[list[torch.Tensor], list[int]]:  # fmt: skip
    """Each frame's smoothed planes through the file pipeline's interface, and the frames the smoother cut at."""
    outputs, cuts = [], []
    for index, (x, frame) in enumerate(zip(lightness, guided, strict=True)):
        cuts_before = smoother.cuts
        outputs += [out for _, out in smoother.push(x[None], frame.planes, index, frame.known, frame.told)]
        if smoother.cuts > cuts_before:
            cuts.append(index)
    outputs += [out for _, out in smoother.flush()]
    return outputs, cuts


def evaluate_clip(colorizer: Colorizer, path: Path, strengths: list[float], frames: int,
                  modes: tuple[str, ...] = ("live", "file"), reference: str | None = None) -> dict:  # fmt: skip
    """``reference`` ``first``: the clip's own first frame in colour is the reference (``guidance.reference``)."""
    clip = load_clip(colorizer, path, frames)
    if np.abs(clip.truth_lab[:, 1:]).max() < 1.0:  # CDC and PSNR against grey say nothing of colour
        raise InputError(f"{path.name} has no colour to score against: a grey or infrared clip is scored only "
                         f"beside its colour partner (NAME{RGB_SUFFIX}.mp4 beside NAME{IR_SUFFIX}.mp4)")
    first = Reference(_rgb(clip.truth_lab[0]).transpose(1, 2, 0).astype(np.uint8)) if reference == "first" else None
    guide = VideoGuide(colorizer, reference=first)
    guided = []  # each frame as the file pipeline's smoother thread hands it on, its planes on the host
    for x in clip.lightness:
        frame = guide.guided(guide.run_network(x[None].to(colorizer.device), None))
        guided.append(replace(frame, planes=frame.planes.cpu()))
    flows = _true_flows(clip.truth_lab)
    runs = {"truth": clip.truth_lab}  # L*a*b* (T, 3, h, w) of each run
    cost_ms: dict[str, float] = {}
    resets: dict[str, list[int]] = {}  # frames where each smoother dropped its history (scene cuts)
    smoothed = ((mode, s, remember) for s in strengths for remember in (False, True) for mode in modes)
    for mode, strength, remember in [("live", 0.0, False), *smoothed]:
        name = run_name(mode, strength, remember)
        started = time.perf_counter()
        outputs, resets[name] = _smoothed(smoother_for(mode, strength, remember), clip.lightness, guided)
        cost_ms[name] = (time.perf_counter() - started) / len(outputs) * 1e3
        # a*b*, and the correction to daylight L* where the model relights
        shown = [colorizer.relit(x[None], out[:, 2:]) if out.shape[1] == 3 else x[None]
                 for x, out in zip(clip.lightness, outputs, strict=True)]  # fmt: skip
        runs[name] = np.stack([torch.cat((lightness, out[:, :2]), dim=1)[0].numpy()
                               for lightness, out in zip(shown, outputs, strict=True)])  # fmt: skip
    scores = {name: {"cdc": cdc(lab[:, 1:]), "warping_error": warping_error(lab[:, 1:], flows)}
              for name, lab in runs.items()}  # fmt: skip
    grey = clip.truth_lab * np.array([1.0, 0.0, 0.0], np.float32)[:, None, None]  # its own L*, a*b* = 0
    scores["truth"]["grey_psnr"] = psnr_to_truth(grey, clip.truth_lab)
    for name, lab in runs.items():
        if name != "truth":
            scores[name]["psnr"] = psnr_to_truth(lab, clip.truth_lab)
            scores[name]["smoother_ms"] = cost_ms[name]
            scores[name]["cdc_to_truth"] = scores[name]["cdc"] / scores["truth"]["cdc"]
    if colorizer.sensor != "visible":  # night: what is hot against the rest, in the L* shown (the truth's too)
        sensor, bright = clip.lightness[:, 0].numpy(), hot_is_bright(colorizer.sensor)
        for name, lab in runs.items():
            scores[name]["hot_contrast"] = hot_contrast(lab[:, 0], sensor, hot_is_bright=bright)
    return {"clip": path.name, "frames": len(clip.lightness), "size": list(clip.lightness.shape[-2:]),
            "scores": scores, "cuts": resets, "_runs": runs}  # fmt: skip


def strip(result: dict, names: list[str], path: Path, rows: int = 4) -> None:
    """Frames side by side, one column per run (per-frame | smoothed | truth), ``rows`` times through the clip.

    The first frame after each cut the smoothed run found is shown too: that is where a trail from the old
    shot would be.
    """
    runs = result["_runs"]
    evenly = np.linspace(0, len(runs["truth"]) - 1, rows).round().astype(int)
    picks = sorted({*evenly.tolist(), *result["cuts"].get(names[1], [])})
    grid = [np.concatenate([_rgb(runs[name][t]).transpose(1, 2, 0) for name in names], axis=1) for t in picks]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(grid, axis=0).astype(np.uint8), cv2.COLOR_RGB2BGR))


def summarise(results: list[dict]) -> dict[str, dict[str, float | None]]:
    """Each run's scores averaged over the clips (each over those where it was measured)."""
    names = results[0]["scores"].keys()
    return {name: {metric: mean_of_measured([r["scores"][name][metric] for r in results])
                   for metric in results[0]["scores"][name]} for name in names}  # fmt: skip


def format_clips(results: list[dict]) -> str:
    """Each clip's CDC as a multiple of its true colours' own, per run."""
    names = [name for name in results[0]["scores"] if name != "truth"]
    width = max(len(r["clip"]) for r in results)
    lines = ["CDC / the truth's CDC, per clip", f"{'clip':{width}} " + " ".join(f"{name:>11}" for name in names)]
    for result in results:
        ratios = " ".join(f"{result['scores'][name]['cdc_to_truth']:10.2f}x" for name in names)
        lines.append(f"{result['clip']:{width}} {ratios}")
    return "\n".join(lines)


def format_hot_contrast(results: list[dict]) -> str | None:
    """Night sensors: each clip's hot-object contrast per run and the truth's, and their means (None: not
    measured, a visible-light model)."""
    if "hot_contrast" not in results[0]["scores"]["truth"]:
        return None
    names = [*(name for name in results[0]["scores"] if name != "truth"), "truth"]
    width, column = max(len("mean"), *(len(r["clip"]) for r in results)), max(map(len, names))
    summary = summarise(results)
    lines = [f"Hot-object contrast, output / sensor: mean L* over the sensor's hottest {HOT_SHARE:.0%} of pixels "
             "minus over the rest, over the sensor's own (1: as visible as the sensor shows it)",
             f"{'clip':{width}} " + " ".join(f"{name:>{column}}" for name in names)]  # fmt: skip
    for clip, scores in [*((r["clip"], r["scores"]) for r in results), ("mean", summary)]:
        cells = ("-" if (v := scores[name]["hot_contrast"]) is None else f"{v:.2f}x" for name in names)
        lines.append(f"{clip:{width}} " + " ".join(f"{cell:>{column}}" for cell in cells))
    return "\n".join(lines)


def format_memory(results: list[dict]) -> str:
    """The scene memory's effect per clip, each smoothed run against the same run without it."""
    scores = results[0]["scores"]
    pairs = [(name, f"{name} no memory") for name in scores if f"{name} no memory" in scores]
    width = max(len(r["clip"]) for r in results)
    lines = ["The scene memory: CDC / the truth's and PSNR dB, without -> with",
             f"{'clip':{width}} " + " ".join(f"{name:>31}" for name, _ in pairs)]  # fmt: skip
    for result in results:
        scores = result["scores"]
        cells = [f"{scores[run]['cdc_to_truth']:6.2f}x -> {scores[name]['cdc_to_truth']:6.2f}x "
                 f"{scores[name]['psnr'] - scores[run]['psnr']:+5.2f} dB" for name, run in pairs]  # fmt: skip
        lines.append(f"{result['clip']:{width}} " + " ".join(cells))
    return "\n".join(lines)


def format_against_grey(results: list[dict]) -> str:
    """Each clip's PSNR per run against its grey picture's (the truth's L* with a*b* = 0): colour that does harm
    is below it."""
    names = [name for name in results[0]["scores"] if name != "truth"]
    width = max(len(r["clip"]) for r in results)
    lines = ["PSNR dB against the grey picture's (its own L*, no colour), per clip",
             f"{'clip':{width}} {'grey':>6} " + " ".join(f"{name:>11}" for name in names)]  # fmt: skip
    for result in results:
        scores = result["scores"]
        grey = scores["truth"]["grey_psnr"]
        cells = " ".join(f"{scores[name]['psnr'] - grey:+11.2f}" for name in names)
        lines.append(f"{result['clip']:{width}} {grey:6.2f} {cells}")
    return "\n".join(lines)


def format_summary(summary: dict[str, dict[str, float]], clips: int) -> str:
    base, width = summary["per-frame"], max(map(len, summary))
    lines = [f"{clips} clips; CDC and warping error lower is steadier; change vs per-frame in brackets",
             f"{'run':{width}} {'CDC':>16} {'warp err':>16} {'PSNR dB':>14} {'ms/frame':>9}"]  # fmt: skip
    for name, s in summary.items():
        if name == "truth":
            lines.append(f"{name:{width}} {s['cdc']:8.4f} {'':7} {s['warping_error']:8.2f}")
            continue
        cdc_change = 100 * (s["cdc"] / base["cdc"] - 1)
        warp_change = 100 * (s["warping_error"] / base["warping_error"] - 1)
        lines.append(
            f"{name:{width}} {s['cdc']:8.4f} ({cdc_change:+4.0f}%) {s['warping_error']:8.2f} ({warp_change:+4.0f}%) "
            f"{s['psnr']:7.2f} ({s['psnr'] - base['psnr']:+.2f}) {s['smoother_ms']:9.2f}"
        )
    return "\n".join(lines)
