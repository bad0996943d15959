"""Read MobileNetV2's ImageNet weights out of a quantized TFLite flatbuffer into `MobileNetV2`.

A training-time tool (`pip install "vidcolor[train]"`): it needs the pure-Python `tflite` and `flatbuffers`
readers, no TensorFlow. Shipped colorizer checkpoints hold the whole network, so inference never needs it.
Facts this relies on (see ../shared/models/README.md): conv weights are stored OHWI and depthwise ones 1HWC,
both uint8 with one scale and zero point per tensor; biases are int32 with the batch norm already folded in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import WeightsError
from .mobilenetv2 import MobileNetV2, TFConv

DEFAULT_TFLITE = Path("../shared/models/mobilenet_v2_1.0_224_quant.tflite")


def _dequantize(model, subgraph, index: int) -> np.ndarray:
    import tflite

    tensor = subgraph.Tensors(index)
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    dtype = {tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT8: np.int8,
             tflite.TensorType.INT32: np.int32, tflite.TensorType.FLOAT32: np.float32}[tensor.Type()]  # fmt: skip
    values = np.frombuffer(raw.tobytes(), dtype=dtype).reshape(tensor.ShapeAsNumpy()).astype(np.float64)
    quant = tensor.Quantization()
    if quant is not None and quant.ScaleLength():
        scale, zero = quant.ScaleAsNumpy(), quant.ZeroPointAsNumpy()
        if scale.size != 1:
            raise WeightsError("per-channel quantized TFLite weights are not supported")
        values = (values - zero[0]) * scale[0]
    return values.astype(np.float32)


def read_convolutions(path: str | Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every CONV_2D / DEPTHWISE_CONV_2D of the graph, in graph order, as float (OIHW weight, bias)."""
    try:
        import tflite
    except ImportError as exc:
        raise WeightsError("reading .tflite weights needs the train extra: pip install 'vidcolor[train]'") from exc
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"pretrained encoder not found: {path}")
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    subgraph = model.Subgraphs(0)
    convolutions = []
    for i in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin not in (tflite.BuiltinOperator.CONV_2D, tflite.BuiltinOperator.DEPTHWISE_CONV_2D):
            continue
        weight = _dequantize(model, subgraph, op.Inputs(1))  # OHWI, or 1HWC for depthwise
        bias = _dequantize(model, subgraph, op.Inputs(2))
        order = (3, 0, 1, 2) if builtin == tflite.BuiltinOperator.DEPTHWISE_CONV_2D else (0, 3, 1, 2)
        convolutions.append((torch.from_numpy(weight.transpose(order).copy()), torch.from_numpy(bias)))
    return convolutions


def load_imagenet_mobilenetv2(
    path: str | Path = DEFAULT_TFLITE, *, in_channels: int = 3, classifier: bool = False
) -> MobileNetV2:
    """MobileNetV2 with the file's ImageNet weights. ``in_channels`` = 1 sums the stem's filters over RGB."""
    convolutions = read_convolutions(path)
    network = MobileNetV2(in_channels=3, classifier=True)
    layers = [m.conv for m in network.modules() if isinstance(m, TFConv)] + [network.classifier]
    if len(layers) != len(convolutions):
        raise WeightsError(f"{path}: {len(convolutions)} convolutions, MobileNetV2 1.0 has {len(layers)}")
    with torch.no_grad():
        for layer, (weight, bias) in zip(layers, convolutions, strict=True):
            if layer.weight.shape != weight.shape:
                raise WeightsError(
                    f"{path}: a {tuple(weight.shape)} kernel where MobileNetV2 has {tuple(layer.weight.shape)}"
                )
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
    if in_channels == 1:
        stem = network.stem.conv
        grey = torch.nn.Conv2d(1, stem.out_channels, 3, stride=2, bias=True)
        with torch.no_grad():
            grey.weight.copy_(stem.weight.sum(dim=1, keepdim=True))
            grey.bias.copy_(stem.bias)
        network.stem.conv = grey
    if not classifier:
        network.classifier = None
    return network.eval()
