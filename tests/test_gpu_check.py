"""benchmarks/gpu_check.sh, as far as a machine without a GPU can run it: its arguments, its plan, its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ["environment", "cuda_tests", "bench_fast", "bench_quality", "model_only", "live_latency", "training_photos",
         "training_rate"]  # fmt: skip


def check(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_bad_arguments_are_one_line_and_status_2(tmp_path):
    for args in (["--bogus"], ["--out"]):
        result = check(*args)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    shown = check("--help")
    assert shown.returncode == 0 and "--dry-run" in shown.stdout and "gpu_wheels.sh" in shown.stdout


def test_without_a_gpu_it_refuses_and_a_dry_run_plans_every_step(tmp_path):
    import torch

    if not torch.cuda.is_available():
        refused = check("--out", tmp_path / "real")
        assert refused.returncode == 2 and "no CUDA GPU" in refused.stderr
    planned = check("--out", tmp_path / "plan", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    report = json.loads((tmp_path / "plan" / "gpu_check.json").read_text())
    assert [s["name"] for s in report["steps"]] == STEPS and {s["status"] for s in report["steps"]} == {"dry-run"}
    assert sum(int(line.split("(")[1].split(" s)")[0]) for line in planned.stdout.splitlines()
               if line.startswith("would run")) <= 8 * 60  # the caps fit the 8 minutes  # fmt: skip


def test_the_report_gathers_what_the_steps_left(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "steps.tsv").write_text("name\tstatus\tseconds\tcommand\nbench_fast\t0\t41\tvidcolor bench\n"
                                        "training_rate\t124\t140\tvidcolor train\n")  # fmt: skip
    row = {"backend": "cuda", "model": "fast", "resolution": "720p", "batch": 8, "stage_fps": {"infer": 900.0},
           "pipeline_fps": 212.5, "ceiling_fps": 250.0}
    (tmp_path / "bench" / "bench-fast.json").write_text(json.dumps({"machine": {"gpu": "NVIDIA H200"},
                                                                    "rows": [row], "model_only_fps": {}}))
    (tmp_path / "train-probe.json").write_text(json.dumps({"training": {"steps": 2400, "train_minutes": 2.0,
                                                                        "device": "NVIDIA H200",
                                                                        "images_seen_total": 38400}}))
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "report", str(tmp_path)], check=True)
    text = (tmp_path / "gpu_check.md").read_text()
    assert "gpu NVIDIA H200" in text and "| training_rate | 124 | 140 |" in text
    assert "| cuda | fast | 720p | 8 | 900.0 | **212.5** | 250.0 |" in text
    assert "2400 steps in 2.0 min (20.0 steps/s, 320 images/s)" in text
