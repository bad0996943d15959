"""The colorizer on a pretrained encoder: MobileNetV2 (ImageNet) taps -> U-Net decoder -> a*b*.

The encoder sees L* as the sRGB grey it came from, in the [-1, 1] range its ImageNet weights expect; it keeps
its semantics without colour (66 % top-1 on grey photos). The decoder climbs back from stride 32, fusing the
skip tap at each scale; the pooled 1280-d scene descriptor joins at the bottleneck ("classifier fusion"), so
a whole-picture guess (beach, kitchen, forest) can steer local colours. a*b* leaves at the decoder's last
stride and is upsampled bilinearly: colour is smooth, and the output's detail comes from the input's own luma.

A night-vision model may predict lightness too (``predict_lightness``, the *daylight* rendering): a correction of
the sensor's L* at the same stride, added to it, so the untrained head starts from the sensor's own picture. It
leaves as the correction: added to the picture's L* at every size, it keeps the sensor's detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..color import lightness_to_grey
from .ab_bins import (
    ANNEALING_TEMPERATURE,
    BINS_PER_AXIS,
    annealed_mean,
    bin_entropy,
    confidence_gate,
    prior_bias,
    sharpened_head,
)
from .colour_gate import ColourGate, frame_statistics, pooled_entropy
from .hint_attention import HintAttention
from .layers import conv_bn_relu
from .mobilenetv2 import LAST_WIDTH, TAP_CHANNELS, MobileNetV2

RENDER_MIN_PRIOR = 1e-5  # a bin the training data had less of is not rendered (render_seen_bins)


@dataclass(frozen=True)
class MobileUNetConfig:
    """``decoder_widths`` are the decoder's channels at strides 32, 16, 8, 4, 2 — as many as given, so their
    number sets the output stride (4 widths: a*b* at stride 4)."""

    decoder_widths: tuple[int, ...] = (192, 128, 64, 48, 32)
    scene_width: int = 128  # the pooled 1280-d descriptor projected to this many channels; 0: not used
    ab_bins: bool = False  # head: a*b* directly (regression), or logits over a*b* bins and their annealed mean
    ab_scale: float = 110.0  # regression head: a*, b* of sRGB colours stay within about ±110
    render_temperature: float = ANNEALING_TEMPERATURE  # bins head: the annealed mean's temperature
    render_boost: float = 0.0  # bins head: how far the data's a*b* prior is divided out at render time
    render_chroma: float = 0.0  # bins head: how far the mean's chroma moves toward the expected chroma (0..1)
    # bins head: a region's colour fades to grey as its entropy (at the colour gate's 4x4-pooled places, 3x3 of them
    # averaged) rises to this (nats); 0: off
    render_gate: float = 0.0
    render_gate_width: float = 1.0  # … from this many nats below it (ab_bins.confidence_gate)
    render_frame_gate: float = 0.0  # … the whole frame as its mean entropy rises to this, from 1 nat below; 0: off
    colour_gate: bool = False  # bins head: a learnt factor on each frame's a*b* (colour_gate.py, vidcolor train-gate)
    render_gate_lift: float = 1.0  # … times this, at most 1: 1 is the PSNR-best factor, more keeps more colour
    predict_lightness: bool = False  # also the scene's daylight L*: its correction, a third output after a*b*
    hint_keys: int = 0  # a*b* hints: the width of the key space they are matched in (hint_attention.py); 0: none

    def __post_init__(self) -> None:
        if not 1 <= len(self.decoder_widths) <= len(TAP_CHANNELS):
            raise ValueError(f"decoder_widths must name 1 to {len(TAP_CHANNELS)} stages, got {self.decoder_widths}")
        if self.render_gate_width <= 0:
            raise ValueError(f"render_gate_width must be positive, got {self.render_gate_width}")
        if self.colour_gate and not self.ab_bins:
            raise ValueError("the colour gate reads the bins head's entropy: it needs ab_bins")
        if self.render_gate_lift < 1.0:
            raise ValueError(f"render_gate_lift must be at least 1, got {self.render_gate_lift}")

    @property
    def output_stride(self) -> int:
        return 32 // 2 ** (len(self.decoder_widths) - 1)


class MobileUNet(nn.Module):
    """L* (B, 1, H, W) in [0, 100] -> a*b* (B, 2, H, W), or a*b* and the correction that takes the input's L*
    to daylight's (B, 3, H, W) where ``predict_lightness``; H and W multiples of SIZE_MULTIPLE."""

    def __init__(self, config: MobileUNetConfig = MobileUNetConfig(), encoder: MobileNetV2 | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder if encoder is not None else MobileNetV2(in_channels=1)
        widths = config.decoder_widths
        self.scene = nn.Linear(LAST_WIDTH, config.scene_width) if config.scene_width else None
        skips = TAP_CHANNELS[::-1]  # channels at strides 32, 16, 8, 4, 2
        self.bottleneck = conv_bn_relu(skips[0] + config.scene_width, widths[0])
        self.ups = nn.ModuleList(
            conv_bn_relu(cin + cskip, cout) for cin, cskip, cout in zip(widths, skips[1:], widths[1:], strict=False)
        )  # fmt: skip
        # Bins: a 1x1 head (a 3x3 over hundreds of outputs would cost more than the whole decoder).
        self.head = (
            nn.Conv2d(widths[-1], BINS_PER_AXIS**2, 1) if config.ab_bins else nn.Conv2d(widths[-1], 2, 3, padding=1)
        )
        # relight: a 3x3 over the last features, like the regression head (one output: cheap)
        self.relight = nn.Conv2d(widths[-1], 1, 3, padding=1) if config.predict_lightness else None
        self.hints = HintAttention(widths[-1], config.hint_keys) if config.hint_keys else None
        self.colour_gate = ColourGate() if config.colour_gate else None
        for layer in (self.head, self.relight):  # the head starts from grey (or a uniform spread of bins): no
            if layer is not None:  # colour beats a random one; relight from the sensor's own lightness
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        if config.ab_bins:  # the training data's a*b* distribution over the bins, set by training
            self.register_buffer("ab_prior", torch.full((BINS_PER_AXIS**2,), 1.0 / BINS_PER_AXIS**2))
            self.register_buffer("rendered_bins", torch.arange(BINS_PER_AXIS**2), persistent=False)
            self.register_load_state_dict_post_hook(_render_seen_bins)

    def render_seen_bins(self) -> None:
        """Render only the bins the training data had more than a trace of (RENDER_MIN_PRIOR): the network gives
        the others no weight it ever learnt. fast: 188 of 484 (the seen bins and their neighbours were 321, the
        seen alone 234): the same scores to 0.001 dB, false, lost and hue to 0.01 points (benchmark and
        holdout-100), in 60 % of the head and annealed mean's time (benchmarks/README.md, issue 32)."""
        kept = self.ab_prior > RENDER_MIN_PRIOR
        self.rendered_bins = kept.nonzero()[:, 0] if kept.any() else torch.arange(BINS_PER_AXIS**2)

    def decode(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* -> the decoder's features at the output stride s (B, C, H/s, W/s), which the head turns to colour."""
        taps, scene = self.encoder.features(_encoder_input(lightness))  # strides 2 … 32; (B, 1280)
        x = taps.pop()  # (B, 320, H/32, W/32)
        if self.scene is not None:
            context = F.relu(self.scene(scene))[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat((x, context), dim=1)
        x = self.bottleneck(x)
        for up in self.ups:
            skip = taps.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat((x, skip), dim=1))
        return x

    def kinds(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* -> the encoder's stride-16 features (B, 96, H/16, W/16): what each place shows, to find the same kind
        of thing in another picture (``guidance.reference``)."""
        taps, _ = self.encoder.features(_encoder_input(lightness))
        return taps[3]

    def daylight(self, features: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
        """The decoder's features and the input L* -> daylight L* (B, 1, H/s, W/s): the input's, corrected."""
        stride = lightness.shape[-1] // features.shape[-1]
        return F.avg_pool2d(lightness, stride) + self.relight(features)  # pooling: ONNX has no "area" resize

    def head_output(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the losses see, at the output stride s: a*b* (B, 2, H/s, W/s) or bin logits (B, Q, H/s, W/s);
        and daylight L* (B, 1, H/s, W/s) where ``predict_lightness``, else None."""
        features = self.decode(lightness)
        out = self.head(features)
        colour = out if self.config.ab_bins else torch.tanh(out) * self.config.ab_scale
        return colour, self.daylight(features, lightness) if self.relight is not None else None

    def forward(self, lightness: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """``hints`` (B, 3, H, W): a*b* and a mask (``hint_attention.py``), where the model takes them."""
        out, features = self.forward_with_features(lightness)
        return out if hints is None else self.with_hints(features, lightness, hints, out)[0]

    def forward_with_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """L* -> the automatic output (B, 2|3, H, W) and the decoder's features, which hints are followed in
        (``with_hints``, then or later)."""
        features = self.decode(lightness)
        out = self.colour(features)
        if self.relight is not None:
            out = torch.cat((out, self.relight(features)), dim=1)
        return F.interpolate(out, size=lightness.shape[-2:], mode="bilinear", align_corners=False), features

    def with_hints(self, features: torch.Tensor, lightness: torch.Tensor, hints: torch.Tensor,
                   out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The automatic output (B, 2|3, H, W) with its a*b* moved toward the hints, the daylight L* kept; and how
        far each pixel took the hints' colour (B, 1, H, W, 0..1)."""
        ab, confidence = self.follow_hints(features, lightness, hints, out[:, :2])
        return (ab if out.shape[1] == 2 else torch.cat((ab, out[:, 2:]), dim=1)), confidence

    def colour(self, features: torch.Tensor, gated: bool = True) -> torch.Tensor:
        """The decoder's features -> the automatic a*b* at the output stride (B, 2, H/s, W/s); ``gated``: faded
        where the model's rendering says, by its bins' entropy at the colour gate's pooled places: the frame as a
        whole by the colour gate (``colour_gate.py``), then each region and the frame by the confidence gate
        (``render_gate``, ``render_frame_gate``: ``ab_bins.confidence_gate``). Ungated: the rendering alone, what
        the colour gate is fitted on."""
        config = self.config
        if not config.ab_bins:
            return torch.tanh(self.head(features)) * config.ab_scale
        ab = self._rendered(features)
        confidence_gated = bool(config.render_gate or config.render_frame_gate)
        if not gated or (self.colour_gate is None and not confidence_gated):
            return ab
        entropy = pooled_entropy(features, self.head, self.rendered_bins)
        if self.colour_gate is not None:
            ab = ab * self.colour_gate(frame_statistics(entropy, ab), config.render_gate_lift)
        if confidence_gated:
            factor = confidence_gate(entropy, config.render_gate, config.render_gate_width, config.render_frame_gate)
            ab = ab * F.interpolate(factor, size=ab.shape[-2:], mode="bilinear", align_corners=False)
        return ab

    def frame_statistics(self, features: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """The decoder's features and their rendered a*b* -> what the colour gate reads of the frame (B, 2)."""
        return frame_statistics(pooled_entropy(features, self.head, self.rendered_bins), ab)

    def _rendered(self, features: torch.Tensor) -> torch.Tensor:
        """The bins head's distribution at each place, rendered as a*b* (``ab_bins.annealed_mean``)."""
        config = self.config
        bias = prior_bias(self.ab_prior, config.render_boost) if config.render_boost else None
        bins = self.rendered_bins
        weight, head_bias = sharpened_head(self.head.weight[bins], self.head.bias[bins], config.render_temperature,
                                           None if bias is None else bias[bins])  # fmt: skip
        return annealed_mean(F.conv2d(features, weight, head_bias), config.render_chroma, bins)

    def entropy(self, features: torch.Tensor) -> torch.Tensor:
        """The decoder's features -> the entropy of the bins head's distribution over the rendered bins (B, 1,
        H/s, W/s), in nats: the network's own uncertainty about each place's colour (``ab_bins.bin_entropy``)."""
        if not self.config.ab_bins:
            raise ValueError("a regression head has no distribution over a*b*: its entropy is not defined")
        bins = self.rendered_bins
        return bin_entropy(F.conv2d(features, self.head.weight[bins], self.head.bias[bins]))

    def follow_hints(self, features: torch.Tensor, lightness: torch.Tensor, hints: torch.Tensor,
                     ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The automatic a*b* at the working size (B, 2, H, W), moved toward the hints (B, 3, H, W), and how far each
        pixel was moved (the attention's confidence, B, 1, H, W)."""
        if self.hints is None:
            raise ValueError("this model takes no hints (its config has hint_keys = 0)")
        hinted, confidence = self.hints(features, lightness, hints)
        return ab + confidence * (hinted - ab), confidence


def _encoder_input(lightness: torch.Tensor) -> torch.Tensor:
    """L* -> the uint8 (q - 128) / 128 the ImageNet weights were trained on."""
    return lightness_to_grey(lightness) * (255 / 128) - 1


def _render_seen_bins(model: MobileUNet, _incompatible_keys: object) -> None:
    """After weights load, their prior says which bins to render (a function, not a lambda: models are pickled
    for batch workers)."""
    model.render_seen_bins()
