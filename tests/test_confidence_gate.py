"""The bins head's own uncertainty and the confidence gate on its colour (issue 34, "do no harm")."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import untrained

from vidcolor.backends.onnx_export import INPUT_NAME, bins_head_index, export_onnx
from vidcolor.models.ab_bins import bin_entropy, confidence_gate
from vidcolor.models.checkpoint import load_model, save_checkpoint, set_rendering
from vidcolor.models.colour_gate import pooled_entropy
from vidcolor.models.mobile_unet import MobileUNetConfig

BINS = MobileUNetConfig(decoder_widths=(32, 24, 16, 16), scene_width=8, ab_bins=True)


def test_bin_entropy_is_zero_for_one_bin_and_log_q_for_all_alike():
    sure = torch.full((1, 10, 2, 3), -50.0)
    sure[:, 4] = 50.0
    entropy = bin_entropy(torch.cat((sure, torch.zeros(1, 10, 2, 3))))
    assert entropy.shape == (2, 1, 2, 3)
    torch.testing.assert_close(entropy[0], torch.zeros(1, 2, 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(entropy[1], torch.full((1, 2, 3), math.log(10)), atol=1e-5, rtol=0)


def test_the_gate_keeps_what_is_sure_greys_what_is_not_and_is_off_at_zero():
    entropy = torch.full((2, 1, 8, 8), 1.0)
    entropy[0, :, :, 4:] = 5.0  # frame 0: its right half unsure; frame 1 sure everywhere
    assert torch.equal(confidence_gate(entropy), torch.ones_like(entropy))
    factor = confidence_gate(entropy, pixel_entropy=4.0, width=1.0)
    assert torch.equal(factor[0, :, :, :3], torch.ones(1, 8, 3))
    assert torch.equal(factor[0, :, :, 5:], torch.zeros(1, 8, 3))
    assert torch.equal(factor[1], torch.ones(1, 8, 8))
    framed = confidence_gate(entropy, frame_entropy=3.5)  # frame 0's mean entropy is 3: half its colour
    torch.testing.assert_close(framed[0], torch.full((1, 8, 8), 0.5))
    torch.testing.assert_close(framed[1], torch.ones(1, 8, 8))


def test_a_gated_rendering_is_stored_and_scales_the_models_colour_toward_grey(tmp_path: Path):
    torch.manual_seed(0)
    plain = tmp_path / "plain.pt"
    save_checkpoint(untrained(BINS), plain)
    lightness = torch.rand(1, 1, 64, 64) * 100
    renders = {}
    for name, gate in (("off", 0.0), ("lenient", 100.0), ("strict", 1e-3)):
        set_rendering(plain, tmp_path / f"{name}.pt", temperature=0.5, boost=0.0, chroma=0.0, gate=gate)
        model = load_model(tmp_path / f"{name}.pt")
        assert model.config.render_gate == gate
        with torch.inference_mode():
            renders[name] = model(lightness)
    assert load_model(plain).config.render_gate == 0.0  # the default: no gate
    assert renders["off"].abs().max() > 1  # the random head gives colour
    torch.testing.assert_close(renders["lenient"], renders["off"], atol=1e-3, rtol=1e-4)  # entropy far below 99 nats
    assert torch.equal(renders["strict"], torch.zeros_like(renders["strict"]))  # every entropy is above 0.001 - 1


def test_the_gate_width_must_be_positive():
    with pytest.raises(ValueError, match="render_gate_width"):
        MobileUNetConfig(ab_bins=True, render_gate=4.0, render_gate_width=0.0)


def test_the_region_gate_reads_the_pooled_entropy_exports_as_pytorch_runs_it_and_the_head_is_still_found(tmp_path):
    """The gate reads the bins' entropy at the colour gate's 4x4-pooled places (at every place it doubled the int8
    graph's time), after the colour gate; the exported graph computes that entropy apart from the head, which
    ``bins_head_index`` (the int8 graph's float tail, the hinted graph's features) must still find by its wiring."""
    ort, onnx = pytest.importorskip("onnxruntime"), pytest.importorskip("onnx")
    torch.manual_seed(0)
    model = untrained(replace(BINS, colour_gate=True))
    lightness = torch.rand(1, 1, 64, 96) * 100
    with torch.no_grad():
        features = model.decode(lightness)
        entropy = pooled_entropy(features, model.head, model.rendered_bins)  # (1, 1, 4, 6): 16 x 16 px places
        gate = float(entropy.mean()) + 0.5  # a factor near a half
        model.config = replace(model.config, render_gate=gate)
        plain, gated = model.colour(features, gated=False), model.colour(features)
        model.config = replace(model.config, render_gate=0.0)
        colour_gated = model.colour(features)
    expected = F.interpolate(confidence_gate(entropy, gate), size=plain.shape[-2:], mode="bilinear",
                             align_corners=False)  # fmt: skip
    assert entropy.shape[-2:] == (4, 6) and 0.3 < float(expected.mean()) < 0.7
    torch.testing.assert_close(gated, colour_gated * expected)  # after the colour gate, from the pooled entropy
    assert plain.abs().mean() > colour_gated.abs().mean() > gated.abs().mean()

    model.config = replace(model.config, render_gate=gate)
    path = export_onnx(model, tmp_path / "gated.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(lightness).numpy()
    assert np.abs(session.run(None, {INPUT_NAME: lightness.numpy()})[0] - expected).max() < 1e-3
    graph = onnx.load(str(path)).graph
    nodes, weights = list(graph.node), {tensor.name: tensor for tensor in graph.initializer}
    head = nodes[bins_head_index(nodes)]
    made_by = {output: node for node in nodes for output in node.output}
    assert head.op_type == "Conv" and made_by[head.input[0]].op_type != "AveragePool"
    assert weights[head.input[1]].dims[0] == len(model.rendered_bins)  # the head's logits, not a decoder layer
