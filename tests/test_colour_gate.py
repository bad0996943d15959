"""The colour gate: a learnt factor on each frame's a*b* (issue 34, "do no harm")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TEST_SIZE, run_cli, untrained

from vidcolor import Colorizer
from vidcolor.backends.onnx_export import INPUT_NAME, export_onnx
from vidcolor.models.ab_bins import bin_entropy, summed_entropy
from vidcolor.models.checkpoint import load_model, save_checkpoint, set_rendering
from vidcolor.models.mobile_unet import MobileUNetConfig
from vidcolor.train.colour_gate import GateExamples, fit_gate

GATED = MobileUNetConfig(decoder_widths=(32, 24, 16, 16), scene_width=8, ab_bins=True, colour_gate=True)


def examples(statistics: torch.Tensor, truth_is_prediction: torch.Tensor) -> GateExamples:
    """Photos whose prediction has energy 100 a value and whose truth is either the prediction or grey."""
    count = torch.full((len(statistics),), 10.0, dtype=torch.float64)
    energy = 100.0 * count
    agreement = torch.where(truth_is_prediction, energy, 0.0)
    return GateExamples(statistics, energy, agreement, agreement.clone(), count)


def test_the_fitted_gate_keeps_right_colour_and_fades_colour_that_should_be_grey():
    generator = torch.Generator().manual_seed(0)
    entropy = torch.rand(400, generator=generator) * 4 + 1  # nats
    chroma = torch.rand(400, generator=generator) * 2
    grey_truth = entropy > 3.0  # unsure frames were grey in truth: their colour does harm
    data = examples(torch.stack((entropy, chroma), dim=1), ~grey_truth)
    gate = fit_gate(data)
    factor = gate(data.statistics).flatten()
    assert factor[grey_truth & (entropy > 3.5)].max() < 0.1
    assert factor[~grey_truth & (entropy < 2.5)].min() > 0.9
    assert gate.linear.weight[0, 0] < 0  # more entropy, less colour
    assert data.loss(factor.double()) < data.loss(torch.full_like(factor, 0.5).double())  # beats any one factor
    lifted = gate(data.statistics, lift=2.0).flatten()  # more colour kept: twice the factor, at most all of it
    torch.testing.assert_close(lifted, (2 * factor).clamp(max=1.0))


def test_the_summed_entropy_is_the_softmax_entropy():
    logits = torch.randn(2, 50, 3, 4) * 3
    logits = logits - logits.mean(dim=1, keepdim=True)  # centred, as the shipped heads' are
    torch.testing.assert_close(summed_entropy(logits), bin_entropy(logits), atol=1e-4, rtol=1e-5)


def gated_model(bias: float) -> torch.nn.Module:
    torch.manual_seed(0)
    model = untrained(GATED)
    with torch.no_grad():
        model.colour_gate.linear.weight.copy_(torch.tensor([[-1.0, 0.5]]))
        model.colour_gate.linear.bias.fill_(bias)
    return model.eval()


def test_the_gate_scales_each_frame_as_a_whole_and_an_untrained_one_keeps_the_colour():
    lightness = torch.rand(2, 1, 64, 96) * 100
    model = gated_model(bias=6.0)  # the untrained head: entropy 6.06 nats, a factor near 0.5
    with torch.no_grad():
        features = model.decode(lightness)
        plain = model.colour(features, gated=False)
        gated = model.colour(features)
        expected = torch.sigmoid(model.colour_gate.linear(model.frame_statistics(features, plain)))
        untouched = untrained(GATED).eval()
        untouched.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("colour_gate")},
                                  strict=False)  # fmt: skip
        kept = untouched.colour(features)
    assert plain.abs().mean() > 1  # a real colour to gate
    ratio = gated / plain
    for frame in range(2):  # one factor for the whole frame, the one the gate gives
        torch.testing.assert_close(ratio[frame], torch.full_like(ratio[frame], float(expected[frame])), rtol=1e-4,
                                   atol=1e-4)  # fmt: skip
    assert 0.0 < float(expected.min()) < 0.99
    torch.testing.assert_close(kept, plain * torch.sigmoid(torch.tensor(6.0)), rtol=1e-5, atol=1e-5)


def test_a_gated_model_exports_to_onnx_as_pytorch_runs_it(tmp_path: Path):
    ort = pytest.importorskip("onnxruntime")
    model = gated_model(bias=6.0)
    session = ort.InferenceSession(str(export_onnx(model, tmp_path / "gated.onnx")), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 64, 96), (2, 1, 128, 64)]:
        lightness = torch.rand(shape) * 100
        with torch.no_grad():
            expected = model(lightness).numpy()
        got = session.run(None, {INPUT_NAME: lightness.numpy()})[0]
        assert np.abs(expected).mean() > 1.0
        assert np.abs(got - expected).max() < 1e-3


def test_train_gate_writes_a_checkpoint_whose_other_weights_are_untouched(photo_folder: Path, tmp_path: Path):
    torch.manual_seed(0)
    base, out = tmp_path / "bins.pt", tmp_path / "gated.pt"
    save_checkpoint(untrained(MobileUNetConfig(decoder_widths=(32, 24, 16, 16), scene_width=8, ab_bins=True)), base)
    result = run_cli("train-gate", photo_folder, "--weights", base, "--out", out, "--size", TEST_SIZE, "--lift", "1.5",
                     "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = torch.load(out, weights_only=True)
    before = torch.load(base, weights_only=True)["state_dict"]
    assert written["config"]["colour_gate"] and written["config"]["render_gate_lift"] == 1.5
    assert written["info"]["colour_gate"]["photos"] == 6
    assert all(torch.equal(written["state_dict"][k], v) for k, v in before.items())
    assert set(written["state_dict"]) - set(before) == {"colour_gate.linear.weight", "colour_gate.linear.bias"}
    model = load_model(out)
    assert model.colour_gate is not None and model.config.render_gate_lift == 1.5
    image = Colorizer(backend="cpu", size=TEST_SIZE, weights=out).colorize_image(np.full((48, 64), 90, np.uint8))
    assert image.shape == (48, 64, 3)
    set_rendering(out, tmp_path / "lifted.pt", temperature=0.5, boost=0.0, chroma=0.0, gate_lift=3.0)
    assert load_model(tmp_path / "lifted.pt").config.render_gate_lift == 3.0  # the lift is a rendering: set later


def test_train_gate_refuses_a_lift_below_one_and_a_regression_model(photo_folder: Path, weights: Path,
                                                                     tmp_path: Path):  # fmt: skip
    result = run_cli("train-gate", photo_folder, "--weights", weights, "--out", tmp_path / "x.pt", "--lift", "0.5")
    assert result.returncode != 0 and "--lift must be at least 1" in result.stderr
    result = run_cli("train-gate", photo_folder, "--weights", weights, "--out", tmp_path / "x.pt", "--size", TEST_SIZE)
    assert result.returncode != 0 and "bins head" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.pt").exists()
