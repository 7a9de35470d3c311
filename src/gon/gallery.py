"""What a trained model shows: reconstructions, samples, interpolations, renders, as tensors of
examples; each signal writes its own (gon/signals: PNG grids of images, WAV files beside pictures
of clips, ...)."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from .data import Data
from .models import ImplicitGON, LatentModel, Variational
from .samplers import GaussianSampler, PriorSampler
from .signals.image import pair_rows
from .viz import lerp, slerp

logger = logging.getLogger("gon")


def spread(data: Data, n: int) -> Tensor:
    """n images evenly spaced through `data` (data sets are often sorted by class); all of them,
    with a notice, where it holds fewer."""
    if n > len(data):
        logger.info("%s holds %d, fewer than the %d asked for: taking all %d", data.name, len(data), n, len(data))
        n = len(data)
    return data.batch(torch.linspace(0, len(data) - 1, n).round().long())


def reconstruction_pairs(model: LatentModel, x: Tensor, columns: int = 8) -> Tensor:
    """Rows alternate originals and their reconstructions: (2 * ceil(N / columns) * columns) images."""
    model.eval()
    return pair_rows(x, model.reconstruct(x), columns)


def samples(
    model: LatentModel,
    sampler: GaussianSampler | PriorSampler,
    n: int,
    seed: int = 0,
    resolution: int | tuple[int, ...] | None = None,
) -> Tensor:
    """n images decoded from latents drawn from `sampler` (a prior sampler draws at the
    variational decoder's input, after its stochastic layer)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, Variational) and isinstance(sampler, PriorSampler):
        return model.sample_prior(n, generator)
    return decode_latents(model, sampler.sample(n, generator), resolution)


def decode_latents(model: LatentModel, z: Tensor, resolution: int | tuple[int, ...] | None = None) -> Tensor:
    if resolution is not None and isinstance(model, ImplicitGON):
        return model.render(z, resolution)
    return model.generate(z)


def interpolations(
    model: LatentModel,
    start: Tensor,
    end: Tensor,
    steps: int = 10,
    spherical: bool = True,
    resolution: int | tuple[int, ...] | None = None,
) -> Tensor:
    """For each pair (start[i], end[i]), `steps` images along the path; row-major (pairs x steps)."""
    model.eval()
    t = torch.linspace(0, 1, steps)
    path = (slerp if spherical else lerp)(start, end, t)  # (steps, pairs, k)
    z = path.transpose(0, 1).reshape(-1, start.shape[-1])
    return decode_latents(model, z, resolution)
