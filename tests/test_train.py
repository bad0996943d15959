"""Training and evaluation: Lab maths, loss weights, a tiny run that learns, resume, scores."""

from __future__ import annotations

import importlib.util
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import TEST_SIZE, run_cli
from media import picture

from vidcolor import Colorizer
from vidcolor.color import rgb_to_lab
from vidcolor.models.ab_bins import (
    BIN_SIZE,
    annealed_mean,
    bin_centres,
    bin_index,
    prior_bias,
    sharpen,
    sharpened_head,
    soft_encode,
)
from vidcolor.models.checkpoint import load_model
from vidcolor.models.tflite_import import DEFAULT_TFLITE, load_imagenet_mobilenetv2
from vidcolor.train.data import source_balanced_weights
from vidcolor.train.evaluate import colourfulness, evaluate, grey_baseline
from vidcolor.train.loop import TrainConfig, state_path, train
from vidcolor.train.losses import BINS_PER_AXIS, Rebalancing, ab_histogram, colour_loss
from vidcolor.train.pack import PackedPhotos, PackSettings, list_packs, pack_photos


def test_lab_round_trips_through_opencv():
    rgb = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double()).permute(1, 2, 0).numpy().astype(np.float32)
    back = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)  # OpenCV's inverse of our forward conversion
    assert np.abs(back - rgb).max() < 1e-3


def test_rebalancing_weights_average_to_one_over_the_data():
    counts = torch.zeros(BINS_PER_AXIS**2, dtype=torch.float64)
    counts[[10, 200, 250, 251]] = torch.tensor([1000.0, 10.0, 500.0, 1.0], dtype=torch.float64)
    rebalancing = Rebalancing.from_histogram(counts, mix=0.5)
    assert float((rebalancing.prior * rebalancing.weights.double()).sum()) == pytest.approx(1.0, abs=1e-5)
    assert rebalancing.weights[251] > rebalancing.weights[250] > 0  # the rare colour weighs more
    uniform = Rebalancing.from_histogram(counts, mix=1.0)
    torch.testing.assert_close(uniform.weights[counts > 0], torch.ones(4), rtol=0, atol=1e-5)


def test_weighted_loss_of_perfect_prediction_is_zero():
    ab = torch.randn(2, 2, 8, 8) * 30
    rebalancing = Rebalancing.from_histogram(ab_histogram(ab))
    assert colour_loss(ab, ab, rebalancing).item() == 0.0
    assert colour_loss(ab + 5, ab, rebalancing).item() > 0.0


needs_encoder = pytest.mark.skipif(
    importlib.util.find_spec("tflite") is None or not Path(DEFAULT_TFLITE).is_file(),
    reason=f"needs the train extra and {DEFAULT_TFLITE}",
)


@needs_encoder
def test_tiny_training_lowers_loss_and_resumes(photo_folder, tmp_path):
    out = tmp_path / "tiny.pt"
    config = TrainConfig(data=str(photo_folder), out=str(out), steps=60, crop=64, batch=6, workers=0, lr=3e-3)
    summary = train(config, progress_bar=False)
    assert summary["steps"] == 60
    assert summary["loss_last_100"] < 0.8 * summary["loss_first_10"]
    assert state_path(out).is_file()
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=out)  # the written weights load
    assert colorizer.colorize_image(np.zeros((40, 50), np.uint8)).shape == (40, 50, 3)
    longer = TrainConfig(**{**config.__dict__, "steps": 70, "snapshot_minutes": 0.002})  # one every 0.12 s
    assert train(longer, resume=True, progress_bar=False)["steps"] == 70
    snapshots = sorted(tmp_path.glob("tiny.*min.pt"), key=lambda path: float(path.name[5:-6]))
    assert snapshots, "no snapshot written"
    steps = [torch.load(path, weights_only=True)["info"]["training"]["steps"] for path in snapshots]
    assert steps == sorted(steps) and 60 < steps[0] <= 70
    assert load_model(snapshots[-1]) is not None  # a snapshot is a checkpoint like the final weights


def test_the_training_clock_leaves_out_the_time_the_process_was_stopped():
    # A child ticks every 10 ms for 1.5 s of wall clock; it is stopped (kill -STOP) for 1 s of that.
    child = subprocess.Popen([sys.executable, "-c", (
        "import time\n"
        "from vidcolor.train.clock import TrainingClock\n"
        "with TrainingClock() as clock:\n"
        "    print('ticking', flush=True)\n"
        "    end = time.monotonic() + 1.5\n"
        "    while time.monotonic() < end:\n"
        "        time.sleep(0.01); clock.tick()\n"
        "print(clock.elapsed)\n"
    )], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout.readline() == "ticking\n"  # past its start-up (imports)
    time.sleep(0.2)
    child.send_signal(signal.SIGSTOP)
    time.sleep(1.0)
    child.send_signal(signal.SIGCONT)
    elapsed = float(child.communicate(timeout=30)[0])
    assert elapsed < 0.9, f"the stopped second was counted: {elapsed:.2f} s"


@needs_encoder
def test_bins_and_finetuning_train_only_what_they_should(photo_folder, tmp_path):
    """Classification head learns; the shallow encoder stays ImageNet's, the deepest stage moves after fine-tuning."""
    out = tmp_path / "bins.pt"
    config = TrainConfig(data=str(photo_folder), out=str(out), steps=40, crop=64, batch=6, workers=0, lr=3e-3,
                         ab_bins=True, finetune_from=0.5)  # fmt: skip
    summary = train(config, progress_bar=False)
    assert summary["loss_last_100"] < summary["loss_first_10"]
    trained, imagenet = load_model(out), load_imagenet_mobilenetv2(DEFAULT_TFLITE, in_channels=1)
    assert trained.config.ab_bins
    def moved(name: str) -> float:  # against ImageNet's weights rounded to fp16 as the checkpoint stores them
        return (trained.encoder.state_dict()[name] - imagenet.state_dict()[name].half().float()).abs().max().item()

    assert moved("stem.conv.weight") == 0 and moved("blocks.12.project.conv.weight") == 0
    assert moved("blocks.15.project.conv.weight") > 1e-4 and moved("last.conv.weight") > 1e-4


@needs_encoder
def test_bins_head_warm_starts_from_trained_regression_weights(photo_folder, tmp_path):
    """--init-from keeps the trained encoder and decoder, starts the new bins head afresh, stores the a*b* prior."""
    regression = tmp_path / "regression.pt"
    base = TrainConfig(data=str(photo_folder), out=str(regression), steps=5, crop=64, batch=6, workers=0)
    train(base, progress_bar=False)
    bins = tmp_path / "bins.pt"
    train(TrainConfig(**{**base.__dict__, "out": str(bins), "steps": 1, "lr": 1e-9, "ab_bins": True,
                         "rebalance_mix": None, "init_from": str(regression)}), progress_bar=False)  # fmt: skip
    before, after = load_model(regression).state_dict(), load_model(bins).state_dict()
    torch.testing.assert_close(after["ups.0.0.weight"], before["ups.0.0.weight"], rtol=0, atol=1e-3)
    assert after["head.weight"].shape[0] == BINS_PER_AXIS**2
    assert after["ab_prior"].sum().item() == pytest.approx(1.0, abs=1e-2) and after["ab_prior"].max() > 0.01


def test_source_balancing_caps_each_collection():
    images = [Path(f"big_{i:06d}.webp") for i in range(900)] + [Path(f"small_{i:06d}.webp") for i in range(30)]
    weights = source_balanced_weights(images, cap=100)
    assert weights[:900].sum().item() == pytest.approx(100.0)  # thinned to the cap
    assert weights[900:].sum().item() == pytest.approx(30.0)  # every photo of a small collection kept


def test_packed_photos_train_a_loadable_model(photo_folder, weights, tmp_path):
    """Issue 34: photos packed small (scaled, squared, re-encoded) into shards within their size; training reads the
    shards, decoding in a DataLoader worker, and writes weights that load and a card that names the packs."""
    packs = tmp_path / "packs"
    limit = 5000  # bytes: the six photos (a few hundred bytes each) need several shards
    settings = PackSettings(side=72, shard_mib=limit / 2**20)
    index = pack_photos(photo_folder, packs, settings, progress=False)
    shards = list_packs(packs)
    assert len(shards) == len(index["shards"]) > 1 and index["photos"] == 6
    assert all(shard.stat().st_size <= limit for shard in shards)
    packed = PackedPhotos(shards)
    assert sorted(str(name) for name in packed.names) == sorted(p.name for p in photo_folder.iterdir())
    assert all(packed.read(i).shape == (3, 72, 72) for i in range(len(packed)))  # 96x80 -> 86x72, squared
    out = tmp_path / "from-packs.pt"
    # a process of its own, as benchmarks/gpu_train.sh runs it: a DataLoader worker forked from pytest's process
    # left it to crash later (a segmentation fault once OpenVINO and PyAV had run in it too)
    trained = run_cli("train", packs, "--steps", "3", "--crop", "64", "--batch", "4", "--workers", "1", "--threads",
                      "1", "--init-from", weights, "--source-cap", "4", "--out", out, "-q")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(out.with_suffix(".json").read_text())["training"]
    assert summary["steps"] == 3 and summary["data"]["packs"] == [s.name for s in shards]
    colorizer = Colorizer(backend="cpu", size=TEST_SIZE, weights=out)
    assert colorizer.colorize_image(np.zeros((40, 50), np.uint8)).shape == (40, 50, 3)


def test_gpu_train_script_plans_one_call_within_its_ten_minutes(tmp_path):
    """benchmarks/gpu_train.sh as far as a machine without a GPU runs it quickly: one-line errors, and a plan whose
    time caps fit one device call (600 s). Its CPU run (--cpu) is vidcolor/train/README.md's, not a test."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_train.sh"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=60)

    for args in (["--bogus"], ["--out"], ["--model", "huge", "--dry-run"], ["--minutes", "x", "--dry-run"]):
        result = run(*args)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    planned = run("--out", str(tmp_path / "plan"), "--dry-run", "--model", "quality", "--", "--lr", "5e-4")
    assert planned.returncode == 0, planned.stderr
    plan = [line for line in planned.stdout.splitlines() if line.startswith("would run")]
    assert len(plan) == 2 and "vidcolor train packs --model quality" in plan[1] and plan[1].endswith("--lr 5e-4")
    assert "--init-from vidcolor/weights/quality.pt" in plan[1] and "--minutes 7.5" in plan[1]
    assert sum(int(line.split("(")[1].split(" s)")[0]) for line in plan) <= 600


def test_eval_scores_are_finite_and_grey_has_no_colour(photo_folder, colorizer, tmp_path):
    scores = evaluate(colorizer, photo_folder, limit=2, sheet=tmp_path / "sheet.png")
    assert scores["photos"] == 2
    for name in ("vidcolor", "grey"):
        assert all(math.isfinite(scores[name][field]) for field in ("psnr", "ssim", "colourfulness"))
    assert scores["grey"]["colourfulness"] < 1.0
    assert scores["truth"]["colourfulness"] > 20.0
    assert cv2.imread(str(tmp_path / "sheet.png")) is not None


def test_grey_baseline_keeps_lightness_only():
    rgb = picture(3, 64, 48)
    grey = grey_baseline(rgb)
    assert colourfulness(grey) < 1.0
    lab = rgb_to_lab(torch.from_numpy(grey).permute(2, 0, 1).double() / 255)
    truth = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)
    assert (lab[0] - truth[0]).abs().max() < 0.5


def test_eval_command_prints_table_and_json(photo_folder, weights, tmp_path):
    result = run_cli("eval", photo_folder, "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu",
                     "--json", tmp_path / "scores.json", "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "vidcolor" in result.stdout and "grey" in result.stdout and "truth" in result.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["photos"] == 6 and set(scores) >= {"vidcolor", "grey", "truth"}


def test_soft_encoding_and_annealed_mean_agree_on_a_colour():
    """A true a*b* is encoded around its own bin; decoding a confident prediction of that bin gives it back."""
    ab = torch.tensor([-35.0, 62.0]).view(1, 2, 1, 1).expand(1, 2, 3, 3)
    index, weights = soft_encode(ab)  # (1, 9, 3, 3) each
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(1, 3, 3))
    assert (index.gather(1, weights.argmax(dim=1, keepdim=True))[:, 0] == bin_index(ab)).all()
    target = torch.zeros(1, BINS_PER_AXIS**2, 3, 3).scatter_add_(1, index, weights)  # dense (1, Q, 3, 3)
    decoded = annealed_mean(sharpen(torch.log(target + 1e-12) * 10))  # sharpened logits of the same distribution
    assert (decoded - ab).abs().max() < BIN_SIZE / 2


def test_chroma_restoration_keeps_vivid_objects_vivid_and_grey_ones_grey():
    """Sure of vivid but torn between two hues: the plain mean pales, the restored one keeps the chroma expected.
    Sure of grey: it stays grey."""
    torn = torch.full((1, BINS_PER_AXIS**2, 1, 2), -30.0)
    red, yellow = (int(bin_index(torch.tensor([[[[a]], [[b]]]]))) for a, b in ((65.0, 5.0), (5.0, 65.0)))
    neutral = int(bin_index(torch.tensor([[[[1.0]], [[1.0]]]])))
    torn[0, [red, yellow], 0, 0] = 1.0
    torn[0, neutral, 0, 1] = 1.0
    plain, restored = annealed_mean(sharpen(torn, 1.0)), annealed_mean(sharpen(torn, 1.0), chroma_restore=1.0)
    chroma = restored.pow(2).sum(dim=1).sqrt()[0, 0]
    assert plain.pow(2).sum(dim=1).sqrt()[0, 0, 0] < 50 < chroma[0] < 70  # bin centres sit at chroma 65.2
    assert chroma[1] < 8
    torch.testing.assert_close(restored[0, 0, 0, 0] / restored[0, 1, 0, 0], plain[0, 0, 0, 0] / plain[0, 1, 0, 0])


def test_the_annealed_mean_is_the_mean_of_the_sharpened_softmax_even_far_from_zero():
    """Centred logits need no max subtracted: a distribution far below or above zero decodes as torch's softmax."""
    logits = torch.randn(2, BINS_PER_AXIS**2, 3, 4) * 8 + torch.tensor([-400.0, 300.0]).view(2, 1, 1, 1)
    probabilities = torch.softmax(logits / 0.5, dim=1)
    expected = torch.einsum("bqhw,qc->bchw", probabilities, bin_centres())
    torch.testing.assert_close(annealed_mean(sharpen(logits, 0.5)), expected, atol=1e-3, rtol=0)


def test_the_sharpened_head_is_the_head_then_sharpen():
    """The model folds the temperature, the prior's bias and the centring into its last 1x1 convolution."""
    bins = BINS_PER_AXIS**2
    features, weight, bias = torch.randn(2, 32, 5, 6), torch.randn(bins, 32, 1, 1), torch.randn(bins)
    prior = torch.softmax(torch.randn(bins), dim=0)
    folded = F.conv2d(features, *sharpened_head(weight, bias, 0.4, prior_bias(prior, 0.3)))
    torch.testing.assert_close(folded, sharpen(F.conv2d(features, weight, bias), 0.4, prior_bias(prior, 0.3)),
                               atol=1e-4, rtol=1e-4)  # fmt: skip


def test_soft_encoding_at_the_edge_of_the_grid_stays_on_it():
    """Bins past the grid get no weight (not a clamped duplicate of the edge bin)."""
    ab = torch.tensor([-109.0, 109.5]).view(1, 2, 1, 1)
    index, weights = soft_encode(ab)
    assert weights.sum().item() == pytest.approx(1.0)
    assert (weights > 0).sum().item() == 4  # the corner bin and its 3 neighbours inside the grid
    assert len(set(index[weights > 0].tolist())) == 4


def test_prior_bias_lifts_rare_colours_only_where_the_network_gives_them_weight():
    prior = torch.full((BINS_PER_AXIS**2,), 1e-6)
    common = int(bin_index(torch.tensor([[[[2.0]], [[8.0]]]])))
    rare = int(bin_index(torch.tensor([[[[60.0]], [[55.0]]]])))
    prior[common], prior[rare] = 0.9, 0.01
    prior = prior / prior.sum()
    logits = torch.full((1, BINS_PER_AXIS**2, 1, 2), -30.0)
    logits[0, [common, rare], 0, 0] = torch.tensor([1.0, 0.2])  # unsure between dull and vivid
    logits[0, common, 0, 1] = 1.0  # sure it is dull
    plain, boosted = annealed_mean(sharpen(logits, 1.0)), annealed_mean(sharpen(logits, 1.0, prior_bias(prior, 1.0)))
    chroma = lambda ab: ab.pow(2).sum(dim=1).sqrt()[0, 0]  # noqa: E731
    assert chroma(boosted)[0] > chroma(plain)[0] + 10  # the rare, vivid option wins more of the mean
    torch.testing.assert_close(boosted[..., 1], plain[..., 1])  # no rare colour where the network gave it none
