"""Samplers: distributions over a model's latent space, kept apart from the models.

- PriorSampler: N(0, I) at the variational decoder's input (variational GONs).
- GaussianSampler: a full-covariance Gaussian fitted to the latents of the training set
  (Appendix D: how the paper samples GONs trained without a prior).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import GONError


class PriorSampler:
    name = "prior"

    def __init__(self, latent_dim: int) -> None:
        self.latent_dim = latent_dim

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)


class GaussianSampler:
    name = "gaussian"

    def __init__(self, mean: Tensor, covariance: Tensor) -> None:
        self.mean = mean
        self.covariance = covariance
        # jitter keeps the Cholesky factor defined when some latent directions are unused
        jitter = 1e-6 * covariance.diagonal().mean().clamp_min(1e-12)
        self._scale = torch.linalg.cholesky(covariance + jitter * torch.eye(len(mean)))

    @classmethod
    def fit(cls, latents: Tensor) -> "GaussianSampler":
        if not torch.isfinite(latents).all():
            raise GONError("cannot fit a latent sampler: the model's latents are not finite")
        latents = latents.double()
        return cls(latents.mean(0).float(), torch.cov(latents.T).float())

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(n, len(self.mean), generator=generator)
        return self.mean + eps @ self._scale.T

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean.contiguous(), "covariance": self.covariance.contiguous()}
