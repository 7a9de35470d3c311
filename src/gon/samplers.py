"""Samplers: distributions over a model's latent space, kept apart from the models.

- PriorSampler: N(0, I) at the variational decoder's input (variational GONs).
- GaussianSampler: a full-covariance Gaussian fitted to the latents of the training set
  (Appendix D: how the paper samples GONs trained without a prior).
- MixtureSampler: a full-covariance Gaussian mixture fitted to the same latents, its
  number of components chosen by the likelihood of held-out latents.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from torch import Tensor

from .errors import GONError
from .files import FORMAT, read_tensors, save_tensors, tensor_problem, write_atomically
from .layout import RunLayout

logger = logging.getLogger("gon")


class PriorSampler:
    """The prior N(0, I_k) of a variational GON, k = latent_dim (Section 3.3).

    Its draws belong at the variational decoder's input, after the stochastic layer
    (`VariationalGON.sample_prior` decodes them there); `model.generate` would instead pass
    them through the stochastic layer's mean, as if they were gradient-origin latents.
    """

    name = "prior"

    def __init__(self, latent_dim: int) -> None:
        self.latent_dim = latent_dim

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from N(0, I): (n, latent_dim), on the CPU."""
        return torch.randn(n, self.latent_dim, generator=generator)


def cholesky_factor(covariance: Tensor) -> Tensor:
    """The Cholesky factor of covariance matrices (..., k, k), a little jitter added: it keeps the
    factor defined when some latent directions are unused. A covariance of fewer latents than
    dimensions (a tiled model's latent of hundreds of values, fitted on a few hundred clips) is
    singular beyond what float32 can factor with that jitter: it is factored in float64 then."""
    jitter = 1e-6 * covariance.diagonal(dim1=-2, dim2=-1).mean().clamp_min(1e-12)
    eye = torch.eye(covariance.shape[-1], dtype=covariance.dtype)
    factor, info = torch.linalg.cholesky_ex(covariance + jitter * eye)
    if bool((info == 0).all()):
        return factor
    return torch.linalg.cholesky(covariance.double() + jitter.double() * eye.double()).to(covariance.dtype)


class GaussianSampler:
    """N(mean, covariance) over gradient-origin latents: mean (k,), covariance (k, k).

    How GONs trained without a prior are sampled (Appendix D): fit it to the latents of the
    training set (`GaussianSampler.fit(encode_dataset(model, data))`), then decode its draws
    with `model.generate`.
    """

    name = "gaussian"

    def __init__(self, mean: Tensor, covariance: Tensor) -> None:
        self.mean = mean
        self.covariance = covariance
        # jitter keeps the Cholesky factor defined when some latent directions are unused
        self._scale = cholesky_factor(covariance)

    @classmethod
    def fit(cls, latents: Tensor) -> GaussianSampler:
        """The Gaussian with the sample mean and covariance of latents (N, k); GONError if any is not finite."""
        if not torch.isfinite(latents).all():
            raise GONError("cannot fit a latent sampler: the model's latents are not finite")
        latents = latents.double()
        covariance = torch.cov(latents.T) if len(latents) > 1 else torch.full((latents.shape[1],) * 2, math.nan)
        if not torch.isfinite(covariance).all():  # one latent has no spread: the prior's covariance stands in
            logger.warning("one latent cannot give a covariance: sampling N(mean, I) instead")
            covariance = torch.eye(latents.shape[1], dtype=torch.float64)
        return cls(latents.mean(0).float(), covariance.float())

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latents (n, k) drawn from the Gaussian."""
        eps = torch.randn(n, len(self.mean), generator=generator)
        return self.mean + eps @ self._scale.T

    def state_dict(self) -> dict[str, Tensor]:
        """{"mean", "covariance"}: the tensors `GaussianSampler(**state)` is rebuilt from (sampler.safetensors)."""
        return {"mean": self.mean.contiguous(), "covariance": self.covariance.contiguous()}


class MixtureSampler:
    """A Gaussian mixture over latents: weights (K,), means (K, k), covariances (K, k, k)."""

    name = "gmm"

    def __init__(self, weights: Tensor, means: Tensor, covariances: Tensor) -> None:
        self.weights, self.means, self.covariances = weights, means, covariances
        self._scales = cholesky_factor(covariances)

    @classmethod
    def fit(
        cls, latents: Tensor, components: tuple[int, ...] = (1, 2, 4, 8, 16), held_out: float = 0.2, seed: int = 0
    ) -> tuple[MixtureSampler, dict[int, float]]:
        """Fit mixtures of each size on (1 - held_out) of the latents, keep the size whose
        mean held-out log-likelihood is highest, refit it on all latents. Returns the sampler
        and the held-out log-likelihood per component count."""
        # scikit-learn's EM with k-means initialisation and covariance regularisation:
        # better tested than an EM written here
        from sklearn.mixture import GaussianMixture

        if not torch.isfinite(latents).all():
            raise GONError("cannot fit a latent sampler: the model's latents are not finite")
        data = latents.double().numpy()
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).numpy()
        cut = int(len(data) * (1 - held_out))
        train, test = data[order[:cut]], data[order[cut:]]
        scores = {}
        for k in components:
            if k > len(train):
                continue
            mixture = GaussianMixture(k, covariance_type="full", reg_covar=1e-6, random_state=seed).fit(train)
            scores[k] = float(mixture.score(test))
        best = max(scores, key=scores.get)
        mixture = GaussianMixture(best, covariance_type="full", reg_covar=1e-6, random_state=seed).fit(data)
        return cls(
            *(torch.from_numpy(a).float() for a in (mixture.weights_, mixture.means_, mixture.covariances_))
        ), scores

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator)
        return self.means[component] + torch.einsum("nij,nj->ni", self._scales[component], eps)

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "weights": self.weights.contiguous(),
            "means": self.means.contiguous(),
            "covariances": self.covariances.contiguous(),
        }


# sampler files: sampler.safetensors (the Gaussian `gon train` writes) and sampler-NAME.safetensors

SAMPLER_FILE = RunLayout.SAMPLER
# name -> (class, its tensors in constructor order)
SAMPLERS = {
    GaussianSampler.name: (GaussianSampler, ("mean", "covariance")),
    MixtureSampler.name: (MixtureSampler, ("weights", "means", "covariances")),
}


def sampler_file(directory: str | Path, name: str) -> Path:
    """sampler.safetensors for the Gaussian (the default written by `gon train`), sampler-NAME.safetensors otherwise."""
    return Path(directory) / (SAMPLER_FILE if name == GaussianSampler.name else f"sampler-{name}.safetensors")


def save_sampler(directory: str | Path, sampler: GaussianSampler | MixtureSampler) -> Path:
    path = sampler_file(directory, sampler.name)
    return write_atomically(
        path, lambda tmp: save_tensors(sampler.state_dict(), tmp, metadata={"format": FORMAT, "sampler": sampler.name})
    )


def load_sampler(
    directory: str | Path, name: str = GaussianSampler.name, latent_dim: int | None = None
) -> GaussianSampler | MixtureSampler:
    """The sampler saved in `directory` (for a model of `latent_dim`, if given); GONError
    naming the file unless every tensor has the shape, type and values a sampler of this
    library has (finite float32, a probability vector, symmetric positive definite covariances)."""
    path = sampler_file(directory, name)
    state, metadata = read_tensors(path)
    cls, keys = SAMPLERS[name]
    if metadata.get("sampler") != name or set(state) != set(keys):
        raise GONError(f"{path}: not a {name} latent sampler of this library")
    problem = _sampler_problem(name, state, latent_dim)
    if problem is not None:
        raise GONError(f"{path}: unusable sampler ({problem})")
    try:
        return cls(*(state[k] for k in keys))
    except RuntimeError as error:  # e.g. a covariance that is not positive definite
        raise GONError(f"{path}: unusable sampler ({str(error).splitlines()[0]})") from None


def _sampler_problem(name: str, state: dict[str, Tensor], latent_dim: int | None) -> str | None:
    """What is wrong with a sampler file's tensors, or None."""
    for key, tensor in state.items():
        problem = tensor_problem(key, tensor)
        if problem is not None:
            return problem
    if name == GaussianSampler.name:
        mean, covariance = state["mean"], state["covariance"]
        if mean.dim() != 1 or len(mean) == 0:
            return f"mean has shape {tuple(mean.shape)}, not (latent_dim,)"
        components, means, covariances = 1, mean[None], covariance[None]
    else:
        weights, means, covariances = state["weights"], state["means"], state["covariances"]
        if weights.dim() != 1 or len(weights) == 0:
            return f"weights has shape {tuple(weights.shape)}, not (components,)"
        if (weights < 0).any() or abs(float(weights.sum()) - 1) > 1e-3:
            return "weights are not probabilities summing to 1"
        components = len(weights)
        if means.dim() != 2 or means.shape[0] != components or means.shape[1] == 0:
            return f"means has shape {tuple(means.shape)}, not ({components}, latent_dim)"
    k = means.shape[1]
    if latent_dim is not None and k != latent_dim:
        return f"its latents have {k} dimensions, the model's {latent_dim}"
    if tuple(covariances.shape) != (components, k, k):
        return f"the covariances have shape {tuple(covariances.shape[-3:])}, not {(k, k)} per component"
    if not torch.allclose(covariances, covariances.transpose(1, 2), rtol=1e-4, atol=1e-6):
        return "a covariance is not symmetric"
    return None
