"""Colour from hints: each place of the picture takes the a*b* of the hinted places it resembles.

Hints reach the network as three planes at its working size: a*, b* (CIELAB units) and a mask (0..1), zero where
nothing is known. Every cell of a stride-8 grid attends to the hinted cells of a stride-16 grid, in a key space
learnt from the decoder's features and L*; the weight of a hinted cell falls with the distance and the difference
in lightness, and a learnt "nothing matches" slot keeps what resembles no hint at the automatic colour. What the
cells take (a*b*) and how sure they are come back at the output stride, where

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
EPS = 1e-6
EPS_UNIT = 1e-4  # F.normalize's own 1e-12 is zero in float16: an unhinted cell's zero key would turn NaN


class HintAttention(nn.Module):
    """Decoder features (B, C, H/s, W/s), L* (B, 1, H, W), hints (B, 3, H, W) -> the a*b* the hints give each
    cell (B, 2, H/s, W/s) and its confidence in [0, 1) (B, 1, H/s, W/s), at the features' stride s."""

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
        size = features.shape[-2:]
        mask = hints[:, 2:3]
        hint_ab = hints[:, :2] * mask
        # queries: the decoder's features and L* on the stride-8 grid, unit length
        query_features = F.avg_pool2d(features, QUERY_STRIDE * features.shape[-1] // lightness.shape[-1])
        query_light = F.avg_pool2d(lightness, QUERY_STRIDE) / 100
        queries = self.keys(torch.cat((query_features, query_light), dim=1))
        queries = F.normalize(queries, dim=1, eps=EPS_UNIT)  # (B, D, h, w)
        # keys: those queries, averaged over each stride-16 cell where it is hinted, with the hints' a*b* and L*
        hinted = F.avg_pool2d(mask, QUERY_STRIDE)  # (B, 1, h, w): how much of each query cell is hinted
        cover = F.avg_pool2d(hinted, KEY_STRIDE // QUERY_STRIDE)  # (B, 1, h/2, w/2)
        keys = F.avg_pool2d(queries * hinted, KEY_STRIDE // QUERY_STRIDE) / (cover + EPS)
        keys = F.normalize(keys, dim=1, eps=EPS_UNIT)
        key_ab = F.avg_pool2d(hint_ab, KEY_STRIDE) / (cover + EPS)
        key_light = F.avg_pool2d(lightness * mask, KEY_STRIDE) / 100 / (cover + EPS)
        certainty = (cover * (KEY_STRIDE**2 / HINT_AREA)).clamp(max=1.0)  # one whole hint makes a cell sure

        grid = queries.shape[-2:]
        # Only the key cells a picture of the batch has a hint in: the others weigh nothing, and ten clicks fill a
        # few of hundreds (a whole grid of them cost 46 ms a 480p frame, these under 2).
        cells = (certainty > 0).flatten(1).any(dim=0).nonzero()[:, 0]
        if not len(cells):
            return torch.zeros_like(features[:, :2]), torch.zeros_like(features[:, :1])
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
        ab = torch.bmm(weights, key_ab.transpose(1, 2)) / (total + EPS)  # (B, Nq, 2)
        confidence = total / (total + nothing)
        ab = ab.transpose(1, 2).reshape(-1, 2, *grid)
        confidence = confidence.transpose(1, 2).reshape(-1, 1, *grid)
        return (F.interpolate(ab, size=size, mode="bilinear", align_corners=False),
                F.interpolate(confidence, size=size, mode="bilinear", align_corners=False))  # fmt: skip


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
