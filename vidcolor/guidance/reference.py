"""A reference: a colour picture of the view (a fixed camera's daytime frame, a still of the same shot), or of the
same kinds of things seen elsewhere. Where a frame shows what the reference shows, its colours are the reference's;
where it shows things of the same kind, their colours come as hints; elsewhere they stay the model's.

The same view, at the model's working size, per frame: the optical flow from the frame to the reference (DIS, as
the smoother's) says where each pixel is in the reference, and the reference's lightness moved there says whether
it is the same thing — a person who walked in, a car, another shot do not match and keep the model's colour. The
match is the smoother's own trust (``TemporalSmoother.link``), so a reference is held as firmly as colour is held
from frame to frame, and a frame the flow cannot explain (a cut to another view) takes nothing densely.

The same kind, once per shot: the encoder's features of the frame and of the reference, place by place; places
that are each other's closest and alike beyond KIND_SIMILARITY become hints (the reference's colour there), which
the model's hint attention spreads to what resembles them, as it does a person's clicks (``kind_planes``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..color import rgb_to_lab
from ..errors import InputError
from ..motion import host_planes
from ..temporal import FrameHistory, Known, MotionLink, TemporalSmoother, blend, lightness_levels
from .hints import Hint, batch_planes
from .track import HintTrack

Describe = Callable[[torch.Tensor], torch.Tensor]

TONE_PERCENTILES = (5, 25, 50, 75, 95)  # tones matched between a frame and the reference (exposure, time of day)
# How a match is judged, chosen on the six shared colour clips with their first frame as the reference (PSNR over
# 150 frames, benchmarks/README.md "A reference"): lightness may differ by twice the smoother's tolerance (the
# reference is a still, the frame a compressed picture later on), and a match counts as 1 - (1 - trust)^6, since
# even a tenth of the model's colour left where the view is the reference's cost 2 dB (traffic_overhead 31.9 vs 33.9).
MATCH_TOLERANCE = 12.0
HOT_PERCENTILE, HOT_MARGIN = 97.0, 4  # a thermal frame's hot things (working-size pixels around them too)
MATCH_SHARPNESS = 6
# Another view of the same kind of things: how alike (cosine of the encoder's stride-16 features) a place of the
# frame and of the reference must be, and how many such places become hints. Chosen on 30 holdout photos with
# the photo mirrored and cropped as the reference against another photo as the reference (the first-stage hint
# weights): 0.80 +2.96 / -0.18 dB, 0.85 +2.96 / -0.09, 0.90 +2.93 / -0.09 (shipped weights at 0.85: +4.14 / -0.10).
KIND_SIMILARITY = 0.85
KIND_HINTS = 16
# A frame whose flow to the reference explains less than this share of it shows another view, and takes hints by
# kind: in the shared clips the other shot of asl_scene_cuts (0.57-0.60) and the moving street (0.44-0.62); the
# still cameras' frames (0.70-0.99) are taken densely, and at the dense match's cost alone.
KIND_BELOW_TRUST = 0.65


class Reference:
    """A colour picture (H, W, 3) uint8 RGB; ``apply`` moves a batch's predicted a*b* toward it where it matches."""

    def __init__(self, rgb: np.ndarray) -> None:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.size:
            raise ValueError(f"a reference is a uint8 RGB picture (H, W, 3), got {rgb.dtype} {rgb.shape}")
        self.rgb = rgb
        self.digest = hashlib.sha256(rgb.tobytes()).hexdigest()  # tells a resumed run's reference
        self._matcher = TemporalSmoother(1.0, luma_tolerance=MATCH_TOLERANCE)  # its flow and its trust in a match
        self._at_size: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._described: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}  # its cells, their a*b*
        self._kind = HintTrack(())  # a stream's hints from the reference's kind of things (``kind_planes``)
        self._kind_tried: FrameHistory | None = None  # the frame they were last matched on

    @classmethod
    def read(cls, path: str | Path) -> Reference:
        """A colour picture file; InputError (one line) where it cannot be read."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"reference picture not found: {path}")
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read reference {path} as an image")
        return cls(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def _sized(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The reference at a working size, made once: its L* levels (h, w) uint8, a*b* (h, w, 2) float32 and the
        levels' tones (``tones_of``)."""
        if (height, width) not in self._at_size:
            small = cv2.resize(self.rgb, (width, height), interpolation=cv2.INTER_AREA)
            lab = rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1).float()[None] / 255)
            ab = lab[0, 1:].permute(1, 2, 0).contiguous().numpy()
            levels = lightness_levels(lab[:, :1])[0]
            self._at_size[(height, width)] = levels, ab, tones_of(levels)
        return self._at_size[(height, width)]

    def apply_to_thermal(self, seen: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
        """A fixed thermal camera's white-hot L* (B, 1, h, w) and its model's planes (B, 2|3, h, w) -> the
        reference's a*b* (and, where the model relights, its lightness) everywhere but on what is hot.

        Heat and light share no tones, so the flow and the lightness match of ``apply`` find nothing; the camera is
        taken to be where the reference was taken (a mast, a wall mount) and what is hotter than the scene's
        HOT_PERCENTILE, widened by HOT_MARGIN cells, keeps the model's colour: people, cars, animals."""
        reference_levels, reference_ab, _ = self._sized(*seen.shape[-2:])
        hot_level = torch.quantile(seen.flatten(1).float(), HOT_PERCENTILE / 100, dim=1)[:, None, None, None]
        hot = F.max_pool2d((seen > hot_level).float(), 2 * HOT_MARGIN + 1, stride=1, padding=HOT_MARGIN)
        keep = F.avg_pool2d(hot, 2 * HOT_MARGIN + 1, stride=1, padding=HOT_MARGIN, count_include_pad=False)
        reference_planes = [torch.from_numpy(reference_ab).permute(2, 0, 1)[None].to(planes)]
        if planes.shape[1] == 3:  # the daylight rendering: the correction that takes the picture to the reference's L*
            reference_lightness = torch.from_numpy(reference_levels).to(planes)[None, None] / 2.55
            reference_planes.append(reference_lightness - seen)
        return planes + (1 - keep) * (torch.cat(reference_planes, dim=1) - planes)

    def links(self, model_input: torch.Tensor) -> list[MotionLink | None]:
        """The model's input L* (B, 1, h, w) -> per frame, where each of its pixels is in the reference and how
        sure that is; None for a frame that does not show the reference's view."""
        reference_levels, _, reference_tones = self._sized(*model_input.shape[-2:])
        return [self._matcher.link(tones_like(levels, reference_tones), reference_levels)
                for levels in lightness_levels(model_input)]  # fmt: skip

    def apply(self, links: Sequence[MotionLink | None], ab: torch.Tensor,
              known: Sequence[Known | None] | None = None) -> torch.Tensor:  # fmt: skip
        """Predicted a*b* (B, 2, h, w) -> a*b* taken from the reference where each frame's link (``links``) says it
        shows it; ``known``: ``known(links, h, w)`` where the caller has it already."""
        known = self.known(links, *ab.shape[-2:]) if known is None else known
        predicted = host_planes(ab)  # (B, h, w, 2)
        out = [frame_ab if colour is None else blend(frame_ab, *colour)
               for frame_ab, colour in zip(predicted, known, strict=True)]  # fmt: skip
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(ab.device, ab.dtype)

    def known(self, links: Sequence[MotionLink | None], height: int,
              width: int) -> list[tuple[np.ndarray, np.ndarray] | None]:  # fmt: skip
        """Per frame, the reference's a*b* moved onto it (h, w, 2) and how far that holds (h, w, 0..1); None for a
        frame that does not show the reference's view. What ``apply`` blends in, and what seeds the scene memory
        (``TemporalSmoother``'s ``known``): the same colour, carried by the same links."""
        _, reference_ab, _ = self._sized(height, width)
        return [None if link is None else (link.warp(reference_ab), 1 - (1 - link.trust) ** MATCH_SHARPNESS)
                for link in links]  # fmt: skip

    def kind_planes(self, model_input: torch.Tensor, links: Sequence[MotionLink | None],
                    describe: Describe) -> torch.Tensor | None:  # fmt: skip
        """Hint planes (B, 3, h, w) for the frames that show another view than the reference's (``links``: None,
        or trusted on less than KIND_BELOW_TRUST of the frame): where ``describe`` — the colorizer's encoder, L*
        (1, 1, h, w) -> features (1, C, h/16, w/16) — finds a place of the frame and a place of the reference each
        the other's closest, and alike beyond KIND_SIMILARITY, the reference's colour there is a hint. Matched once
        per shot, at its first such frame; the hints then follow the shot (``HintTrack``) and end at its cut. None
        where no frame has one."""
        other_view = [link is None or link.trust.mean() < KIND_BELOW_TRUST for link in links]
        if not any(other_view):  # the reference's own view on every frame: taken densely
            self._kind.stop()
            return None
        frames = []
        for frame, levels, other in zip(model_input, lightness_levels(model_input), other_view, strict=True):
            if not other:
                self._kind.stop()
                frames.append([])
                continue
            hints = self._kind.step(levels, 0.0)  # the shot's hints moved on, or ended at a cut
            current = self._kind.last_frame
            if not hints and (self._kind_tried is None or not self._matcher.same_shot(current, self._kind_tried)):
                self._kind_tried = current  # matched again only in another shot than the last try's
                self._kind.start(self._kind_hints(frame[None], describe))
                hints = self._kind.step(levels, 0.0)
            frames.append(hints)
        return batch_planes(frames, *model_input.shape[-2:], model_input.device)

    def _kind_hints(self, lightness: torch.Tensor, describe: Describe) -> list[Hint]:
        """One frame's L* (1, 1, h, w) -> hints where the reference shows something of the same kind."""
        height, width = lightness.shape[-2:]
        reference_levels, reference_ab, _ = self._sized(height, width)
        if (height, width) not in self._described:
            reference_lightness = torch.from_numpy(reference_levels)[None, None].float() / 2.55
            cells = describe(reference_lightness)
            self._described[(height, width)] = (
                F.normalize(cells.flatten(2)[0].float(), dim=0),
                F.adaptive_avg_pool2d(torch.from_numpy(reference_ab).permute(2, 0, 1), cells.shape[-2:]).flatten(1),
            )  # fmt: skip
        reference_cells, cell_ab = self._described[(height, width)]
        cells = describe(lightness)
        grid_height, grid_width = cells.shape[-2:]
        similarity = F.normalize(cells.flatten(2)[0].float(), dim=0).T @ reference_cells  # (frame cells, ref cells)
        best, closest = similarity.max(dim=1)
        mutual = similarity.argmax(dim=0)[closest] == torch.arange(len(closest))
        hints = []
        for cell in torch.argsort(torch.where(mutual, best, -1.0), descending=True)[:KIND_HINTS].tolist():
            if not mutual[cell] or best[cell] < KIND_SIMILARITY:
                break
            row, col = divmod(cell, grid_width)
            a, b = cell_ab[:, closest[cell]].tolist()
            hints.append(Hint((col + 0.5) / grid_width, (row + 0.5) / grid_height, a, b))
        return hints


def tones_of(levels: np.ndarray) -> np.ndarray:
    """L* levels (h, w) -> their TONE_PERCENTILES."""
    return np.percentile(levels, TONE_PERCENTILES)


def tones_like(levels: np.ndarray, reference_tones: np.ndarray) -> np.ndarray:
    """A frame's L* levels (h, w) uint8 with its tones mapped onto the reference's (``tones_of``), percentile to
    percentile: a camera that stops down as a white car passes, or a reference taken in other light, still matches
    where the view is the same. Percentiles, not a histogram match, so a car covering a fifth of the frame moves
    them little."""
    ours, theirs = tones_of(levels), reference_tones
    if np.any(np.diff(ours) <= 0):  # a flat frame: nothing to map
        return levels
    # beyond the outer percentiles the outer segments go on, so the darkest and brightest tones keep their spread
    ours = np.concatenate(([ours[0] - 256], ours, [ours[-1] + 256]))
    theirs = np.concatenate(([theirs[0] - 256 * (theirs[1] - theirs[0]) / (ours[2] - ours[1])], theirs,
                             [theirs[-1] + 256 * (theirs[-1] - theirs[-2]) / (ours[-2] - ours[-3])]))  # fmt: skip
    table = np.interp(np.arange(256), ours, theirs)
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)[levels]
