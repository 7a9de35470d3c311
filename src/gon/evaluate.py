"""Evaluation metrics on held-out data, in eval mode, batch by batch."""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from .config import ModelConfig
from .data import Data, ImageData
from .models import LatentModel, images_that_fit
from .signals import IMAGE, signal_of


def _fitting_batch(model: LatentModel, batch_size: int) -> int:
    """`batch_size`, or fewer images if their activations would not fit in memory (the
    results are the same: eval-mode latents do not depend on the batch)."""
    config = getattr(model, "config", None)
    return images_that_fit(config, batch_size, "eval") if isinstance(config, ModelConfig) else batch_size


@torch.no_grad()
def encode_dataset(model: LatentModel, data: ImageData, batch_size: int = 256, limit: int | None = None) -> Tensor:
    """Latents of the first `limit` (default all) images of `data`, in eval mode."""
    model.eval()
    n = len(data) if limit is None else min(limit, len(data))
    batch_size = _fitting_batch(model, batch_size)
    return torch.cat([model.encode(data.batch(slice(i, min(i + batch_size, n)))) for i in range(0, n, batch_size)])


def with_batch_statistics(model: LatentModel) -> LatentModel:
    """A copy whose BatchNorm layers normalise with the statistics of each batch, as the
    paper's scripts do at every step (they never switch to eval mode)."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
    return model


def evaluate(
    model: LatentModel,
    data: Data,
    batch_size: int = 256,
    seed: int = 0,
    batch_statistics: bool = False,
    per_clip: bool = False,
) -> dict[str, float]:
    """Mean per-image metrics over `data`.

    sse_per_image: summed squared error per image of F(z) against x, intensities in
    [0, 1] (the paper's Table 1 metric); mse_per_pixel: the same per dimension. Variational
    models add elbo_bits_per_dim (Table 2) from one posterior sample per image, drawn from
    a generator seeded with `seed` so that the number is reproducible.
    Classifiers on labelled data add accuracy (fraction of correct predictions).
    batch_statistics=True evaluates the paper's train-mode BatchNorm formulation (latents
    then depend on the batch; use the paper's batch size of 64).
    Another signal (gon/signals): the same sums over an example's values (mse_per_pixel is per
    value: a clip's sample, a video's pixel), plus the means over examples of the signal's own
    metrics (`Signal.metrics`: sound's SNR, PSNR and log-spectral distance, video's PSNR);
    per_clip=True adds "clips", one row per example (file, sse, mse and the signal's
    `row_metrics`) for a signal that lists some.
    """
    model.eval()
    if not batch_statistics:  # with batch statistics the batch is part of the metric
        batch_size = _fitting_batch(model, batch_size)
    runner = with_batch_statistics(model) if batch_statistics else model
    generator = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    config = getattr(model, "config", None)
    signal = signal_of(config) if isinstance(config, ModelConfig) else IMAGE
    files = getattr(data, "files", ())
    clips: list[dict] = []
    for i in range(0, len(data), batch_size):
        x = data.batch(slice(i, i + batch_size))
        labels = data.labels[i : i + batch_size] if data.labels is not None else None
        metrics = runner.evaluate_batch(x, generator=generator, labels=labels)
        metrics = {**metrics, **signal.metrics(x, metrics["sse"], lambda x=x: runner.reconstruct(x))}
        if signal.row_metrics:
            for j, sse in enumerate(metrics["sse"].tolist()):
                clips.append(
                    {
                        "file": files[i + j] if files else str(i + j),
                        "sse": sse,
                        "mse": sse / x[0].numel(),
                        **{key: float(metrics[key][j]) for key in signal.row_metrics},
                    }
                )
        for key, values in metrics.items():
            sums[key] = sums.get(key, 0.0) + float(values.double().sum())
    n = len(data)
    result = {("sse_per_image" if k == "sse" else k): v / n for k, v in sums.items()}
    result["mse_per_pixel"] = result["sse_per_image"] / math.prod(data.shape)
    result["images"] = n
    if per_clip and signal.row_metrics:
        result["clips"] = clips
    return result


def latent_statistics(latents: Tensor) -> dict[str, float]:
    """How normal the latents are (Figs. 13-14): each dimension standardised, then pooled.

    Returns the mean and spread of the per-dimension means and standard deviations, the
    pooled skewness and excess kurtosis (both 0 for a normal), and the Kolmogorov-Smirnov
    distance between the pooled standardised values and N(0, 1).
    """
    latents = latents.double()
    mean, std = latents.mean(0), latents.std(0).clamp_min(1e-12)
    z = ((latents - mean) / std).flatten()
    values, _ = z.sort()
    normal_cdf = 0.5 * (1 + torch.erf(values / 2**0.5))
    n = len(values)
    empirical_hi = torch.arange(1, n + 1, dtype=torch.float64) / n
    empirical_lo = torch.arange(0, n, dtype=torch.float64) / n
    ks = torch.maximum((empirical_hi - normal_cdf).abs(), (normal_cdf - empirical_lo).abs()).max()
    return {
        "images": latents.shape[0],
        "latent_dim": latents.shape[1],
        "mean_of_means": float(mean.mean()),
        "std_of_means": float(mean.std()),
        "mean_of_stds": float(std.mean()),
        "std_of_stds": float(std.std()),
        "skewness": float(z.pow(3).mean()),
        "excess_kurtosis": float(z.pow(4).mean() - 3),
        "ks_distance_to_normal": float(ks),
    }
