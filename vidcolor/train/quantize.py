"""int8 for the CPU: the fp32 ONNX export quantized statically (QDQ, int8 weights per output channel, uint8
activations), its activation ranges calibrated on a few hundred training photos as the model sees them (L* at
the working size). onnxruntime runs it on VNNI / AVX2 int8 kernels."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import nn

from ..backends.onnx_export import INPUT_NAME, bins_head_index, cached_onnx, pooled_conv_indices
from ..color import rgb_to_lab
from ..models import SIZE_MULTIPLE
from .data import list_images, pair_frames, read_rgb


def calibration_lightness(photo: Path, short_side: int) -> np.ndarray:
    """L* (1, 1, h, w) float32 of ``photo`` as inference feeds a 16:9 video at the working size: scaled to cover
    it, centre cropped. One shape for all, as histogram calibration needs."""
    height, width = short_side, round(short_side * 16 / 9 / SIZE_MULTIPLE) * SIZE_MULTIPLE
    lightness = rgb_to_lab(read_rgb(photo).float() / 255)[:1].unsqueeze(0)
    scale = max(height / lightness.shape[-2], width / lightness.shape[-1])
    size = (max(height, round(lightness.shape[-2] * scale)), max(width, round(lightness.shape[-1] * scale)))
    lightness = F.interpolate(lightness, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    return lightness[..., top : top + height, left : left + width].contiguous().numpy()


class _Photos(CalibrationDataReader):
    def __init__(self, photos: list[Path], short_side: int) -> None:
        self._photos, self._short_side = iter(photos), short_side

    def get_next(self) -> dict[str, np.ndarray] | None:
        photo = next(self._photos, None)
        return None if photo is None else {INPUT_NAME: calibration_lightness(photo, self._short_side)}


# The stem and the first encoder stages stay float: quantized, they paled the colour by 4.7 % (holdout
# colourfulness) while float decoder stages did not help at all (benchmarks/README.md, int8 on the CPU).
FLOAT_CONVS = 8


def _bins_rendering(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """A bins head's last convolution, the gates' entropy convolution, and what comes after the first of them (the
    annealed mean, the gates; none for a regression head): exponentials and sums of probabilities near zero have
    no 8-bit scale (a quantized softmax also ran slower than the whole network; a quantized entropy read every
    place as unsure, and the confidence gate greyed the whole picture), and the logits the exponentials read none
    either (quantized, they cost 1 ms a 480p frame to quantize and dequantize and moved false colour on the
    benchmark by 0.2 points from one calibration to the next)."""
    head = bins_head_index(nodes)
    return [] if head is None else list(nodes[min([head, *pooled_conv_indices(nodes)]) :])


def quantize_int8(model: nn.Module, photos_folder: Path, out: Path, *, count: int, short_side: int,
                  seed: int = 0, float_convs: int = FLOAT_CONVS) -> list[Path]:  # fmt: skip
    """Write ``model`` as an int8 ONNX graph to ``out``, its first ``float_convs`` convolutions (and what comes
    before them) left in float; returns the calibration photos (``count``, a seeded pick)."""
    photos = pair_frames(photos_folder) or list_images(photos_folder)  # a night sensor's model: its own frames
    picked = sorted(random.Random(seed).sample(photos, min(count, len(photos))))
    with tempfile.TemporaryDirectory() as scratch, torch.no_grad():
        fp32 = cached_onnx(model, Path(scratch))
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)  # folds, fuses: cleaner QDQ
        nodes = onnx.load(str(prepared)).graph.node
        convs = [i for i, node in enumerate(nodes) if node.op_type == "Conv"]
        in_float = [node.name for node in nodes[: convs[float_convs]]] if float_convs else []
        in_float += [node.name for node in _bins_rendering(nodes)]
        quantize_static(str(prepared), str(out), _Photos(picked, short_side), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=in_float)  # fmt: skip
    return picked
