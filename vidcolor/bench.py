"""`vidcolor bench`: frames per second of each stage and of the whole pipeline, per backend, size and batch.

Stages are timed alone, one after the other on each batch as it is decoded (decode, upload, prepare = Y'->L*
table and resize, infer, smooth, chroma = upsample + Lab->Cb/Cr, download, encode), with the device synchronised
around each; one batch is held at a time, whatever the clip's length. Upload and download exist on a GPU only.
The whole pipeline is ``colorize_file`` on the same clip; the ceiling is a plain decode -> encode of it through
the same PyAV source and sink, with the same codec settings, measured in the same run.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import av
import cv2
import numpy as np
import torch

from .colorizer import Colorizer, Prediction
from .fragments import finish, fragments_path
from .lookahead import LookAheadSmoother
from .pipeline import colorize_file
from .sinks import VideoFileSink, encoded_size
from .sources import FileSource, luma_plane
from .temporal import DEFAULT_SMOOTH

T = TypeVar("T")

STAGES = ("decode", "upload", "prepare", "infer", "smooth", "chroma", "download", "encode")
DEVICE_COPIES = ("upload", "download")  # stages that exist where the model runs on a GPU
RESOLUTIONS = {"480p": 480, "720p": 720, "1080p": 1080}
FULL_BATCHES = (1, 4, 8)  # a fuller run's batch sizes (the default run: 480p, batch 1)
MODEL_ONLY_SECONDS = 2.0


@dataclass(frozen=True)
class BenchRow:
    backend: str
    model: str  # the preset's name, or the checkpoint's file name
    resolution: str
    batch: int
    stage_fps: dict[str, float]
    pipeline_fps: float
    ceiling_fps: float
    pipeline_profile: str  # inside the pipeline: each stage's CPU, share of the cores and waits (StageClock)

    @property
    def ratio(self) -> float:
        return self.pipeline_fps / self.ceiling_fps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def scaled_clip(
    clip: Path, height: int, folder: Path, frames: int, crf: int, preset: str, gop: int | None = None
) -> Path:
    """The first ``frames`` pictures of ``clip`` scaled to ``height`` (aspect kept), as H.264; cached in ``folder``.

    ``gop`` puts a keyframe every ``gop`` frames, as cameras stream: a receiver can only join at a keyframe.
    """
    out = folder / f"{clip.stem}_{height}p_{frames}f{f'_gop{gop}' if gop else ''}.mp4"
    if out.is_file():
        return out
    with av.open(str(clip)) as src, av.open(str(out), "w") as dst:
        video_in = src.streams.video[0]
        width = round(video_in.codec_context.width * height / video_in.codec_context.height / 2) * 2
        stream = dst.add_stream("libx264", rate=video_in.average_rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = video_in.time_base
        stream.options = {"crf": str(crf), "preset": preset}
        if gop:
            stream.options |= {"g": str(gop), "keyint_min": str(gop), "bf": "0"}
        for index, frame in enumerate(src.decode(video_in)):
            if index == frames:
                break
            scaled = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
            scaled.pts, scaled.time_base = frame.pts, frame.time_base
            dst.mux(stream.encode(scaled))
        dst.mux(stream.encode(None))
    return out


def synthetic_clip(folder: Path, frames: int, *, rate: int = 30) -> Path:
    """A grey 1080p clip for a bench without ``--clip``: textured scenery under a panning camera, two moving
    shapes. Real footage measures better (encoding cost follows the content); this works from a plain install."""
    out = folder / f"synthetic_1080p_{frames}f.mp4"
    rng = np.random.default_rng(0)
    height, width, pan = 1080, 1920, 6  # pixels per frame the camera moves
    octaves = [cv2.resize(rng.random((height // s, (width + pan * frames) // s), np.float32),
                          (width + pan * frames, height), interpolation=cv2.INTER_CUBIC) / (1 + i)
               for i, s in enumerate((240, 60, 15, 3))]  # fmt: skip
    scenery = sum(octaves)
    scenery = np.clip((scenery - scenery.min()) / np.ptp(scenery) * 220 + 20, 0, 255).astype(np.uint8)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for index in range(frames):
            luma = scenery[:, index * pan : index * pan + width].copy()
            cv2.circle(luma, (200 + index * 9, 600), 120, 235, -1)
            cv2.rectangle(luma, (1500 - index * 5, 200), (1700 - index * 5, 500), 30, -1)
            picture = av.VideoFrame.from_ndarray(cv2.cvtColor(luma, cv2.COLOR_GRAY2RGB), format="rgb24")
            container.mux(stream.encode(picture.reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    return out


def ceiling_transcode(clip: Path, out: Path, *, crf: int, preset: str) -> int:
    """Decode -> encode -> finish with vidcolor's own source, sink and remux, the decoded chroma kept: vidcolor
    minus the model."""
    source = FileSource(clip)
    partial = fragments_path(out)
    try:
        sink = VideoFileSink(partial, source.info, audio=source.audio, crf=crf, preset=preset, finish_as=out.suffix)
        width, height = encoded_size(source.info.width, source.info.height)
        for item in source.decoded():
            if isinstance(item, av.Packet):
                sink.write_audio(item)
                continue
            planes = item.reformat(width=width, height=height, format="yuv420p").to_ndarray()  # Y, then U, V
            cb, cr = planes[height:].reshape(2, height // 2, width // 2)
            sink.write_frame(planes[:height], cb, cr, item.pts, item.duration or 0)
        sink.close()
        finish(partial, out)
        return sink.frames_written
    finally:
        source.close()


def _timed(device: torch.device, run: Callable[..., T], *args: object) -> tuple[T, float]:
    _sync(device)
    started = time.perf_counter()
    result = run(*args)
    _sync(device)
    return result, time.perf_counter() - started


def _luma_batches(source: FileSource, batch: int) -> Iterator[tuple[np.ndarray, float]]:
    """Whole batches of luma planes (B, H, W), each decoded when it is asked for, and the seconds that took."""
    pictures = (item for item in source.decoded() if isinstance(item, av.VideoFrame))
    while True:
        started = time.perf_counter()
        lumas = [luma_plane(picture) for picture in itertools.islice(pictures, batch)]
        if len(lumas) < batch:
            return
        yield np.stack(lumas), time.perf_counter() - started


def stages_of(device: torch.device) -> tuple[str, ...]:
    """The stages that exist where the model runs: no copies to and from a CPU."""
    return STAGES if device.type == "cuda" else tuple(s for s in STAGES if s not in DEVICE_COPIES)


def _stage_fps(colorizer: Colorizer, clip: Path, batch: int, *, crf: int, preset: str, work: Path) -> dict[str, float]:
    """Each stage's frames per second, every batch taken through them one stage at a time."""
    device = colorizer.device
    seconds = dict.fromkeys(STAGES, 0.0)
    source = FileSource(clip)
    try:
        info, frames = source.info, 0
        step = max(1, round(1 / ((info.frame_rate or 25) * info.time_base)))
        sink = VideoFileSink(work / "encode.mp4", info, audio=None, crf=crf, preset=preset)
        smoother = LookAheadSmoother(DEFAULT_SMOOTH)  # file mode's, as colorize_file runs it

        def prepare(uploaded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            lightness = colorizer.lightness_from_luma(uploaded, info.yuv.full_range)
            return lightness, colorizer.model_input(lightness)

        def chroma(lightness: torch.Tensor, x: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return colorizer.chroma_from(Prediction(lightness, x, ab[:, :2]), info.yuv)

        def download(cb: torch.Tensor, cr: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
            return cb.cpu().numpy(), cr.cpu().numpy()

        for lumas, decode_seconds in _luma_batches(source, batch):
            if not frames:
                colorizer.planes(lumas, info.yuv)  # warm-up: kernel choice, CUDA graph capture
            seconds["decode"] += decode_seconds
            timings = {}
            uploaded, timings["upload"] = _timed(device, colorizer.upload, lumas)
            (lightness, x), timings["prepare"] = _timed(device, prepare, uploaded)
            ab, timings["infer"] = _timed(device, colorizer.infer, x)
            # it hands back earlier batches; the chroma stage takes this one's prediction, which costs the same
            _, timings["smooth"] = _timed(device, smoother.push, x, ab, None)
            (cb, cr), timings["chroma"] = _timed(device, chroma, lightness, x, ab)
            (cb, cr), timings["download"] = _timed(device, download, cb, cr)
            started = time.perf_counter()
            for luma, plane_cb, plane_cr in zip(lumas, cb, cr, strict=True):
                sink.write_frame(luma, plane_cb, plane_cr, frames * step, step)
                frames += 1
            timings["encode"] = time.perf_counter() - started
            for stage, elapsed in timings.items():
                seconds[stage] += elapsed
        _, flush = _timed(device, sink.close)
        seconds["encode"] += flush
        _, flush = _timed(device, smoother.flush)
        seconds["smooth"] += flush
    finally:
        source.close()
    return {stage: frames / seconds[stage] for stage in stages_of(device)}


def measure(
    colorizer: Colorizer, clip: Path, resolution: str, batch: int, *, crf: int, preset: str, work: Path
) -> BenchRow:
    """Every stage alone, then the whole pipeline and the ceiling, for one clip and batch size."""
    backend = colorizer.backend.NAME
    stage_fps = _stage_fps(colorizer, clip, batch, crf=crf, preset=preset, work=work)

    started = time.perf_counter()
    result = colorize_file(clip, work / "pipeline.mp4", colorizer=colorizer, overwrite=True, crf=crf,
                           preset=preset, batch=batch, smooth=DEFAULT_SMOOTH)  # fmt: skip
    pipeline_fps = result.frames / (time.perf_counter() - started)
    profile = result.times.table() if result.times is not None else ""
    started = time.perf_counter()
    ceiling_frames = ceiling_transcode(clip, work / "ceiling.mp4", crf=crf, preset=preset)
    ceiling_fps = ceiling_frames / (time.perf_counter() - started)
    return BenchRow(backend, colorizer.model_name, resolution, batch, stage_fps, pipeline_fps, ceiling_fps, profile)


def model_only_fps(colorizer: Colorizer, batch: int, size: tuple[int, int]) -> float:
    """Inference alone at the working size, batch ``batch``, for about MODEL_ONLY_SECONDS."""
    device = colorizer.device
    lightness = torch.rand(batch, 1, *size, device=device) * 100
    colorizer.infer(lightness)  # warm-up
    runs, seconds = 0, 0.0
    while seconds < MODEL_ONLY_SECONDS or runs < 5:
        _, elapsed = _timed(device, lambda: colorizer.infer(lightness))
        runs, seconds = runs + 1, seconds + elapsed
    return runs * batch / seconds


def machine() -> dict[str, str]:
    info = {
        "cpu": cpu_name(), "cpu_flags": " ".join(cpu_vector_flags()), "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "torch": torch.__version__, "pyav": av.__version__, "ffmpeg": av.ffmpeg_version_info,
    }  # fmt: skip
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = str(torch.version.cuda)
    return info


def default_report_stem(model_only: bool) -> str:
    """``bench-<machine>``: the GPU's name where there is one, else ``cpu``."""
    where = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    slug = "".join(c if c.isalnum() else "-" for c in where.lower()).strip("-")
    return f"bench-{slug}" + ("-model-only" if model_only else "")


def cpu_vector_flags() -> list[str]:
    """Which of avx2, avx512f, avx512_vnni the CPU has: timings differ 2-3x between these kinds."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [flag for flag in ("avx2", "avx512f", "avx512_vnni") if flag in flags]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_bench(
    colorizers: dict[str, Colorizer], clip: Path | None, *, resolutions: Sequence[str], batches: Sequence[int],
    frames: int, crf: int, preset: str, progress: Callable[[str], None] = lambda _: None,
) -> list[BenchRow]:  # fmt: skip
    """Every case over ``clip`` (None: a synthetic clip) scaled to each resolution."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as scratch:
        work = Path(scratch)
        clip = clip or synthetic_clip(work, frames)
        for resolution in resolutions:
            scaled = scaled_clip(clip, RESOLUTIONS[resolution], work, frames, crf, preset)
            for backend, colorizer in colorizers.items():
                for batch in batches:
                    progress(f"{backend} {resolution} batch {batch}")
                    rows.append(measure(colorizer, scaled, resolution, batch, crf=crf, preset=preset, work=work))
    return rows


def fuller_run_minutes(seconds: float, resolutions: Sequence[str], batches: Sequence[int]) -> float | None:
    """What every size at every FULL_BATCHES size would take, from a run of fewer cases that took ``seconds``
    (each case's cost grows with its pixels); None where the run was that full already."""
    def pixels(sizes: Sequence[str]) -> float:
        return sum((RESOLUTIONS[size] / 480) ** 2 for size in sizes)
    if set(resolutions) >= set(RESOLUTIONS) and set(batches) >= set(FULL_BATCHES):
        return None
    return seconds * pixels(list(RESOLUTIONS)) * len(FULL_BATCHES) / (pixels(resolutions) * len(batches)) / 60


def markdown_table(rows: Sequence[BenchRow]) -> str:
    head = ["backend", "model", "size", "batch", *STAGES, "pipeline", "ceiling", "ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        stages = [f"{row.stage_fps[s]:.1f}" if s in row.stage_fps else "–" for s in STAGES]
        cells = [row.backend, row.model, row.resolution, str(row.batch), *stages,
                 f"**{row.pipeline_fps:.1f}**", f"{row.ceiling_fps:.1f}", f"{row.ratio:.2f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bar_chart(rows: Sequence[BenchRow], path: Path) -> None:
    """Pipeline fps (filled) against the ceiling (outline), one bar pair per case, drawn with OpenCV."""
    labels = [f"{row.backend} {row.model} {row.resolution} b{row.batch}" for row in rows]
    label_width = 20 + max(cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0] for label in labels)
    bar, gap = 18, 10
    width, height = label_width + 670, 40 + len(rows) * (bar + gap)
    image = np.full((height, width, 3), 255, np.uint8)
    scale = (width - label_width - 90) / max(max(r.ceiling_fps, r.pipeline_fps) for r in rows)
    cv2.putText(image, "fps: pipeline (filled) vs ceiling (outline)", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        top = 40 + i * (bar + gap)
        cv2.putText(image, label, (10, top + bar - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        left = label_width
        cv2.rectangle(image, (left, top), (left + int(row.pipeline_fps * scale), top + bar), (180, 110, 40), -1)
        cv2.rectangle(image, (left, top), (left + int(row.ceiling_fps * scale), top + bar), (60, 60, 60), 1)
        cv2.putText(image, f"{row.pipeline_fps:.0f} / {row.ceiling_fps:.0f}", (left + int(max(row.pipeline_fps,
                    row.ceiling_fps) * scale) + 6, top + bar - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)  # fmt: skip
    cv2.imwrite(str(path), image)


def write_report(
    rows: Sequence[BenchRow], model_only: dict[str, float], folder: Path, stem: str, *, clip: Path | None
) -> list[Path]:
    """JSON, a markdown table and a PNG chart under ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    facts = machine()
    clip_name = clip.name if clip else "synthetic"
    rows_out = [asdict(r) | {"ratio": r.ratio} for r in rows]
    payload = {"machine": facts, "clip": clip_name, "rows": rows_out, "model_only_fps": model_only}
    paths = [folder / f"{stem}.json", folder / f"{stem}.md"]
    paths[0].write_text(json.dumps(payload, indent=2) + "\n")
    text = [f"# vidcolor bench — {stem}", "", "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), ""]
    if rows:
        text += [f"Clip: {clip_name}. Frames per second; stages timed alone, pipeline = `colorize_file`, "
                 "ceiling = decode → encode.",
                 "", markdown_table(rows), ""]  # fmt: skip
        for row in rows:
            text += [f"Inside the pipeline, {row.backend} {row.resolution} batch {row.batch}:", "", "```",
                     row.pipeline_profile, "```", ""]  # fmt: skip
        bar_chart(rows, folder / f"{stem}.png")
        paths.append(folder / f"{stem}.png")
    if model_only:
        text += ["Model alone (working size, frames/s):", "", "| case | fps |", "|---|---|"]
        text += [f"| {case} | {value:.1f} |" for case, value in model_only.items()] + [""]
    paths[1].write_text("\n".join(text))
    return paths
