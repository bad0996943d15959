"""Model presets as data: a name -> architecture config, shipped weights file, working size."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from ..errors import WeightsError
from .mobile_unet import MobileUNetConfig

log = logging.getLogger("vidcolor")

ModelName = Literal["auto", "fast", "quality"]
# What the camera sees: visible light, or night vision. A thermal camera shows heat white-hot (the usual default)
# or black-hot (inverted); its model learned white-hot, so black-hot frames are inverted for it.
Sensor = Literal["visible", "thermal", "thermal-blackhot", "nir"]
SENSORS: tuple[str, ...] = ("visible", "thermal", "thermal-blackhot", "nir")
# How a night sensor's picture is shown: its own brightness with colour added, or the lightness the scene would
# have by day (the night models predict it). Each sensor's default is chosen by what a night viewer must see first,
# people and hot things, then by PSNR (README, "Night-vision feeds"): the camera's own for every sensor. Daylight
# hides what is hot (its contrast against the rest, output over sensor: thermal holdout 0.11x, the paired clip
# 0.01x; NIR 0.90x on average but under 0.9x on 18 of 40 frames), though it scores +1.5 dB on the thermal holdout.
Render = Literal["auto", "sensor", "daylight"]
RENDERS: tuple[str, ...] = ("auto", "sensor", "daylight")
DEFAULT_RENDER: dict[str, str] = {"visible": "sensor", "thermal": "sensor", "thermal-blackhot": "sensor",
                                  "nir": "sensor"}  # fmt: skip
Precision = Literal["auto", "fp32", "int8"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "int8")
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_SIZE = 256  # working short side of both presets, and of a checkpoint given by path


@dataclass(frozen=True)
class Preset:
    name: str
    config: MobileUNetConfig  # what `vidcolor train --model NAME` builds
    size: int  # working short side

    @property
    def weights(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.pt"

    @property
    def card(self) -> Path:
        return self.weights.with_suffix(".json")

    @property
    def int8(self) -> Path:
        """The int8 ONNX graph `vidcolor quantize` made of ``weights`` (run by the onnxruntime backend)."""
        return WEIGHTS_DIR / f"{self.name}-int8.onnx"


PRESETS: dict[str, Preset] = {
    # the CPU default: a*b* at stride 4 from a slim decoder
    "fast": Preset("fast", MobileUNetConfig(decoder_widths=(128, 96, 64, 32), scene_width=128), DEFAULT_SIZE),
    # the GPU default: a wider decoder, a*b* at stride 2
    "quality": Preset("quality", MobileUNetConfig(decoder_widths=(192, 128, 64, 48, 32), scene_width=128),
                      DEFAULT_SIZE),
    # night vision (--sensor): fast's network, fine-tuned on a sensor's frames paired with colour ones
    "thermal": Preset("thermal", MobileUNetConfig(decoder_widths=(128, 96, 64, 32), scene_width=128), DEFAULT_SIZE),
    "nir": Preset("nir", MobileUNetConfig(decoder_widths=(128, 96, 64, 32), scene_width=128), DEFAULT_SIZE),
}  # fmt: skip
MODEL_NAMES: tuple[str, ...] = ("auto", "fast", "quality")  # --model: the visible-light presets


def choose_preset(name: ModelName, backend: str, sensor: Sensor = "visible") -> Preset:
    """``auto``: ``fast`` where the model runs on the CPU, ``quality`` on a GPU; the choice is logged. A night
    sensor has one model of its own."""
    if sensor not in SENSORS:
        raise WeightsError(f"unknown sensor {sensor!r}; choose one of {', '.join(SENSORS)}")
    if sensor != "visible":
        if name != "auto":
            raise WeightsError(f"--sensor {sensor} has a model of its own: leave out --model {name}")
        return PRESETS[sensor.removesuffix("-blackhot")]
    if name != "auto":
        if name not in PRESETS:
            raise WeightsError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
        return PRESETS[name]
    on_gpu = backend in ("cuda", "tensorrt") or (backend == "auto" and torch.cuda.is_available())
    preset = PRESETS["quality" if on_gpu else "fast"]
    log.info("model %s (auto: %s)", preset.name, "GPU" if on_gpu else "CPU")
    return preset


def shipped_weights(preset: Preset) -> Path:
    if not preset.weights.is_file():
        raise WeightsError(
            f"no trained weights are installed for model {preset.name} ({preset.weights} is missing); "
            f"train them with `vidcolor train --model {preset.name}` or pass --weights PATH"
        )
    return preset.weights


def shipped_int8(preset: Preset) -> Path:
    if not preset.int8.is_file():
        raise WeightsError(f"model {preset.name} has no int8 version ({preset.int8} is missing): make it with "
                           f"vidcolor quantize PHOTOS --model {preset.name}, or use --precision fp32")  # fmt: skip
    return preset.int8


def choose_render(render: Render, sensor: Sensor, predicts_lightness: bool) -> str:
    """``sensor`` or ``daylight``: ``auto`` is the sensor's default where the model predicts lightness."""
    if render not in RENDERS:
        raise WeightsError(f"unknown rendering {render!r}; choose one of {', '.join(RENDERS)}")
    if render == "auto":
        return DEFAULT_RENDER[sensor] if predicts_lightness else "sensor"
    if render == "daylight" and not predicts_lightness:
        raise WeightsError("--render daylight needs a model that predicts lightness: a night sensor's (--sensor)")
    return render
