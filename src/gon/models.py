"""GON models: a decoder plus the gradient-origin step, behind one interface.

    model = build_model(ModelConfig(kind="conv"))
    z = model.encode(x)                # latents from gradients at the origin
    images = model.reconstruct(x)      # F(z) as images in [0, 1]
    loss = model.loss(x)               # the training objective (mean over the batch)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .decoders import (ACTIVATIONS, CONV_SIZES, NORMS, ConvDecoder, CoordinateSubset, ImplicitDecoder,
                       VariationalDecoder)
from .errors import GONError
from .losses import LIKELIHOODS, bernoulli_nll, bits_per_dim, gaussian_kl, gaussian_nll, squared_error
from .origin import LATENT_FORMS, OriginStep, gradient_origin, shares_origin

MODEL_KINDS = ("conv", "variational", "implicit")
PAPER_BATCH_SIZE = 64

# The paper's hyper-parameters per kind (its released scripts), used where the user gives none.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": dict(image_size=32, latent_dim=32, hidden_features=16, activation="elu"),
    "variational": dict(image_size=32, latent_dim=48, hidden_features=32, activation="elu"),
    "implicit": dict(image_size=28, latent_dim=32, hidden_features=256, activation="sine"),
}


@dataclass
class ModelConfig:
    """Every knob of a model. Names map to the paper's symbols: latent_dim is k (nz in
    its code), hidden_features is f (ngf) for convolutional decoders and the SIREN width
    for implicit ones, w0 the SIREN frequency, inner_* the gradient-origin step."""

    kind: str = "conv"
    image_size: int | None = None
    channels: int = 1
    latent_dim: int | None = None
    hidden_features: int | None = None
    num_layers: int = 4
    activation: str | None = None
    # GroupNorm by default: per-sample, so a latent never depends on its batch. "batch" is
    # the paper's train-mode BatchNorm, which couples samples (measured in docs/design.md).
    norm: str = "group"
    w0: float = 30.0
    likelihood: str = "bernoulli"
    inner_steps: int = 1
    inner_step_size: float = 1.0
    detach: bool = False
    origin_std: float = 0.0
    latent_form: str = "negative_gradient"
    inner_scale: float | None = None
    # implicit only: train on this many random coordinates per step (Monte Carlo estimate
    # of the integrals of Eq. 12); None uses the whole grid
    coordinate_samples: int | None = None
    # GON classifier (Eq. 13): number of classes of a linear softmax head on the latent, and
    # the weight of the reconstruction loss (summed squared error per image) trained with it;
    # 0 is a classifier alone. The default 0.01 brings the per-image error (~10-100) to the
    # scale of the cross-entropy: measured on mnist5k (400 steps) it keeps 82% accuracy with
    # SSE 27.6, where a weight of 0.1 gives 28% and 12.8, and 0 gives 82.5% with no images.
    classes: int | None = None
    reconstruction_weight: float = 0.01

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise GONError(f"unknown model kind {self.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
        for key, value in KIND_DEFAULTS[self.kind].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for key in ("image_size", "channels", "latent_dim", "hidden_features", "num_layers", "inner_steps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GONError(f"{key} must be a positive integer, got {value!r}")
        if self.channels not in (1, 3):
            raise GONError(f"channels must be 1 or 3, got {self.channels}")
        if self.kind != "implicit" and self.image_size not in CONV_SIZES:
            raise GONError(f"a {self.kind} model needs image_size in {CONV_SIZES}, got {self.image_size}")
        for key in ("w0", "inner_step_size", "origin_std", "inner_scale"):
            value = getattr(self, key)
            if value is None and key == "inner_scale":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GONError(f"{key} must be a finite number, got {value!r}")
        if not isinstance(self.detach, bool):
            raise GONError(f"detach must be true or false, got {self.detach!r}")
        if self.activation not in ACTIVATIONS:
            raise GONError(f"unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}")
        if self.norm not in NORMS:
            raise GONError(f"unknown norm {self.norm!r}: choose one of {', '.join(NORMS)}")
        if self.likelihood not in LIKELIHOODS:
            raise GONError(f"unknown likelihood {self.likelihood!r}: choose one of {', '.join(LIKELIHOODS)}")
        if self.latent_form not in LATENT_FORMS:
            raise GONError(f"unknown latent form {self.latent_form!r}: choose one of {', '.join(LATENT_FORMS)}")
        if not (isinstance(self.w0, (int, float)) and self.w0 > 0):
            raise GONError(f"w0 must be a positive number, got {self.w0!r}")
        if self.coordinate_samples is not None:
            value = self.coordinate_samples
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GONError(f"coordinate_samples must be a positive integer, got {value!r}")
            if self.kind != "implicit":
                raise GONError("coordinate_samples applies to implicit models only")
        if self.classes is not None:
            if isinstance(self.classes, bool) or not isinstance(self.classes, int) or self.classes < 2:
                raise GONError(f"classes must be an integer >= 2, got {self.classes!r}")
            if self.kind == "variational":
                raise GONError("GON classifiers are built on conv or implicit models, not variational ones")
        if isinstance(self.reconstruction_weight, bool) or not isinstance(self.reconstruction_weight, (int, float)) \
                or not math.isfinite(self.reconstruction_weight) or self.reconstruction_weight < 0:
            raise GONError(f"reconstruction_weight must be a number >= 0, got {self.reconstruction_weight!r}")
        if self.inner_scale is None:
            self.inner_scale = paper_inner_scale(self.kind, self.image_size, self.channels)
        self.origin_step()  # validates the step's values

    def origin_step(self) -> OriginStep:
        return OriginStep(self.inner_steps, float(self.inner_step_size), bool(self.detach),
                          float(self.origin_std), self.latent_form, float(self.inner_scale))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        return config_from_dict(cls, values, "model")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def config_from_dict(cls: type, values: dict[str, Any], what: str) -> Any:
    """A config dataclass from a dict, refusing keys it does not know (typos must not pass silently)."""
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise GONError(f"unknown {what} config key(s): {', '.join(map(repr, unknown))}")
    return cls(**values)


def paper_inner_scale(kind: str, image_size: int, channels: int) -> float:
    """The fixed inner-loss scale that reproduces the paper's gradients at batch size 64.

    The paper's inner losses, divided by the batch size B, per sample:
      conv:        ((g - x)**2).sum(1).mean()   -> SSE_i / (B * H * W)   (mean over batch and pixels)
      implicit:    ((g - x)**2).sum(1).mean()   -> SSE_i / (B * C)       (sum over coordinates)
      variational: (BCE.sum(1) + KL).mean()     -> ELBO_i / B
    We sum per-sample losses instead and fix B = 64, so latents never depend on the batch.
    """
    if kind == "conv":
        return 1.0 / (PAPER_BATCH_SIZE * image_size * image_size)
    if kind == "implicit":
        return 1.0 / (PAPER_BATCH_SIZE * channels)
    return 1.0 / PAPER_BATCH_SIZE


class GON(nn.Module):
    """An encoder-free autoencoder: a decoder and the gradient-origin step (Eq. 8).

    Works with any decoder mapping (batch, latent_dim) to an output the two losses accept.
    The inner loss encodes, the outer loss trains; both are per-sample (Section 3.5 allows
    them to differ, e.g. for translation).
    """

    def __init__(self, decoder: nn.Module, latent_dim: int, step: OriginStep = OriginStep(),
                 inner_loss=squared_error, outer_loss=None) -> None:
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.step = step
        self._inner_loss = inner_loss
        self._outer_loss = outer_loss or inner_loss
        self.classifier: nn.Linear | None = None
        self.reconstruction_weight = 1.0

    def add_classifier(self, classes: int, reconstruction_weight: float = 0.01) -> "GON":
        """Make this a GON classifier (Eq. 13): softmax(W z + b) on the gradient-origin latent,
        trained with cross-entropy plus `reconstruction_weight` times the reconstruction
        loss (0: a classifier alone, as Eq. 13; > 0: jointly with reconstruction)."""
        self.classifier = nn.Linear(self.latent_dim, classes)
        self.reconstruction_weight = reconstruction_weight
        return self

    def inner_loss(self, output: Any, x: Tensor) -> Tensor:
        return self._inner_loss(output, x)

    def outer_loss(self, output: Any, x: Tensor) -> Tensor:
        return self._outer_loss(output, x)

    def encode(self, x: Tensor, create_graph: bool | None = None) -> Tensor:
        """Latents of x. Keeps the second-order graph in training mode unless told otherwise."""
        create_graph = self.training if create_graph is None else create_graph
        return gradient_origin(self._origin_decoder(), x, self.inner_loss, (self.latent_dim,), self.step,
                               create_graph=create_graph)

    def decode(self, z: Tensor) -> Any:
        return self.decoder(z)

    def origin_path(self, batch_size: int) -> str:
        """Which gradient-origin computation `encode` uses now for a batch, and why (for logs)."""
        decoder = self._origin_decoder()
        if shares_origin(decoder, self.step, batch_size):
            return "shared origin: one Jacobian at z0 for the whole batch"
        if not hasattr(decoder, "origin_jacobian"):
            return "general: this decoder offers no origin Jacobian"
        if not getattr(decoder, "independent_samples", True):
            return "general: train-mode BatchNorm couples the samples of a batch"
        if self.step.steps != 1 or self.step.origin_std != 0:
            return "general: several inner steps or a noisy origin give each sample its own point"
        return (f"general: at batch {batch_size} the origin Jacobian would cost more than it saves "
                f"(shared from batch {getattr(decoder, 'origin_jacobian_cost', 0) + 1})")

    def _origin_decoder(self) -> Any:
        # the decoder module itself when decode is plain, so the step can use its origin Jacobian
        return self.decoder if type(self).decode is GON.decode else self.decode

    def to_images(self, output: Any) -> Tensor:
        """Decoder output as images in [0, 1]."""
        return output.clamp(0, 1)

    def reconstruct(self, x: Tensor) -> Tensor:
        z = self.encode(x)
        with torch.no_grad():
            return self.to_images(self.decode(z))

    def generate(self, z: Tensor) -> Tensor:
        with torch.no_grad():
            return self.to_images(self.decode(z))

    def loss(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The training objective: mean over the batch of the per-sample outer loss at F(z);
        for a classifier, cross-entropy on the latent plus the weighted reconstruction loss."""
        z = self.encode(x)
        if self.classifier is None:
            return self.outer_loss(self.decode(z), x).mean()
        if labels is None:
            raise GONError("a GON classifier needs labels to train: use a data set with labels")
        loss = torch.nn.functional.cross_entropy(self.classifier(z), labels)
        if self.reconstruction_weight:
            loss = loss + self.reconstruction_weight * self.outer_loss(self.decode(z), x).mean()
        return loss

    @torch.no_grad()
    def evaluate_batch(self, x: Tensor, generator: torch.Generator | None = None,
                       labels: Tensor | None = None) -> dict[str, Tensor]:
        """Per-sample metrics of a batch: the summed squared error of the reconstruction, and
        for a classifier with labels whether each prediction is correct."""
        z = self.encode(x)
        metrics = {"sse": squared_error(self.to_images(self.decode(z)), x)}
        if self.classifier is not None and labels is not None:
            metrics["accuracy"] = (self.classifier(z).argmax(1) == labels).double()
        return metrics


class VariationalGON(GON):
    """Variational GON (Section 3.3): ELBO as inner and outer loss, samples from N(0, I)."""

    def __init__(self, decoder: VariationalDecoder, latent_dim: int, step: OriginStep = OriginStep(),
                 likelihood: str = "bernoulli") -> None:
        super().__init__(decoder, latent_dim, step)
        self.likelihood = likelihood
        if likelihood == "gaussian":
            # one learned noise scale for all pixels: the Gaussian decoder's variance
            self.log_std = nn.Parameter(torch.tensor(-2.0))

    def nll(self, output: tuple[Tensor, Tensor, Tensor], x: Tensor) -> Tensor:
        decoded = output[0]
        if self.likelihood == "bernoulli":
            return bernoulli_nll(decoded, x)
        return gaussian_nll(torch.sigmoid(decoded), self.log_std, x)

    def inner_loss(self, output: tuple[Tensor, Tensor, Tensor], x: Tensor) -> Tensor:
        return self.nll(output, x) + gaussian_kl(output[1], output[2])

    outer_loss = inner_loss

    def to_images(self, output: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        return torch.sigmoid(output[0])

    @torch.no_grad()
    def evaluate_batch(self, x: Tensor, generator: torch.Generator | None = None,
                       labels: Tensor | None = None) -> dict[str, Tensor]:
        """SSE of the mean reconstruction, and the negative ELBO with one posterior sample."""
        z = self.encode(x)
        sse = squared_error(self.to_images(self.decode(z)), x)
        sampled = self.decoder(z, sample=True, generator=generator)
        nats = self.nll(sampled, x) + gaussian_kl(sampled[1], sampled[2])
        return {"sse": sse, "elbo_nats": nats, "elbo_bits_per_dim": bits_per_dim(nats, x[0].numel(), self.likelihood)}

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Images decoded from N(0, I) at the decoder's input (after the stochastic layer)."""
        device = next(self.parameters()).device
        h = torch.randn(n, self.latent_dim, generator=generator, device=device)
        with torch.no_grad():
            return torch.sigmoid(self.decoder.decoder(h))


class ImplicitGON(GON):
    """Implicit GON (Section 3.4): a SIREN on coordinates (+) latent; losses summed over coordinates (Eq. 12).

    With `coordinate_samples` set, each training step integrates Eq. 12 by Monte Carlo over
    that many random coordinates (shared by the batch, so the shared origin still applies),
    scaled by P / n so that both integrals are unbiased estimates of the full-grid sums.
    A step then costs about the same at any image size.
    """

    def __init__(self, decoder: ImplicitDecoder, latent_dim: int, step: OriginStep = OriginStep(),
                 coordinate_samples: int | None = None) -> None:
        super().__init__(decoder, latent_dim, step)
        self.coordinate_samples = coordinate_samples

    def loss(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        points = self.decoder.grid.shape[0]
        n = self.coordinate_samples
        if not self.training or n is None or n >= points or self.classifier is not None:
            return super().loss(x, labels)
        index = torch.randperm(points, device=x.device)[:n]
        subset = CoordinateSubset(self.decoder, self.decoder.grid[index])
        target = x.flatten(2)[:, :, index]                                   # (B, C, n)
        scale = points / n
        step = dataclasses.replace(self.step, inner_scale=self.step.inner_scale * scale)
        z = gradient_origin(subset, target, self.inner_loss, (self.latent_dim,), step, create_graph=True)
        return scale * self.outer_loss(subset(z), target).mean()

    def render(self, z: Tensor, size: int) -> Tensor:
        with torch.no_grad():
            return self.decoder.render(z, size).clamp(0, 1)


def build_model(config: ModelConfig) -> GON:
    """A fresh model for `config`, initialised as the paper's."""
    model = _build_gon(config)
    if config.classes is not None:
        model.add_classifier(config.classes, float(config.reconstruction_weight))
    return model


def _build_gon(config: ModelConfig) -> GON:
    c = config
    step = c.origin_step()
    if c.kind == "implicit":
        decoder = ImplicitDecoder(c.latent_dim, c.channels, c.image_size, c.hidden_features, c.num_layers,
                                  c.w0, c.activation)
        return ImplicitGON(decoder, c.latent_dim, step, c.coordinate_samples)
    output = "logits" if c.kind == "variational" else "sigmoid"
    conv = ConvDecoder(c.latent_dim, c.channels, c.image_size, c.hidden_features, c.activation, c.norm, output)
    if c.kind == "variational":
        return VariationalGON(VariationalDecoder(c.latent_dim, conv), c.latent_dim, step, c.likelihood)
    return GON(conv, c.latent_dim, step)
