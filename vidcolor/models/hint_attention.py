"""Colour from hints: each place of the picture takes the a*b* of the hinted places it resembles.

Hints reach the network as three planes at its working size: a*, b* (CIELAB units) and a mask (0..1), zero where
nothing is known. Every cell of a stride-8 grid attends to the hinted cells of a stride-16 grid, in a key space
learnt from the decoder's features and L*; the weight of a hinted cell falls with the distance and the difference
in lightness, and a learnt "nothing matches" slot keeps what resembles no hint at the automatic colour. What the
cells take (a*b*, and the L* of the hints they took it from) and how sure they are come back at the working size,
where a pixel lighter or darker than its hints takes their hue with less chroma — sRGB has less room for it there,
and a thin white thing beside a vivid hint stays white — and

    a*b* = automatic + confidence * (hinted - automatic).

No hint, no change, to the bit: a cell's weight is its hinted fraction times a bounded exponential, so without
hints both sums are exactly zero, and so is the confidence. The automatic network stays as it was trained (the
hint weights are trained with it frozen: ``vidcolor train-hints``), and a dense hint map (a reference picture of
the same view) goes through the same attention as ten clicks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

QUERY_STRIDE, KEY_STRIDE = 8, 16  # where the picture asks, where the hints answer (in working-size pixels)
HINT_AREA = 25.0  # the pixels of one hint as training places it (5 x 5): a key cell that holds one is sure
LOGIT_CAP, LOGIT_FLOOR = 30.0, 50.0  # logits lie in [-LOGIT_FLOOR, LOGIT_CAP]
NOTHING_CAP = 10.0  # "nothing matches" at e^10 over the best hint: confidence under 5e-5, float16-safe
# how closely a hint's chroma follows the room for it at another lightness: 1/2 left 5.3 % false colour on the
# benchmark photos (10 hints, seed 0), 3/4 4.8 % (seeds 1, 2: 3.3, 3.6) at the same PSNR; 1 cost holdout 0.1 dB more
SHARE_POWER = 0.75
EPS = 1e-6
EPS_UNIT = 1e-4  # F.normalize's own 1e-12 is zero in float16: an unhinted cell's zero key would turn NaN


class HintAttention(nn.Module):
    """Decoder features (B, C, H/s, W/s) at the output stride s or the query stride, L* (B, 1, H, W), hints
    (B, 3, H, W) -> the a*b* the hints give each pixel (B, 2, H, W) and its confidence in [0, 1) (B, 1, H, W)."""

    def __init__(self, feature_channels: int, key_channels: int = 32) -> None:
        super().__init__()
        self.keys = nn.Sequential(
            nn.Conv2d(feature_channels + 1, key_channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(key_channels, key_channels, 1),
        )  # fmt: skip
        # scales of the three terms of a logit, and the "nothing matches" slot's logit, learnt (as logs: positive)
        self.log_similarity = nn.Parameter(torch.tensor(math.log(10.0)))
        self.log_distance = nn.Parameter(torch.tensor(math.log(4.0)))
        self.log_lightness = nn.Parameter(torch.tensor(math.log(2.0)))
        self.nothing = nn.Parameter(torch.tensor(0.0))

    def forward(
        self, features: torch.Tensor, lightness: torch.Tensor, hints: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        mask = hints[:, 2:3]
        # per stride-8 cell: how much of it is hinted, the hints' a*b* and L* weighed by that, and its L* (pooled
        # plane by plane: gathering them into one tensor at the working size cost more than pooling them)
        hinted_sums = torch.cat([F.avg_pool2d(x, QUERY_STRIDE) for x in (mask, hints[:, :2] * mask, lightness * mask)],
                                dim=1)  # fmt: skip
        hinted, query_light = hinted_sums[:, :1], F.avg_pool2d(lightness, QUERY_STRIDE) / 100  # (B, 1, h, w) each
        # queries: the decoder's features and L* on the stride-8 grid, unit length (an int8 graph hands the
        # features out pooled already: backends/hinted_graph.py)
        pool = QUERY_STRIDE * features.shape[-1] // lightness.shape[-1]
        query_features = F.avg_pool2d(features, pool) if pool > 1 else features
        queries = self.keys(torch.cat((query_features, query_light), dim=1))
        queries = _unit(queries)  # (B, D, h, w)
        # keys: those queries, averaged over each stride-16 cell where it is hinted, with the hints' a*b* and L*
        key_cells = F.avg_pool2d(torch.cat((hinted_sums, queries * hinted), dim=1), KEY_STRIDE // QUERY_STRIDE)
        cover = key_cells[:, :1]  # (B, 1, h/2, w/2)
        key_ab, key_light = key_cells[:, 1:3] / (cover + EPS), key_cells[:, 3:4] / 100 / (cover + EPS)
        keys = _unit(key_cells[:, 4:] / (cover + EPS))
        certainty = (cover * (KEY_STRIDE**2 / HINT_AREA)).clamp(max=1.0)  # one whole hint makes a cell sure

        grid = queries.shape[-2:]
        # Only the key cells a picture of the batch has a hint in: the others weigh nothing, and ten clicks fill a
        # few of hundreds (a whole grid of them cost 46 ms a 480p frame, these under 2).
        cells = (certainty > 0).flatten(1).any(dim=0).nonzero()[:, 0]
        if not len(cells):
            return torch.zeros_like(hints[:, :2]), torch.zeros_like(hints[:, :1])
        key_centres = _centres(keys)[:, cells]  # (B, Nk, 2), in picture short sides
        k, key_ab, key_light, certainty = (t.flatten(2)[:, :, cells] for t in (keys, key_ab, key_light, certainty))
        q = queries.flatten(2)  # (B, D, Nq), k (B, D, Nk)
        similarity = self.log_similarity.exp().clamp(max=LOGIT_CAP) * torch.bmm(q.transpose(1, 2), k)  # (B, Nq, Nk)
        distance2 = _squared_distances(_centres(queries), key_centres)  # (B, Nq, Nk)
        light2 = (query_light.flatten(2).transpose(1, 2) - key_light) ** 2
        logits = similarity - self.log_distance.exp() * distance2 - self.log_lightness.exp() * light2 * 100
        # A softmax over the hinted cells beside the "nothing" slot, written so that without hints every weight is
        # exactly zero: each exponential is taken relative to the best hinted logit (never above 0), unhinted cells
        # weigh their certainty, 0; the slot's exponential is capped where the hints are out of reach anyway (and
        # float16 stays finite).
        logits = logits.clamp(-LOGIT_FLOOR, LOGIT_CAP)
        best = (logits - (certainty <= 0).to(logits.dtype) * 2 * (LOGIT_CAP + LOGIT_FLOOR)).amax(dim=2, keepdim=True)
        weights = torch.exp((logits - best).clamp(max=0)) * certainty  # (B, Nq, Nk)
        nothing = torch.exp((self.nothing - best).clamp(max=NOTHING_CAP))  # (B, Nq, 1)
        total = weights.sum(dim=2, keepdim=True)  # (B, Nq, 1)
        taken = torch.bmm(weights, torch.cat((key_ab, key_light), dim=1).transpose(1, 2)) / (total + EPS)
        confidence = total / (total + nothing)  # (B, Nq, 1)
        # A hint's chroma, carried to a darker or lighter place, keeps its share of the room for chroma there:
        # share = (room(L*) / room(the hints' L*)) ** SHARE_POWER, at most 1. The hints' a*b*, their room and the
        # confidence go to the working size (contiguous first: bilinear resizing reads a transposed tensor at under
        # half the speed), where each pixel's own L* gives the share.
        taken_room = _chroma_room(taken[:, :, 2:] * 100)
        taken = torch.cat((taken[:, :, :2], taken_room, confidence), dim=2).transpose(1, 2).contiguous()
        taken = F.interpolate(taken.view(-1, 4, *grid), size=lightness.shape[-2:], mode="bilinear", align_corners=False)
        ab, taken_room, confidence = taken[:, :2], taken[:, 2:3], taken[:, 3:]
        share = (_chroma_room(lightness) / taken_room).clamp(max=1.0).pow(SHARE_POWER)
        return ab * share, confidence


def _centres(grid: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> the centres of its cells (B, h*w, 2) as (y, x) in units of the grid's short side; built from
    the tensor itself so an exported graph keeps its sizes dynamic."""
    ones = torch.ones_like(grid[:, :1])  # (B, 1, h, w)
    short = torch.minimum(ones.sum(dim=2, keepdim=True)[:, :, :1, :1], ones.sum(dim=3, keepdim=True)[:, :, :1, :1])
    y = (ones.cumsum(dim=2) - 0.5) / short
    x = (ones.cumsum(dim=3) - 0.5) / short
    return torch.cat((y, x), dim=1).flatten(2).transpose(1, 2)


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, N, 2), (B, M, 2) -> (B, N, M)."""
    return (a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1)[:, None, :] - 2 * torch.bmm(a, b.transpose(1, 2))).clamp(
        min=0
    )


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    """(B, D, ...) -> the same scaled to unit length along D, as F.normalize with eps EPS_UNIT, in a tenth of its
    time (its vector norm is slow on a CPU)."""
    return vectors / vectors.square().sum(dim=1, keepdim=True).sqrt().clamp(min=EPS_UNIT)


def _chroma_room(lightness: torch.Tensor) -> torch.Tensor:
    """L* -> how much chroma sRGB has room for there, roughly: its gamut narrows to a point at black and at white,
    as a double cone (and never quite to nothing)."""
    return torch.minimum(lightness, 100 - lightness).clamp_(min=1.0)
