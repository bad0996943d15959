"""Backends: the ONNX export against PyTorch (onnxruntime), GPU backends where a GPU exists, and `bench`."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, run_cli, untrained
from media import CLIPS_DIR, frame_times, write_video

from vidcolor import BackendUnavailable, Colorizer
from vidcolor.backends import available_backends, create_backend
from vidcolor.backends.onnx_export import INPUT_NAME, export_onnx
from vidcolor.bench import BenchRow, bar_chart, ceiling_transcode, fuller_run_minutes, run_bench, write_report
from vidcolor.models.checkpoint import load_model
from vidcolor.models.presets import PRESETS

TENSORRT_PRESENT = importlib.util.find_spec("tensorrt") is not None
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# Largest |a*b*| difference allowed between PyTorch float32 and each export, in CIELAB units.
ONNX_TOLERANCE = {"fp32": 1e-3, "fp16": 1.0}


@pytest.fixture(scope="module")
def model(weights):
    return load_model(weights)


ARCHITECTURES = {"fast": PRESETS["fast"].config, "quality-bins": replace(PRESETS["quality"].config, ab_bins=True),
                 "fast-bins": replace(PRESETS["fast"].config, ab_bins=True),
                 "night-daylight": replace(PRESETS["fast"].config, ab_bins=True, predict_lightness=True)}  # fmt: skip


# Each head once in float32 (a regression head, the shipped bins heads, the night models' three planes), and in
# float16 (TensorRT's) the graphs that differ there: the annealed mean in float32 inside, and the relight head.
@pytest.mark.parametrize(("architecture", "precision"), [("fast", "fp32"), ("quality-bins", "fp32"),
                                                         ("fast-bins", "fp16"), ("night-daylight", "fp32"),
                                                         ("night-daylight", "fp16")])  # fmt: skip
def test_onnx_export_matches_pytorch(architecture, tmp_path, precision):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = untrained(ARCHITECTURES[architecture])
    path = export_onnx(model, tmp_path / f"colorizer_{precision}.onnx", precision=precision)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 64, 96), (3, 1, 128, 64)]:  # batch, height and width are dynamic
        lightness = torch.rand(shape) * 100
        with torch.no_grad():
            expected = model(lightness).numpy()
        got = session.run(None, {INPUT_NAME: lightness.numpy()})[0]
        assert got.shape == expected.shape
        assert np.abs(expected).mean() > 1.0  # a real colour to compare, not the all-grey start
        assert np.abs(got - expected).max() < ONNX_TOLERANCE[precision]


CPU_RUNTIMES = {"onnxruntime": ("onnxruntime", "OnnxRuntimeCPUBackend"), "openvino": ("openvino", "OpenVINOCPUBackend")}


@pytest.mark.parametrize("runtime", CPU_RUNTIMES)
def test_cpu_runtime_matches_pytorch_and_caches_its_export(tmp_path, runtime):
    package, backend_class = CPU_RUNTIMES[runtime]
    pytest.importorskip(package)
    from vidcolor import backends
    from vidcolor.backends.onnx_export import onnx_path

    model = load_model(PRESETS["fast"].weights)  # trained: real colour to compare
    backend = getattr(backends, backend_class)(model, cache_dir=tmp_path)
    assert onnx_path(model, tmp_path).is_file()
    lightness = torch.rand(2, 1, 96, 160) * 100
    expected = backends.TorchCPUBackend(model).infer(lightness)
    got = backend.infer(lightness)
    assert got.shape == expected.shape and expected.abs().mean() > 1.0
    assert (got - expected).abs().max() < ONNX_TOLERANCE["fp32"]
    reloaded = getattr(backends, backend_class)(model, cache_dir=tmp_path)  # from the cached graph
    assert torch.allclose(reloaded.infer(lightness), got, atol=1e-5)


def test_openvino_missing_is_one_line_naming_the_extra(monkeypatch):
    import vidcolor.backends as backends

    monkeypatch.setattr(backends, "OpenVINOCPUBackend", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'vidcolor\[openvino\]'"):
        backends.check_backend("openvino")
    assert "openvino" not in backends.available_backends()


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto takes the GPU there")
def test_auto_takes_the_fastest_cpu_runtime_installed(model, monkeypatch):
    import vidcolor.backends as backends

    installed = [name for name, runtime in (("onnxruntime", backends.OnnxRuntimeCPUBackend),
                                             ("openvino", backends.OpenVINOCPUBackend)) if runtime]  # fmt: skip
    assert backends.create_backend("auto", model).NAME == (installed + ["cpu"])[0]
    monkeypatch.setattr(backends, "OnnxRuntimeCPUBackend", None)
    monkeypatch.setattr(backends, "OpenVINOCPUBackend", None)
    assert backends.create_backend("auto", model).NAME == "cpu"  # PyTorch stays the fallback


def test_this_machine_offers_what_it_has():
    assert available_backends()[0] == "cpu"
    assert ("cuda" in available_backends()) == torch.cuda.is_available()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_backend_refused_without_gpu(model):
    with pytest.raises(BackendUnavailable, match="no CUDA GPU"):
        create_backend("cuda", model)


@pytest.mark.skipif(TENSORRT_PRESENT, reason="tensorrt is installed")
def test_tensorrt_backend_says_it_is_not_installed(model, tmp_path):
    with pytest.raises(BackendUnavailable, match="tensorrt package is not installed"):
        create_backend("tensorrt", model)
    clip = write_video(tmp_path / "in.mp4", frames=2)
    result = run_cli("--backend", "tensorrt", "-q", clip, "-o", tmp_path / "out.mp4")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "not installed" in result.stderr


@cuda_only
def test_cuda_graphs_match_eager(model):
    backend = create_backend("cuda", model)
    first, second = (torch.rand(2, 1, 64, 96, device="cuda") * 100 for _ in range(2))
    out_first, out_second = backend.infer(first), backend.infer(second)  # the second call replays the graph
    backend.graphs = False
    torch.testing.assert_close(out_first, backend.infer(first), atol=1e-2, rtol=0)
    torch.testing.assert_close(out_second, backend.infer(second), atol=1e-2, rtol=0)
    assert not torch.equal(out_first, out_second)  # replays do not overwrite earlier results


@cuda_only
def test_tensorrt_engine_matches_pytorch_and_is_cached(model, tmp_path):
    pytest.importorskip("tensorrt")
    from vidcolor.backends.tensorrt import TensorRTBackend

    backend = TensorRTBackend(model, engine_dir=tmp_path)
    built = backend.engine_file.stat().st_mtime_ns
    lightness = torch.rand(2, 1, 256, 448, device="cuda") * 100
    with torch.no_grad():
        expected = model.to("cuda")(lightness)
    assert (backend.infer(lightness) - expected).abs().max().item() < ONNX_TOLERANCE["fp16"]
    assert TensorRTBackend(model, engine_dir=tmp_path).engine_file.stat().st_mtime_ns == built


def test_ceiling_keeps_every_frame(tmp_path):
    src = write_video(tmp_path / "in.mp4", frames=10, audio_seconds=10 / 24)
    assert ceiling_transcode(src, tmp_path / "out.mp4", crf=18, preset="ultrafast") == 10
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(frame_times(src), abs=1e-6)


def test_bench_reports_every_stage(tmp_path, colorizer: Colorizer):
    clip = write_video(tmp_path / "clip.mp4", width=320, height=180, frames=8)
    rows = run_bench({"cpu": colorizer}, clip, resolutions=["480p"], batches=[1, 4], frames=8, crf=18,
                     preset="ultrafast")  # fmt: skip
    assert [(r.backend, r.resolution, r.batch) for r in rows] == [("cpu", "480p", 1), ("cpu", "480p", 4)]
    assert {r.model for r in rows} == {"random.pt"}
    for row in rows:
        assert set(row.stage_fps) == {"decode", "prepare", "infer", "smooth", "chroma", "encode"}  # no copies on a CPU
        assert all(v > 0 for v in row.stage_fps.values())
        assert row.pipeline_fps > 0 and row.ceiling_fps > 0
        assert [line.split()[0] for line in row.pipeline_profile.splitlines()[1:5]] == ["decode", "model", "smooth",
                                                                                         "encode"]  # fmt: skip
    paths = write_report(rows, {"cpu batch 1": 12.5}, tmp_path / "report", "bench-test", clip=clip)
    assert sorted(p.suffix for p in paths) == [".json", ".md", ".png"]
    report = json.loads(paths[0].read_text())
    assert len(report["rows"]) == 2 and report["model_only_fps"] == {"cpu batch 1": 12.5}
    assert report["clip"] == "clip.mp4"
    assert "Inside the pipeline, cpu 480p batch 4" in paths[1].read_text()


def test_bench_works_from_any_folder_with_no_options(tmp_path, weights):
    """No --clip and no --out: a synthetic clip, and the report in ./vidcolor-bench (said at the end)."""
    result = run_cli("bench", "--backends", "cpu", "--sizes", "480p", "--batches", "1", "--frames", "4",
                     "--weights", weights, "--size", TEST_SIZE, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "synthetic" in result.stderr and "vidcolor-bench" in result.stderr.splitlines()[-1]
    reports = sorted((tmp_path / "vidcolor-bench").glob("*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["clip"] == "synthetic"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vidcolor-bench"]


@pytest.mark.parametrize("runtime", CPU_RUNTIMES)
def test_file_through_a_cpu_runtime(tmp_path, weights, runtime):
    pytest.importorskip(CPU_RUNTIMES[runtime][0])
    src = write_video(tmp_path / "in.mp4", frames=6)
    result = run_cli(src, "-o", tmp_path / "out.mp4", "--weights", weights, "--size", TEST_SIZE, "--backend", runtime)
    assert result.returncode == 0, result.stderr
    assert f"backend {runtime} (CPU, " in result.stderr
    assert len(frame_times(tmp_path / "out.mp4")) == 6


def test_int8_graph_stays_close_to_float(tmp_path):
    pytest.importorskip("onnxruntime")
    from vidcolor.backends.onnxruntime_cpu import OnnxRuntimeCPUBackend
    from vidcolor.train.quantize import quantize_int8

    holdout = sorted((CLIPS_DIR.parent / "photos" / "holdout").glob("*"))[:12]
    if len(holdout) < 12:
        pytest.skip(f"needs the shared holdout photos ({CLIPS_DIR.parent / 'photos' / 'holdout'})")
    photos = tmp_path / "photos"
    photos.mkdir()
    for photo in holdout[:8]:  # calibrate on some, compare on others
        (photos / photo.name).write_bytes(photo.read_bytes())
    model = load_model(PRESETS["fast"].weights)
    picked = quantize_int8(model, photos, tmp_path / "int8.onnx", count=8, short_side=128)
    assert len(picked) == 8
    int8 = OnnxRuntimeCPUBackend(model, graph=tmp_path / "int8.onnx")
    fp32 = OnnxRuntimeCPUBackend(model, cache_dir=tmp_path)
    assert "int8" in int8.describe()
    from vidcolor.train.quantize import calibration_lightness

    for photo in holdout[8:]:
        lightness = torch.from_numpy(calibration_lightness(photo, 128))
        expected, got = fp32.infer(lightness), int8.infer(lightness)
        assert expected.abs().mean() > 1.0
        assert (got - expected).abs().mean() < 2.0  # the bar for int8, in a*b* units


def test_shipped_int8_colorizes_a_file(tmp_path):
    pytest.importorskip("onnxruntime")
    clip = write_video(tmp_path / "in.mp4", frames=3)
    result = run_cli(clip, "-o", tmp_path / "out.mp4", "--model", "fast", "--precision", "int8", "--size", TEST_SIZE)
    assert result.returncode == 0, result.stderr
    assert "onnxruntime" in result.stderr and "int8), model fast-int8" in result.stderr
    assert len(frame_times(tmp_path / "out.mp4")) == 3


@pytest.mark.parametrize("backend, precision", [("onnxruntime", "int8"), ("cpu", "fp32"), ("openvino", "fp32")])
def test_default_precision_is_int8_where_onnxruntime_runs_the_model(backend, precision):
    pytest.importorskip(CPU_RUNTIMES.get(backend, ("torch",))[0])
    colorizer = Colorizer(backend=backend, model="fast", size=TEST_SIZE)
    assert colorizer.model_name == ("fast-int8" if precision == "int8" else "fast")
    assert ("int8" if precision == "int8" else "float32") in colorizer.backend.describe()


def test_a_checkpoint_runs_in_float32_by_default(weights):
    pytest.importorskip("onnxruntime")
    assert "float32" in Colorizer(backend="onnxruntime", weights=weights, size=TEST_SIZE).backend.describe()


def test_int8_without_its_graph_is_one_sentence():
    from vidcolor.errors import WeightsError
    from vidcolor.models.presets import Preset, shipped_int8

    unquantized = Preset("unquantized", PRESETS["fast"].config, 256)
    with pytest.raises(WeightsError, match="vidcolor quantize PHOTOS --model unquantized, or use --precision fp32"):
        shipped_int8(unquantized)


def test_bench_defaults_to_a_short_run_and_says_what_a_fuller_one_takes():
    from vidcolor.cli.bench import build_bench_parser

    args = build_bench_parser().parse_args([])
    assert (args.sizes, args.batches) == (["480p"], [1])
    # 480p at batch 1 took a minute: all three sizes (1 + 2.25 + 5.06 times the pixels) at three batch sizes
    assert fuller_run_minutes(60.0, ["480p"], [1]) == pytest.approx(3 * (1 + 2.25 + 5.0625))
    assert fuller_run_minutes(60.0, ["480p", "720p", "1080p"], [1, 4, 8]) is None


def test_bench_chart_labels_end_before_the_bars(tmp_path):
    row = BenchRow("onnxruntime", "a-checkpoint-with-a-long-name.pt", "1080p", 8, {"decode": 1.0}, 20.0, 40.0, "")
    bar_chart([row], tmp_path / "chart.png")
    chart = cv2.imread(str(tmp_path / "chart.png"), cv2.IMREAD_GRAYSCALE)
    dark = chart[41:57] < 200  # the bar's rows
    bar_left = int(np.argmax(dark.all(axis=0)))  # the first column dark from top to bottom: the filled bar
    label_end = int(np.nonzero(dark[:, :bar_left].any(axis=0))[0].max())
    assert bar_left > 0 and bar_left - label_end > 5


def test_auto_falls_back_to_the_next_runtime_that_starts(model, monkeypatch, caplog):
    """A checkpoint of the user's needs the ONNX exporter for onnxruntime: without it, one line, and on."""
    pytest.importorskip("onnxruntime")
    from vidcolor.backends import onnxruntime_cpu

    def no_exporter(*_args, **_kwargs):
        raise ModuleNotFoundError("No module named 'onnxscript'")

    monkeypatch.setattr(onnxruntime_cpu, "cached_onnx", no_exporter)
    with caplog.at_level("WARNING", logger="vidcolor"):
        backend = create_backend("auto", model)
    assert backend.NAME != "onnxruntime"
    assert [r.getMessage() for r in caplog.records] == [
        "onnxruntime could not start (No module named 'onnxscript'): trying the next CPU runtime"]
