"""GON models: a decoder plus the gradient-origin step, behind one interface.

    model = build_model(ModelConfig(kind="conv"))
    z = model.encode(x)                # latents from gradients at the origin
    images = model.reconstruct(x)      # F(z) as images in [0, 1]
    loss = model.loss(x)               # the training objective (mean over the batch)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .decoders import (ACTIVATIONS, CONV_SIZES, NORMS, ConvDecoder, CoordinateSubset, ImplicitDecoder,
                       VariationalDecoder)
from .errors import GONError
from .losses import LIKELIHOODS, bernoulli_nll, bits_per_dim, gaussian_kl, gaussian_nll, squared_error
from .origin import LATENT_FORMS, OriginStep, gradient_origin, shares_origin

GON_KINDS = ("conv", "variational", "implicit")
# the paper's baselines (gon/baselines.py), built around the decoder of the GON kind named
BASELINE_KINDS = {"ae": "conv", "tied-ae": "conv", "glo": "conv", "vae": "variational"}
MODEL_KINDS = GON_KINDS + tuple(BASELINE_KINDS)
PAPER_BATCH_SIZE = 64
MAX_LAYERS = 1024  # SIREN layers; the paper's have 3-5 (checked before the model is built: each is a module)

# The paper's hyper-parameters per kind (its released scripts), used where the user gives none.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": dict(image_size=32, latent_dim=32, hidden_features=16, activation="elu"),
    "variational": dict(image_size=32, latent_dim=48, hidden_features=32, activation="elu"),
    "implicit": dict(image_size=28, latent_dim=32, hidden_features=256, activation="sine"),
}
KIND_DEFAULTS.update({kind: KIND_DEFAULTS[base] for kind, base in BASELINE_KINDS.items()})


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
    # GLO only: the size of its latent table (gon.train sets it from the training data),
    # the Adam rate of the latents (in training and when encoding new images) and the
    # number of optimisation steps that encode a new image. Measured on mnist5k (500
    # steps): rate 0.1 gives held-out SSE 3.53 with 200 steps (3.33 with 800), 0.01 gives 5.02
    train_images: int | None = None
    latent_lr: float = 0.1
    inference_steps: int = 200

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise GONError(f"unknown model kind {self.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
        for key, value in KIND_DEFAULTS[self.kind].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for key in ("image_size", "channels", "latent_dim", "hidden_features", "num_layers", "inner_steps",
                    "inference_steps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GONError(f"{key} must be a positive integer, got {value!r}")
        if self.num_layers > MAX_LAYERS:
            raise GONError(f"num_layers must be at most {MAX_LAYERS}, got {self.num_layers}")
        if self.channels not in (1, 3):
            raise GONError(f"channels must be 1 or 3, got {self.channels}")
        if self.kind != "implicit" and self.image_size not in CONV_SIZES:
            raise GONError(f"a {self.kind} model needs image_size in {CONV_SIZES}, got {self.image_size}")
        for key in ("w0", "inner_step_size", "origin_std", "inner_scale", "latent_lr"):
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
            if self.kind not in ("conv", "implicit"):
                raise GONError(f"GON classifiers are built on conv or implicit models, not {self.kind} ones")
        if self.kind in BASELINE_KINDS:
            changed = [key for key in _STEP_FIELDS[:-1] if getattr(self, key) != _FIELD_DEFAULTS[key]]
            if changed:
                raise GONError(f"{changed[0]} is an option of the gradient-origin step, which a {self.kind} model "
                               f"does not have")
        if self.train_images is not None and (isinstance(self.train_images, bool)
                                               or not isinstance(self.train_images, int) or self.train_images < 1):
            raise GONError(f"train_images must be a positive integer, got {self.train_images!r}")
        if self.latent_lr <= 0:
            raise GONError(f"latent_lr must be positive, got {self.latent_lr!r}")
        if isinstance(self.reconstruction_weight, bool) or not isinstance(self.reconstruction_weight, (int, float)) \
                or not math.isfinite(self.reconstruction_weight) or self.reconstruction_weight < 0:
            raise GONError(f"reconstruction_weight must be a number >= 0, got {self.reconstruction_weight!r}")
        if self.inner_scale is None:
            self.inner_scale = paper_inner_scale(self.kind, self.image_size, self.channels)
        self.origin_step()  # validates the step's values

    def origin_step(self) -> OriginStep:
        """The gradient-origin step these fields describe (inner_* map to OriginStep's fields)."""
        return OriginStep(self.inner_steps, float(self.inner_step_size), bool(self.detach),
                          float(self.origin_std), self.latent_form, float(self.inner_scale))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        """A config from a dict such as `to_dict`'s or config.json's "model"; unknown keys raise GONError."""
        return config_from_dict(cls, values, "model")

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict, defaults resolved (what config.json stores)."""
        return dataclasses.asdict(self)


_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
_STEP_FIELDS = ("inner_steps", "inner_step_size", "detach", "origin_std", "latent_form", "inner_scale")
# the kinds a field means something for; a field not named here applies to every kind
FIELD_KINDS: dict[str, tuple[str, ...]] = {
    **{key: GON_KINDS for key in _STEP_FIELDS},
    "norm": tuple(kind for kind in MODEL_KINDS if kind != "implicit"),
    "num_layers": ("implicit",), "w0": ("implicit",), "coordinate_samples": ("implicit",),
    "likelihood": ("variational", "vae"),
    "train_images": ("glo",), "latent_lr": ("glo",), "inference_steps": ("glo",),
}


def applicable_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ModelConfig dict that mean something for its kind (and, for the
    classifier weight, for a classifier): what a report should show."""
    kind = values.get("kind")
    return {key: value for key, value in values.items()
            if kind in FIELD_KINDS.get(key, (kind,))
            and not (key == "reconstruction_weight" and values.get("classes") is None)}


def config_from_dict(cls: type, values: dict[str, Any], what: str) -> Any:
    """A config dataclass from a dict, refusing keys it does not know (typos must not pass silently)."""
    if not isinstance(values, dict):
        raise GONError(f"the {what} config must be a JSON object (key: value pairs), got {type(values).__name__}")
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

    decoder: F, taking latents (B, latent_dim); latent_dim: k; step: how z is taken from the
    origin (ModelConfig.origin_step() gives the paper's, with its inner_scale);
    inner_loss / outer_loss: (F(z), x) -> one loss per sample, shape (B,); outer_loss
    defaults to inner_loss (the squared error of Eq. 8).
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
        # (C, H, W) the model takes, where known (build_model sets it); None accepts any shape
        self.image_shape: tuple[int, int, int] | None = None

    def check_images(self, x: Tensor) -> None:
        """GONError unless x is a batch (B, C, H, W) of the images this model takes."""
        if self.image_shape is None:
            return
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            c, h, w = self.image_shape
            raise GONError(f"this model takes images of {c} channel(s) at {h}x{w}, a batch of shape (B, {c}, {h}, "
                           f"{w}); got {tuple(x.shape)} (load_data(..., image_size={h}, channels={c}) fits data to it)")

    def add_classifier(self, classes: int, reconstruction_weight: float = 0.01) -> "GON":
        """Make this a GON classifier (Eq. 13): softmax(W z + b) on the gradient-origin latent,
        trained with cross-entropy plus `reconstruction_weight` times the reconstruction
        loss (0: a classifier alone, as Eq. 13; > 0: jointly with reconstruction)."""
        self.classifier = nn.Linear(self.latent_dim, classes)
        self.reconstruction_weight = reconstruction_weight
        return self

    def inner_loss(self, output: Any, x: Tensor) -> Tensor:
        """L inside the gradient (the encoder): decoder output and data (B, ...) -> loss per sample (B,)."""
        return self._inner_loss(output, x)

    def outer_loss(self, output: Any, x: Tensor) -> Tensor:
        """L at F(z) (the training loss): decoder output and data (B, ...) -> loss per sample (B,)."""
        return self._outer_loss(output, x)

    def encode(self, x: Tensor, create_graph: bool | None = None) -> Tensor:
        """Latents z = -grad_z0 L(x, F(z0)) at z0 = 0 (Eq. 8): images x (B, C, H, W) in [0, 1]
        -> z (B, latent_dim). Keeps the second-order graph in training mode unless told otherwise."""
        self.check_images(x)
        create_graph = self.training if create_graph is None else create_graph
        return gradient_origin(self._origin_decoder(), x, self.inner_loss, (self.latent_dim,), self.step,
                               create_graph=create_graph)

    def decode(self, z: Tensor) -> Any:
        """F(z): the decoder's raw output for latents (B, latent_dim) (`to_images` makes it images)."""
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
        """F(encode(x)) as images in [0, 1], the shape of x, without gradients."""
        z = self.encode(x)
        with torch.no_grad():
            return self.to_images(self.decode(z))

    def generate(self, z: Tensor) -> Tensor:
        """Images in [0, 1] decoded from latents z (B, latent_dim), e.g. a sampler's, without gradients."""
        with torch.no_grad():
            return self.to_images(self.decode(z))

    def loss(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The training objective, a scalar: mean over the batch of the per-sample outer loss at F(z)
        (Eq. 8); for a classifier, which needs int64 `labels` (B,), cross-entropy on the latent
        (Eq. 13) plus the weighted reconstruction loss."""
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

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json and model.safetensors into `directory` (created if needed), the
        files `from_pretrained`, `load_model` and the command line read. They are written into
        a sibling folder first, so a failure never leaves a half-written model: a new
        directory appears whole; in an existing one each file is replaced whole, weights first."""
        import os
        import shutil

        from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, save_model

        config = getattr(self, "config", None)
        if not isinstance(config, ModelConfig):
            raise GONError("this model has no config to save: build it with build_model(config), "
                           "or use gon.save_model(directory, model, config)")
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise GONError(f"{directory} exists and is not a directory")
        staging = directory.parent / f".{directory.name}.saving"
        try:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            save_model(staging, self, config)
            if not directory.exists():
                staging.rename(directory)
            else:
                for name in (WEIGHTS_FILE, CONFIG_FILE):
                    os.replace(staging / name, directory / name)
        except OSError as error:
            raise GONError(f"cannot save the model to {directory} ({error.strerror or error})") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "GON":
        """The model saved in `directory` (by `save_pretrained` or `gon train`), in eval mode, as
        the subclass its config names; GONError if it is not a `cls`."""
        from .checkpoint import load_model

        model, config, _ = load_model(directory)
        if not isinstance(model, cls):
            raise GONError(f"{directory}: holds a {config.kind} model ({type(model).__name__}), not a {cls.__name__}")
        return model


class VariationalGON(GON):
    """Variational GON (Section 3.3): ELBO as inner and outer loss, samples from N(0, I).

    decoder: a VariationalDecoder (stochastic layer + F); likelihood: p(x | z), "bernoulli"
    (on the decoder's logits) or "gaussian" (one learned noise scale, `log_std`).
    """

    def __init__(self, decoder: VariationalDecoder, latent_dim: int, step: OriginStep = OriginStep(),
                 likelihood: str = "bernoulli") -> None:
        super().__init__(decoder, latent_dim, step)
        self.likelihood = likelihood
        if likelihood == "gaussian":
            # one learned noise scale for all pixels: the Gaussian decoder's variance
            self.log_std = nn.Parameter(torch.tensor(-2.0))

    def nll(self, output: tuple[Tensor, Tensor, Tensor], x: Tensor) -> Tensor:
        """-log p(x | z) in nats per sample (B,), from the decoder output (logits, mu, logvar)."""
        decoded = output[0]
        if self.likelihood == "bernoulli":
            return bernoulli_nll(decoded, x)
        return gaussian_nll(torch.sigmoid(decoded), self.log_std, x)

    def inner_loss(self, output: tuple[Tensor, Tensor, Tensor], x: Tensor) -> Tensor:
        """The negative ELBO per sample (B,) (Eq. 10): nll + KL(N(mu, sigma^2) || N(0, I)); also the outer loss."""
        return self.nll(output, x) + gaussian_kl(output[1], output[2])

    outer_loss = inner_loss

    def to_images(self, output: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """The decoder output's mean image: sigmoid of its logits, in [0, 1]."""
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
        """GON.loss, with I_x of Eq. 12 estimated on `coordinate_samples` random coordinates in
        training mode (the whole grid otherwise, and always for a classifier)."""
        self.check_images(x)
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
        """Images in [0, 1] of latents z (B, latent_dim) at any resolution: (B, C, size, size)."""
        with torch.no_grad():
            return self.decoder.render(z, size).clamp(0, 1)


# the largest model build_model allocates: 2^28 values of weights and buffers (1 GiB as float32)
MAX_MODEL_VALUES = 1 << 28


def check_model_size(config: ModelConfig) -> int:
    """The number of values (weights and buffers) of `config`'s model, counted on the meta
    device without allocating them; GONError over MAX_MODEL_VALUES. A GLO table whose size
    the training data will set counts one row (the data limits bound the rest)."""
    if config.kind == "glo" and config.train_images is None:
        config = dataclasses.replace(config, train_images=1)
    try:
        with torch.device("meta"):
            shapes = _build_gon(config)
        values = sum(t.numel() for t in itertools.chain(shapes.parameters(), shapes.buffers()))
    except RuntimeError:  # a size that overflows even torch's own count
        values = math.inf
    values += (config.classes or 0) * (config.latent_dim + 1)
    if values > MAX_MODEL_VALUES:
        raise GONError(f"this {config.kind} model would hold {values:,} values ({values * 4 / 2 ** 30:.1f} GiB); "
                       f"the limit is {MAX_MODEL_VALUES:,}: lower latent_dim, hidden_features, classes or image_size")
    return int(values)


def build_model(config: ModelConfig) -> GON:
    """A fresh model for `config`, initialised as the paper's: a GON (kind "conv"),
    VariationalGON ("variational") or ImplicitGON ("implicit"), with a classifier head when
    config.classes is set, or the baseline of the other kinds; in training mode.
    GONError, before anything is allocated, for a model over MAX_MODEL_VALUES."""
    check_model_size(config)
    model = _build_gon(config)
    if config.classes is not None:
        model.add_classifier(config.classes, float(config.reconstruction_weight))
    model.config = config  # what save_pretrained writes
    model.image_shape = (config.channels, config.image_size, config.image_size)
    return model


def _build_gon(config: ModelConfig) -> GON:
    c = config
    if c.kind in BASELINE_KINDS:
        from .baselines import build_baseline

        return build_baseline(c)
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
