"""The public colorizer: weights + backend + colour maths, for images and for video luma planes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .backends import BackendName, check_backend, create_backend, runs_int8
from .backends.base import Backend
from .backends.pytorch import TorchCPUBackend
from .color import (
    YuvFormat,
    chroma_range,
    grey_to_lightness,
    lab_to_chroma,
    lab_to_rgb,
    lightness_to_grey,
    lightness_to_luma,
    luma_to_lightness_table,
    luma_weights,
    rgb_to_lab,
    scale_saturation,
)
from .errors import InputError, WeightsError
from .guidance.hints import Hint, hint_planes, merge_planes
from .guidance.reference import Reference
from .guided_upsample import guided_upsample
from .models import SIZE_MULTIPLE
from .models.checkpoint import load_model
from .models.presets import (
    DEFAULT_SIZE,
    ModelName,
    Precision,
    Render,
    Sensor,
    choose_preset,
    choose_render,
    shipped_int8,
    shipped_weights,
)
from .temporal import Known, MotionLink, TemporalSmoother

log = logging.getLogger("vidcolor")


@dataclass(frozen=True)
class Prediction:
    """What the model thread hands on: full-size L* (B, 1, H, W), the working-size L* (B, 1, h, w), which guides
    the colour back to full size, and a*b* (B, 2, h, w) at the working size. Both L* are the picture's own, or,
    ``relit`` (the daylight rendering), the model's daylight lightness brought to full size along the picture's."""

    lightness: torch.Tensor
    model_lightness: torch.Tensor
    ab: torch.Tensor
    relit: bool = False


@dataclass(frozen=True)
class NetworkRun:
    """What ``Colorizer.run_network`` hands ``Colorizer.guide``: the L* the network saw, its output, and where
    hints are to be followed, the decoder's features and the hint planes; the reference's links to the frames."""

    seen: torch.Tensor
    out: torch.Tensor
    features: torch.Tensor | None = None
    hints: torch.Tensor | None = None
    links: list[MotionLink | None] | None = None


@dataclass(frozen=True)
class Guided:
    """What ``Colorizer.guided`` hands a smoother: the guided planes (B, C, h, w); per frame, the reference's colour
    carried onto it and where it holds (``Reference.known``; None without a reference matched by lightness), which
    seeds the scene memory; and how far each pixel took its hints' colour (B, h, w, 0..1; None without hints),
    which the memory neither overrides nor, in files, fades with the shot's doubt of the model."""

    planes: torch.Tensor
    known: list[Known | None] | None = None
    told: np.ndarray | None = None


def working_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """The model's input size for a picture: short side ``short_side``, aspect kept to the nearest multiple."""
    scale = short_side / min(height, width)
    def snap(side: int) -> int:
        return max(SIZE_MULTIPLE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    return snap(height), snap(width)


def check_working_size(working: int, width: int, height: int) -> None:
    """Refuse a model working size above both the picture's short side and the default, for any picture or video:
    colour
    predicted finer than the picture costs time (quadratically) and adds nothing (--size 4096 on a 256 px photo
    ran 32 s)."""
    largest = max(min(width, height), DEFAULT_SIZE)
    if working > largest:
        raise InputError(f"--size {working} is larger than this {width}x{height} input needs: use --size "
                         f"{largest // SIZE_MULTIPLE * SIZE_MULTIPLE} or less")  # fmt: skip


class Colorizer:
    """Predicts colour from lightness with a shipped model preset (``model``: ``fast``, ``quality``, or ``auto``
    for fast on the CPU and quality on a GPU), or the checkpoint ``weights`` names. ``size`` (the working
    short side) defaults to the preset's. ``precision`` ``auto`` runs a shipped model's int8 graph where onnxruntime
    runs the model (it keeps the float colour: benchmarks/README.md), float32 elsewhere. ``threads``: the model's
    threads on a CPU (default: all cores but one; each of several workers on one machine gets its share).
    ``refine`` brings a*b* to the output's size along its luma's edges (``guided_upsample``); off, bilinearly,
    for comparing the two. ``sensor`` ``thermal`` (white-hot), ``thermal-blackhot`` or ``nir`` picks the model
    trained on that kind of night-vision frame (``model`` then stays ``auto``). ``render`` ``sensor`` keeps the
    picture's own brightness and adds colour; ``daylight`` (night models) shows the lightness the scene would
    have by day, which that model predicts too; ``auto`` is each sensor's default (``choose_render``)."""

    def __init__(
        self, *, backend: BackendName = "auto", size: int | None = None, weights: str | Path | None = None,
        model: ModelName = "auto", precision: Precision = "auto", threads: int | None = None, refine: bool = True,
        sensor: Sensor = "visible", render: Render = "auto",
    ) -> None:  # fmt: skip
        check_backend(backend)
        int8_graph = None
        if weights is None:
            preset = choose_preset(model, "onnxruntime" if precision == "int8" else backend, sensor)
            weights, default_size, self.model_name = shipped_weights(preset), preset.size, preset.name
            if precision == "int8" or (precision == "auto" and runs_int8(backend) and preset.int8.is_file()):
                int8_graph, self.model_name = shipped_int8(preset), f"{preset.name}-int8"
        elif model != "auto":
            raise WeightsError(f"give a shipped model ({model}) or a checkpoint ({weights}), not both")
        elif precision == "int8":
            raise WeightsError("int8 is made for the shipped models (vidcolor quantize makes one for a checkpoint)")
        else:
            default_size, self.model_name = DEFAULT_SIZE, Path(weights).name
        size = default_size if size is None else size
        if size < SIZE_MULTIPLE or size % SIZE_MULTIPLE:
            raise ValueError(f"size must be a positive multiple of {SIZE_MULTIPLE}, got {size}")
        self.size, self.refine, self.sensor = size, refine, sensor
        self.weights_sha256 = hashlib.sha256(Path(weights).read_bytes()).hexdigest()  # tells a resumed run's model
        network = load_model(weights)
        self.render = choose_render(render, sensor, getattr(network.config, "predict_lightness", False))
        self.backend = create_backend(backend, network, int8_graph=int8_graph, threads=threads)
        self.takes_hints = bool(getattr(network.config, "hint_keys", 0))
        self._network, self._threads, self._hinted_backend = network, threads, None
        self._lightness_tables: dict[bool, torch.Tensor] = {}
        log.info("backend %s, model %s, working size %d%s", self.backend.describe(), self.model_name, size,
                 "" if sensor == "visible" else f", sensor {sensor}, {self.render} rendering")  # fmt: skip

    @property
    def device(self) -> torch.device:
        return self.backend.device

    def model_input(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* (B, 1, H, W) -> L* (B, 1, h, w) at the working size."""
        size = working_size(*lightness.shape[-2:], self.size)
        return F.interpolate(lightness, size=size, mode="bilinear", antialias=True, align_corners=False)

    def infer(self, model_input: torch.Tensor, hints: torch.Tensor | None = None,
              reference: Reference | None = None) -> torch.Tensor:  # fmt: skip
        """L* at the working size -> a*b*, and the correction to daylight L* after it where the rendering is
        daylight: a black-hot thermal frame is shown to its white-hot model inverted (as the grey it is on screen,
        so the tones are the camera's). ``hints``: hint planes at the working size (B, 3, h, w), or None;
        ``reference``: a colour picture of the view, whose colours are taken where the frame shows it."""
        return self.guide(self.run_network(model_input, hints, reference), reference)

    def run_network(self, model_input: torch.Tensor, hints: torch.Tensor | None = None,
                    reference: Reference | None = None) -> NetworkRun:  # fmt: skip
        """``infer``'s first half, the network: a file pipeline runs it on the model's thread and ``guide`` on
        the next one, so following hints and taking a reference's colour do not hold up the next frame's
        network."""
        seen = self._seen(model_input)
        links = reference.links(model_input) if reference is not None and not self._sees_heat else None
        if links is not None and self.takes_hints:
            hints = merge_planes(hints, reference.kind_planes(model_input, links, self._describe))
        if hints is None:
            return NetworkRun(seen, self.backend.infer(seen), links=links)
        out, features = self.hinted_backend().infer_with_features(seen)
        return NetworkRun(seen, out, features, hints, links)

    def guide(self, run: NetworkRun, reference: Reference | None = None) -> torch.Tensor:
        """``infer``'s second half: the network's output moved toward its hints, then to the reference's colour
        where the frame shows it."""
        return self.guided(run, reference).planes

    def guided(self, run: NetworkRun, reference: Reference | None = None) -> Guided:
        """``guide``'s planes, with what a smoother needs beside them: the reference's colour known for each frame
        (taken here, and seeding the memory) and where the colour is a person's hints' (``Guided``)."""
        out, told = run.out, None
        if run.hints is not None:
            out, confidence = self.hinted_backend().follow_hints(run.seen, run.hints, run.out, run.features)
            told = confidence[:, 0].float().cpu().numpy()
        out = out if self.render == "daylight" else out[:, :2]
        if reference is None:
            return Guided(out, told=told)
        if self._sees_heat:
            return Guided(reference.apply_to_thermal(run.seen, out), told=told)
        known = None if run.links is None else reference.known(run.links, *run.seen.shape[-2:])
        return Guided(torch.cat((reference.apply(run.links, out[:, :2], known), out[:, 2:]), dim=1), known, told)

    @property
    def _sees_heat(self) -> bool:
        """Heat, not light: a thermal frame is matched to its reference in place, not by lightness or by kind."""
        return self.sensor.startswith("thermal")

    @torch.inference_mode()
    def _describe(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* (B, 1, h, w) -> what each place shows (``MobileUNet.kinds``), on the host."""
        parameter = next(self._network.parameters())
        return self._network.kinds(lightness.to(parameter.device, parameter.dtype)).float().cpu()

    def hinted_backend(self) -> Backend:
        """The backend that runs hinted frames: this one where its graph takes hints, else PyTorch on the CPU with
        the same network (an int8 or TensorRT graph is built without hint inputs)."""
        if not self.takes_hints:
            raise WeightsError(f"model {self.model_name} takes no colour hints (its weights have no hint attention)")
        if self._hinted_backend is None:
            self._hinted_backend = self.backend if self.backend.takes_hints else TorchCPUBackend(
                self._network, threads=self._threads)  # fmt: skip
            if self._hinted_backend is not self.backend:
                log.info("hinted frames run on %s", self._hinted_backend.describe())
        return self._hinted_backend

    def _hint_planes(self, hints: Sequence[Hint], model_input: torch.Tensor) -> torch.Tensor:
        """Hints -> their planes (B, 3, h, w) at the size of ``model_input``, on ``device``."""
        planes = hint_planes(hints, *model_input.shape[-2:]).to(self.device)
        return planes.expand(model_input.shape[0], -1, -1, -1)

    def _seen(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* as the model is shown it: a black-hot frame as the white-hot one it inverts."""
        if self.sensor == "thermal-blackhot":
            return grey_to_lightness(1 - lightness_to_grey(lightness))
        return lightness

    def relit(self, lightness: torch.Tensor, correction: torch.Tensor) -> torch.Tensor:
        """L* (B, 1, H, W) and the model's correction toward daylight at the same size -> daylight L*."""
        return (self._seen(lightness) + correction).clamp(0.0, 100.0)

    def _prediction(self, lightness: torch.Tensor, smoother: TemporalSmoother | None = None,
                    hints: Sequence[Hint] = (), reference: Reference | None = None) -> Prediction:  # fmt: skip
        """Full-size L* (B, 1, H, W) -> its prediction; daylight L* goes to full size along the picture's edges."""
        model_input = self.model_input(lightness)
        run = self.run_network(model_input, self._hint_planes(hints, model_input) if hints else None, reference)
        return self.prediction_of_run(lightness, model_input, run, smoother, reference)

    def prediction_of_run(self, lightness: torch.Tensor, model_input: torch.Tensor, run: NetworkRun,
                          smoother: TemporalSmoother | None = None,
                          reference: Reference | None = None) -> Prediction:  # fmt: skip
        """The prediction from the network's run (``run_network``) on ``model_input``, made from the full-size L*
        ``lightness``: guided, smoothed, brought to full size. Live mode runs it on another thread than the
        network."""
        guided = self.guided(run, reference)
        out = guided.planes if smoother is None else smoother(model_input, guided.planes, guided.known, guided.told)
        return self._finish(lightness, model_input, out)

    def _finish(self, lightness: torch.Tensor, model_input: torch.Tensor, out: torch.Tensor) -> Prediction:
        """Full-size L*, the model's input and its (smoothed) planes -> the prediction."""
        if self.render == "sensor":
            return Prediction(lightness, model_input, out)
        # The correction is smooth (the model's output stride): added at each size, the picture keeps its detail
        # and takes daylight's brightness; brought to full size along the picture's edges, a person's outline
        # bounds the correction to the person.
        correction = out[:, 2:]
        relit = self.relit(lightness, self._upsample(correction, model_input, lightness))
        return Prediction(relit, self.relit(model_input, correction), out[:, :2], relit=True)

    def upload(self, luma: np.ndarray) -> torch.Tensor:
        """uint8 Y' planes (B, H, W) -> the same on ``device``: the only upload per frame."""
        planes = torch.from_numpy(luma)
        if self.device.type == "cuda":
            planes = planes.pin_memory()  # lets the copy run asynchronously
        return planes.to(self.device, non_blocking=True)

    def lightness_from_luma(self, luma: torch.Tensor, full_range: bool) -> torch.Tensor:
        """uint8 Y' (B, H, W) on ``device`` -> L* (B, 1, H, W) by table lookup."""
        if full_range not in self._lightness_tables:
            self._lightness_tables[full_range] = luma_to_lightness_table(full_range, self.device)
        table = self._lightness_tables[full_range]
        if luma.device.type == "cpu":  # OpenCV's LUT: a sixteenth of indexing's time (0.06 ms a 480p frame, 0.97)
            flat = cv2.LUT(luma.numpy().reshape(-1, luma.shape[-1]), table.numpy())
            return torch.from_numpy(flat).view(luma.shape).unsqueeze(1)
        return table[luma.long()].unsqueeze(1)

    def _upsample(self, planes: torch.Tensor, guide_low: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """Working-size planes predicted from the L* ``guide_low`` -> at the size of the L* ``guide``: along its
        edges where ``refine``, else bilinear."""
        if self.refine:
            return guided_upsample(planes, guide_low, guide)
        return F.interpolate(planes, size=guide.shape[-2:], mode="bilinear", align_corners=False)

    def upsample_ab(self, prediction: Prediction, lightness: torch.Tensor) -> torch.Tensor:
        """The prediction's a*b* at the size of ``lightness`` (B, 1, H, W), the L* it is to colour."""
        return self._upsample(prediction.ab, prediction.model_lightness, lightness)

    def chroma_from(self, prediction: Prediction, fmt: YuvFormat) -> tuple[torch.Tensor, torch.Tensor]:
        """A prediction -> uint8 Cb, Cr (B, ceil(H/2), ceil(W/2)) of its full-size L* (B, 1, H, W), on device."""
        lightness = prediction.lightness
        chroma_size = ((lightness.shape[-2] + 1) // 2, (lightness.shape[-1] + 1) // 2)
        lightness = F.interpolate(lightness, size=chroma_size, mode="area")
        return lab_to_chroma(lightness, self.upsample_ab(prediction, lightness), fmt)

    def predict(self, luma: np.ndarray, fmt: YuvFormat, smoother: TemporalSmoother | None = None,
                reference: Reference | None = None) -> Prediction:  # fmt: skip
        """uint8 Y' planes (B, H, W), in stream order -> L* and the (smoothed) a*b* on ``device``.

        ``smoother`` carries one stream's colour history from call to call; ``reference`` as for ``infer``.
        """
        lightness = self.lightness_from_luma(self.upload(luma), fmt.full_range)
        return self._prediction(lightness, smoother, reference=reference)

    def model_input_of(self, luma: np.ndarray, fmt: YuvFormat) -> torch.Tensor:
        """uint8 Y' planes (B, H, W) -> the model's input L* (B, 1, h, w), for a pipeline that makes it ahead of the
        model and smooths the model's planes before ``prediction_of`` makes their prediction (file mode's)."""
        return self.model_input(self.lightness_from_luma(self.upload(luma), fmt.full_range))

    def prediction_of(self, luma: np.ndarray, fmt: YuvFormat, model_input: torch.Tensor,
                      planes: torch.Tensor) -> Prediction:  # fmt: skip
        """What ``predict`` returns, from ``model_input_of``'s input and the model's planes, smoothed meanwhile."""
        return self._finish(self.lightness_from_luma(self.upload(luma), fmt.full_range), model_input, planes)

    def luma(self, prediction: Prediction, luma: np.ndarray, fmt: YuvFormat) -> np.ndarray:
        """The uint8 Y' planes (B, H, W) in ``fmt`` to show with the prediction's chroma: ``luma``, the picture's
        own, unless the prediction is relit."""
        if not prediction.relit:
            return luma
        return lightness_to_luma(prediction.lightness[:, 0], fmt.full_range).cpu().numpy()

    def chroma(
        self, prediction: Prediction, fmt: YuvFormat, saturation: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """A prediction -> uint8 Cb, Cr planes (B, ceil(H/2), ceil(W/2)) for 4:2:0 in ``fmt``, on the host, their
        distance from grey scaled by ``saturation``.

        Only uint8 planes cross between host and device: Y' up (``predict``), Cb and Cr down (here).
        """
        cb, cr = self.chroma_from(prediction, fmt)
        low, high = chroma_range(fmt)
        return tuple(scale_saturation(plane.cpu().numpy(), 128, saturation, low, high) for plane in (cb, cr))

    def planes(
        self, luma: np.ndarray, fmt: YuvFormat, smoother: TemporalSmoother | None = None,
        output: YuvFormat | None = None, saturation: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """uint8 Y' (B, H, W) in ``fmt`` -> the colour picture's Y', Cb, Cr: ``predict``, ``luma`` and ``chroma``
        in one call. The picture is in ``fmt`` unless ``output`` names another format (live mode shows full-range
        BT.601, whatever the camera sends); the input's own Y' is returned as it came."""
        prediction = self.predict(luma, fmt, smoother)
        cb, cr = self.chroma(prediction, output or fmt, saturation)
        return self.luma(prediction, luma, output or fmt), cb, cr

    def colorize_image(self, image: np.ndarray, saturation: float = 1.0, hints: Sequence[Hint] = (),
                       reference: Reference | None = None) -> np.ndarray:  # fmt: skip
        """Grey (H, W) or RGB (H, W, 3), uint8 or uint16 -> RGB (H, W, 3) of the same type; the output keeps the
        input's L* (all 16 bits of a deep scan, not a rounding to 8) where ``saturation`` is 1, unless relit.
        ``hints``: colours known at places of the picture (``guidance.hints``), which the colour then follows;
        ``reference``: a colour picture of the same view (``guidance.reference``), taken where it matches."""
        if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[2] != 3
        ):
            raise ValueError(f"expected a uint8/uint16 (H, W) or (H, W, 3) image, got {image.dtype} {image.shape}")
        if image.size == 0:
            raise ValueError(f"the image is empty: {image.shape}")
        scale = float(np.iinfo(image.dtype).max)
        rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        rgb = torch.from_numpy(rgb.astype(np.float32)).to(self.device).permute(2, 0, 1) / scale
        lightness = rgb_to_lab(rgb)[:1].unsqueeze(0)  # (1, 1, H, W)
        prediction = self._prediction(lightness, hints=hints, reference=reference)
        ab = self.upsample_ab(prediction, prediction.lightness)
        out = lab_to_rgb(torch.cat((prediction.lightness, ab), dim=1))[0].permute(1, 2, 0).cpu().numpy()  # (H, W, 3)
        luma = out @ np.array(luma_weights("bt601"), dtype=np.float32)
        out = scale_saturation(out, luma[..., None], saturation, 0.0, 1.0)
        return np.rint(out * scale).astype(image.dtype)
