"""Per-sample losses: each returns one value per sample, shape (batch,), so the
gradient-origin step can sum them without coupling samples."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import GONError

LIKELIHOODS = ("bernoulli", "gaussian")


def squared_error(output: Tensor, x: Tensor) -> Tensor:
    """Summed squared error per sample: the paper's Table 1 metric and its L_MSE up to scale."""
    same_shape(output, x)
    return (output - x).pow(2).flatten(1).sum(1)


def same_shape(output: Tensor, x: Tensor) -> None:
    """GONError unless the decoder's output has the data's shape: broadcasting (B, 1, 28, 28)
    against (B, 28, 28) would give a loss, silently wrong, and 32 px against 28 a raw error."""
    if output.shape != x.shape:
        raise GONError(
            f"the decoder's output has shape {tuple(output.shape)} and the data {tuple(x.shape)}: "
            f"they must be the same (a decoder of your own: give its output the data's shape)"
        )


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per sample, in nats (Eq. 10)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(1)


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-log p(x | logits) per sample in nats; grey levels act as soft targets, as in the paper's BCE."""
    same_shape(logits, x)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(mean: Tensor, log_std: Tensor, x: Tensor) -> Tensor:
    """-log N(x; mean, exp(log_std)^2) per sample in nats, a density over intensities in [0, 1]."""
    z = (x - mean) * torch.exp(-log_std)
    per_dim = 0.5 * z.pow(2) + log_std + 0.5 * math.log(2 * math.pi)
    return per_dim.flatten(1).sum(1)


def bits_per_dim(nats_per_sample: Tensor, dims: int, likelihood: str) -> Tensor:
    """Negative ELBO in bits per dimension (the paper's Table 2 unit).

    A Gaussian is a density over intensities scaled to [0, 1]; adding log(256) per
    dimension converts it to a (uniformly dequantised) likelihood of 8-bit pixels. The
    Bernoulli likelihood is reported as it is, as in the paper.
    """
    correction = dims * math.log(256) if likelihood == "gaussian" else 0.0
    return (nats_per_sample + correction) / (dims * math.log(2))


def masked_squared_error(mask: Tensor):
    """Summed squared error over the pixels where `mask` is 1: an inner loss that sees only
    part of the signal (Section 3.5: translation, here inpainting). `mask` broadcasts
    against the images, e.g. (1, 1, H, W)."""

    def loss(output: Tensor, x: Tensor) -> Tensor:
        return ((output - x).pow(2) * mask).flatten(1).sum(1)

    return loss
