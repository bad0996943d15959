"""What a night-vision viewer looks for first: people and other hot things. Hot-object contrast measures how much of
the sensor's own contrast between what is hot and the rest an output keeps:

    (mean output L* over the sensor's hottest 5 % of pixels - mean output L* over the rest)
    / (the same difference of the sensor frame's own L*)

1 keeps what is hot as visible as the sensor shows it, 0 hides it in a flat picture, a negative ratio draws it
darker than its surroundings. The hottest pixels are the brightest of a white-hot (or NIR) frame and the darkest of
a black-hot one. Over a clip the two differences are each averaged over the frames before dividing, so frames in
which the sensor shows little contrast weigh little.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..color import rgb_to_lab

HOT_SHARE = 0.05  # the sensor's hottest pixels: this share of each frame (ties with the last one included)
MIN_SENSOR_GAP = 1e-6  # L*: a sensor frame with no more contrast than this between hot and the rest has no ratio


def hot_is_bright(sensor: str) -> bool:
    """Whether ``--sensor``'s frames show heat (or infrared light) bright: all but a black-hot thermal camera."""
    return not sensor.endswith("-blackhot")


def lightness(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> CIELAB L* (H, W), float64."""
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)[0].numpy()


def hot_contrast(shown: np.ndarray, sensor: np.ndarray, *, hot_is_bright: bool = True) -> float | None:
    """Hot-object contrast of ``shown`` (output L*) against ``sensor`` (the sensor frame's L*), both (H, W) or
    (T, H, W) of the same shape; None where the sensor frames show no contrast at all."""
    if shown.shape != sensor.shape:
        raise ValueError(f"output {shown.shape} and sensor {sensor.shape} differ in shape")
    shown = np.asarray(shown, np.float64).reshape(-1, math.prod(shown.shape[-2:]))  # (T, pixels)
    sensor = np.asarray(sensor, np.float64).reshape(shown.shape)
    heat = sensor if hot_is_bright else -sensor
    count = math.ceil(HOT_SHARE * heat.shape[1])
    hot = heat >= np.partition(heat, -count, axis=1)[:, -count:].min(axis=1, keepdims=True)  # (T, pixels)
    frames = (~hot).any(axis=1)  # a frame all of one level has no "rest"
    if not frames.any():
        return None
    hot, rest = hot[frames], ~hot[frames]

    def gap(values: np.ndarray) -> float:  # mean over the frames of (mean over hot - mean over the rest)
        values = values[frames]
        return float(np.mean((values * hot).sum(1) / hot.sum(1) - (values * rest).sum(1) / rest.sum(1)))

    sensor_gap = gap(sensor)
    return None if abs(sensor_gap) < MIN_SENSOR_GAP else gap(shown) / sensor_gap


def mean_of_measured(values: list[float | None]) -> float | None:
    """The mean of the values that were measured (not None): photos or clips with a ratio; None where none has."""
    measured = [v for v in values if v is not None]
    return float(np.mean(measured)) if measured else None
