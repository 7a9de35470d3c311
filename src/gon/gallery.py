"""Pictures of a trained model: reconstructions, samples, interpolations, renders."""

from __future__ import annotations

import torch
from torch import Tensor

from .data import ImageData
from .errors import GONError
from .models import ImplicitGON, LatentModel, Variational
from .samplers import GaussianSampler, PriorSampler
from .viz import lerp, slerp


def spread(data: ImageData, n: int) -> Tensor:
    """n images evenly spaced through `data` (data sets are often sorted by class)."""
    if n > len(data):
        raise GONError(f"{data.name}: {len(data)} images, {n} needed")
    return data.batch(torch.linspace(0, len(data) - 1, n).round().long())


def reconstruction_pairs(model: LatentModel, x: Tensor, columns: int = 8) -> Tensor:
    """Rows alternate originals and their reconstructions: (2 * ceil(N / columns) * columns) images."""
    model.eval()
    recon = model.reconstruct(x)
    rows = []
    for i in range(0, len(x), columns):
        original, rebuilt = x[i:i + columns], recon[i:i + columns]
        pad = columns - len(original)
        if pad:
            blank = torch.ones(pad, *x.shape[1:])
            original, rebuilt = torch.cat([original, blank]), torch.cat([rebuilt, blank])
        rows += [original, rebuilt]
    return torch.cat(rows)


def samples(model: LatentModel, sampler: GaussianSampler | PriorSampler, n: int, seed: int = 0,
            resolution: int | None = None) -> Tensor:
    """n images decoded from latents drawn from `sampler` (a prior sampler draws at the
    variational decoder's input, after its stochastic layer)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, Variational) and isinstance(sampler, PriorSampler):
        return model.sample_prior(n, generator)
    return decode_latents(model, sampler.sample(n, generator), resolution)


def decode_latents(model: LatentModel, z: Tensor, resolution: int | None = None) -> Tensor:
    if resolution is not None and isinstance(model, ImplicitGON):
        return model.render(z, resolution)
    return model.generate(z)


def interpolations(model: LatentModel, start: Tensor, end: Tensor, steps: int = 10, spherical: bool = True,
                   resolution: int | None = None) -> Tensor:
    """For each pair (start[i], end[i]), `steps` images along the path; row-major (pairs x steps)."""
    model.eval()
    t = torch.linspace(0, 1, steps)
    path = (slerp if spherical else lerp)(start, end, t)  # (steps, pairs, k)
    z = path.transpose(0, 1).reshape(-1, start.shape[-1])
    return decode_latents(model, z, resolution)
