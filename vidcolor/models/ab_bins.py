"""The quantised a*b* plane shared by the loss weights and the classification head (Zhang et al. 2016)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

AB_LIMIT = 110.0
BIN_SIZE = 10.0
BINS_PER_AXIS = int(2 * AB_LIMIT / BIN_SIZE)  # 22 x 22 grid over a*, b* in [-110, 110)
ANNEALING_TEMPERATURE = 0.38  # Zhang et al.: between the mean (1, sepia) and the mode (0, blotchy)
EXP_CAP = 80.0  # float32: Q = 484 exponentials of up to e^80 sum below its largest value
CHROMA_FLOOR = 5.0  # a*b* units: chroma restoration leaves a mean colour weaker than about this alone


def bin_index(ab: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, H, W) -> flat bin index (B, H, W) on the BINS_PER_AXIS^2 grid."""
    cells = ((ab + AB_LIMIT) / BIN_SIZE).floor().long().clamp(0, BINS_PER_AXIS - 1)
    return cells[:, 0] * BINS_PER_AXIS + cells[:, 1]


def bin_centres(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(BINS_PER_AXIS^2, 2) a*b* at the centre of each bin, in ``bin_index`` order."""
    axis = torch.arange(BINS_PER_AXIS, dtype=dtype, device=device) * BIN_SIZE - AB_LIMIT + BIN_SIZE / 2
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((a.flatten(), b.flatten()), dim=1)


def sharpen(
    logits: torch.Tensor, temperature: float = ANNEALING_TEMPERATURE, bias: torch.Tensor | None = None
) -> torch.Tensor:  # fmt: skip
    """Bin logits (B, Q, H, W) -> the logits of the annealed distribution: divided by ``temperature``, ``bias``
    (Q,) added (a render-time reweighting of the bins: ``prior_bias``), centred over the bins. Centring leaves
    the softmax as it is, and ``annealed_mean`` needs it. ``sharpened_head`` does the same to a head's weights."""
    sharpened = logits / temperature
    if bias is not None:
        sharpened = sharpened + bias[None, :, None, None]
    return sharpened - sharpened.mean(dim=1, keepdim=True)


def sharpened_head(
    weight: torch.Tensor, head_bias: torch.Tensor, temperature: float, bias: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """A 1x1 bins head's weight (Q, C, 1, 1) and bias (Q,) -> those whose output is ``sharpen`` of its own. The
    sharpening is linear in the logits, so the model gets it for free in its last convolution instead of three
    passes over Q channels a pixel."""
    weight, head_bias = weight / temperature, head_bias / temperature
    if bias is not None:
        head_bias = head_bias + bias
    return weight - weight.mean(dim=0, keepdim=True), head_bias - head_bias.mean()


def annealed_mean(
    sharpened: torch.Tensor, chroma_restore: float = 0.0, bins: torch.Tensor | None = None
) -> torch.Tensor:  # fmt: skip
    """Sharpened, centred bin logits (B, Q, H, W) (``sharpen``) -> a*b* (B, 2, H, W): the mean of their
    distribution, in the logits' dtype. ``bins`` (Q,): the bin indices the logits are of, if not all.

    ``chroma_restore`` (0..1) gives the mean back the chroma its distribution expects: where the network is sure
    an object is vivid but not of which hue, the mean of its hues cancels toward brown or grey, while the
    expected chroma E|ab| stays high; the mean's hue is kept and its chroma moved toward E|ab| by this power of
    their ratio. Where the network expects grey (a white wall, an overcast sky), E|ab| is small and so is the
    colour: it stays near neutral.
    """
    # A softmax as onnxruntime runs it fast on a CPU (its channel-axis Softmax, max and Einsum cost 11-45 ms of
    # a 480p frame: benchmarks/README.md, "The bins models"): no max to subtract, since centred logits put the top
    # bin at or above 0 and so the sum of the exponentials at or above 1; capped, Q of them stay finite in
    # float32; the sums over the bins are a 1x1 convolution.
    weights = torch.exp(sharpened.float().clamp(max=EXP_CAP))
    centres = bin_centres(sharpened.device)
    centres = centres if bins is None else centres[bins]
    basis = torch.cat((centres, centres.norm(dim=1, keepdim=True), torch.ones_like(centres[:, :1])), dim=1)  # (Q, 4)
    sums = F.conv2d(weights, basis.T[:, :, None, None])  # (B, 4, H, W): sum p·a, p·b, p·|ab|, p over the bins
    ab, expected_chroma = sums[:, :2] / sums[:, 3:], sums[:, 2:3] / sums[:, 3:]
    if chroma_restore:
        # +CHROMA_FLOOR: a mean near zero has no hue worth amplifying; it stays near zero
        ab = ab * ((expected_chroma + CHROMA_FLOOR) / (ab.norm(dim=1, keepdim=True) + CHROMA_FLOOR)).pow(chroma_restore)
    return ab.to(sharpened.dtype)


def bin_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Bin logits (B, Q, H, W) -> the entropy of their softmax (B, 1, H, W) in nats, float32: how unsure the
    network is of the colour at each place (0: one bin; log Q: all alike). Read from the raw logits (temperature
    1, no prior boost), the distribution the cross-entropy trained, not the one rendered."""
    log_p = torch.log_softmax(logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(dim=1, keepdim=True)


def summed_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``bin_entropy`` (B, Q, h, w) -> (B, 1, h, w), written as onnxruntime runs it fast: H = log Σ e^z -
    Σ e^z·z / Σ e^z, the sums over the bins 1x1 convolutions (its channel-axis LogSoftmax took 0.7 ms a 480p frame
    even at the colour gate's 1/16 of the places). The shipped heads' logits are centred (``annealed_mean``): the top
    one at or above 0, so the sum stays at or above 1; capped, the exponentials stay finite."""
    logits = logits.float()
    weights = torch.exp(logits.clamp(max=EXP_CAP))
    ones = weights.new_ones(1, weights.shape[1], 1, 1)
    total = F.conv2d(weights, ones)
    return torch.log(total) - F.conv2d(weights * logits, ones) / total


def confidence_gate(
    entropy: torch.Tensor, pixel_entropy: float = 0.0, width: float = 1.0, frame_entropy: float = 0.0,
    frame_width: float = 1.0,
) -> torch.Tensor:  # fmt: skip
    """The bins' entropy (B, 1, H, W) (``bin_entropy``) -> a factor (B, 1, H, W) in [0, 1] for the rendered a*b*:
    what the network is unsure of stays near grey ("do no harm", issue 34). Per place, clip((pixel_entropy - H) /
    width, 0, 1) of the entropy H averaged over 3x3 neighbours (a region, not a pixel, decides); per frame,
    clip((frame_entropy - mean H) / frame_width, 0, 1), the whole picture greyer where the network is unsure of
    most of it. 0 turns either part off: all ones."""
    factor = torch.ones_like(entropy)
    if pixel_entropy:
        smooth = F.avg_pool2d(entropy, 3, stride=1, padding=1, count_include_pad=False)
        factor = ((pixel_entropy - smooth) / width).clamp(0.0, 1.0)
    if frame_entropy:
        factor = factor * ((frame_entropy - entropy.mean(dim=(2, 3), keepdim=True)) / frame_width).clamp(0.0, 1.0)
    return factor


def soft_encode(ab: torch.Tensor, sigma: float = 5.0) -> tuple[torch.Tensor, torch.Tensor]:
    """True a*b* (B, 2, H, W) -> the target distribution over the bins, as a Gaussian around it cut to the 3x3
    bins nearest (Zhang et al. keep 5): bin indices (B, 9, H, W) and their weights (B, 9, H, W), summing to 1.

    Sparse, so the loss gathers 9 of the Q log-probabilities instead of making more (B, Q, H, W) tensors: the
    bins beyond carry under 1 % of the weight at sigma = 5.
    """
    cells = ((ab + AB_LIMIT) / BIN_SIZE).floor()  # (B, 2, H, W)
    step = torch.tensor([-1.0, 0.0, 1.0], device=ab.device, dtype=ab.dtype)
    offset_a, offset_b = torch.meshgrid(step, step, indexing="ij")
    near_a = cells[:, :1] + offset_a.flatten()[None, :, None, None]  # (B, 9, H, W)
    near_b = cells[:, 1:] + offset_b.flatten()[None, :, None, None]
    centre_a, centre_b = (near_a + 0.5) * BIN_SIZE - AB_LIMIT, (near_b + 0.5) * BIN_SIZE - AB_LIMIT
    distance2 = (ab[:, :1] - centre_a) ** 2 + (ab[:, 1:] - centre_b) ** 2
    inside = (near_a >= 0) & (near_a < BINS_PER_AXIS) & (near_b >= 0) & (near_b < BINS_PER_AXIS)
    weights = torch.softmax((-distance2 / (2 * sigma**2)).masked_fill(~inside, float("-inf")), dim=1)
    index = near_a.clamp(0, BINS_PER_AXIS - 1).long() * BINS_PER_AXIS + near_b.clamp(0, BINS_PER_AXIS - 1).long()
    return index, weights


def prior_bias(prior: torch.Tensor, boost: float) -> torch.Tensor:
    """Logit bias (Q,) that divides the predicted distribution by the data's a*b* prior to the power ``boost``.

    A network trained with plain cross-entropy predicts calibrated probabilities, dominated by the common, dull
    colours. Dividing by the prior (mixed half-and-half with a uniform one, as Zhang et al.'s rebalancing
    weights) at render time lifts rare colours only where the network already gives them weight; where it is
    unsure among many colours the mean stays near neutral. ``boost`` 0: no change.
    """
    mixed = 0.5 * prior + 0.5 / prior.numel()
    return -boost * mixed.log()
