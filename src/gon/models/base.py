"""The interface every latent model has: GON kinds and baselines are siblings under it.

    model = build_model(ModelConfig(kind="conv"))      # or "ae", "vae", ...
    z = model.encode(x)                # latents (B, latent_dim)
    images = model.reconstruct(x)      # F(z) as images in [0, 1]
    loss = model(x)                    # the training objective (forward() is the loss)

`forward` returns the training loss, as nanoGPT's model does, so DistributedDataParallel
wraps a model directly. A subclass says how it encodes (`encode`); everything else
(decoding, the loss at F(z), metrics, the optional classifier head of Eq. 13, saving)
is shared. A model that needs more than the images to train says so through the same
interface: `loss_inputs` says what `loss` needs besides the images (a classifier its
labels, GLO the images' indices), `parameter_groups` its optimizer groups,
`code_latents` a table of training codes and `network_parameters` what counts as the
network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GONError
from ..files import FLOAT_DTYPES, tensor_problem
from ..losses import bernoulli_nll, bits_per_dim, gaussian_kl, gaussian_nll, squared_error
from ..signals import Signal, signal_of
from .hub import model_directory
from .saving import load_model, save_pretrained


class LatentModel(nn.Module):
    """A decoder F and a way to encode: encode(x) -> z, decode(z) -> F(z), loss(x) at F(encode(x)).

    decoder: F, taking latents (B, latent_dim); loss: (F(z), x) -> one loss per sample (B,),
    the training loss (`outer_loss`); config: the ModelConfig the model was built from
    (what `save_pretrained` writes, and the image shape it takes), None for a model put
    together by hand.
    """

    def __init__(
        self, decoder: nn.Module, latent_dim: int, loss=squared_error, config: ModelConfig | None = None
    ) -> None:
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self._outer_loss = loss
        self.classifier: nn.Linear | None = None
        self.reconstruction_weight = 1.0
        self.config = config
        # what the model's examples are (gon/signals), where known: it says their shape, range and checks
        self.signal: Signal | None = signal_of(config) if config is not None else None
        # (C, H, W) the model takes, or another signal's shape, where known; None accepts any shape
        self.image_shape: tuple[int, ...] | None = config.data_shape if config is not None else None
        # the range of the data and of what to_images returns, the signal's; None (a GON around a
        # decoder of your own may declare it) takes any floats
        self.value_range: tuple[float, float] | None = self.signal.value_range if self.signal else (0.0, 1.0)

    def check_images(self, x: Tensor) -> Tensor:
        """x as this model's examples, in the dtype of the model's weights (floats of any precision
        are converted; uint8 images become floats in [0, 1], x / 255). GONError for other integer
        tensors, for floats outside `value_range` ([0, 1] for images; a GON around a decoder of
        your own declares its range, or None for any) and, for a model that knows its signal
        (every library model), a batch not of the signal's shape, or uint8 for a signal of floats
        (sound)."""
        signal = self.signal
        what = signal.item if signal is not None else "images"
        if not isinstance(x, Tensor):
            if isinstance(x, (list, tuple)) and x and isinstance(x[0], Tensor):
                # a DataLoader over a labelled data set yields [images, labels]
                raise GONError(
                    f"expected a tensor of {what}, got a {type(x).__name__} of {len(x)} (a DataLoader's "
                    f"(images, labels) batch?): pass the images, `images, labels = batch; "
                    f"model(images)` (a classifier: model(images, labels))"
                )
            raise GONError(f"expected a tensor of {what}, got {type(x).__name__}")
        if signal is not None and not signal.integers and not x.is_floating_point():
            first, last = signal.value_range
            raise GONError(f"{signal.name} {signal.item} must be floats in [{first:g}, {last:g}], got {x.dtype}")
        weights = next(self.parameters(), None)
        dtype = weights.dtype if weights is not None and weights.is_floating_point() else torch.float32
        if x.dtype == torch.uint8:
            x = x.to(dtype) / 255
        elif not x.is_floating_point():
            raise GONError(f"images must be floats in [0, 1] or uint8 in [0, 255], got {x.dtype}")
        else:  # float16, bfloat16 or float64 data meet float32 weights: the layers need one dtype
            x = x.to(dtype)
        if signal is not None and self.image_shape is not None:
            signal.check_batch(x, self.image_shape)
        if x.numel() and self.value_range is not None:
            low, high = (v.item() for v in torch.aminmax(x.detach()))
            first, last = self.value_range
            if not (first <= low and high <= last):  # also catches NaN
                if signal is not None and self.config is not None:
                    raise GONError(signal.range_error(low, high))
                raise GONError(
                    f"values must lie in [{first:g}, {last:g}], got {low:g} to {high:g}: divide 8-bit "
                    f"values by 255, or declare the data's range, GON(..., value_range=(low, high)) "
                    f"(None: any)"
                )
        return x

    def step_settings(self) -> dict[str, Any]:
        """What this model's gradient-origin step encodes with, resolved (for logs and a run's
        config.json): {} for a model without one."""
        return {}

    def add_classifier(self, classes: int, reconstruction_weight: float = 0.01) -> LatentModel:
        """Make this a classifier (Eq. 13): softmax(W z + b) on the latent, trained with
        cross-entropy plus `reconstruction_weight` times the reconstruction loss (0: a
        classifier alone, as Eq. 13; > 0: jointly with reconstruction)."""
        self.classifier = nn.Linear(self.latent_dim, classes)
        self.reconstruction_weight = reconstruction_weight
        return self

    def prepare_training(self, x: Tensor) -> None:
        """Called by `fit` with the first global batch before the first step (and again on
        resume); a GON with a calibrated inner scale sets it here. Nothing for most models."""

    def divergence_cause(self) -> str | None:
        """What in this model likely made the training loss non-finite, as a hint for the user
        (None: nothing of its own; the learning rate is the usual cause)."""
        return None

    def outer_loss(self, output: Any, x: Tensor) -> Tensor:
        """L at F(z) (the training loss): decoder output and data (B, ...) -> loss per sample (B,)."""
        return self._outer_loss(output, x)

    def encode(self, x: Tensor, create_graph: bool | None = None) -> Tensor:
        """Latents z (B, latent_dim) of images x (B, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> Any:
        """F(z): the decoder's raw output for latents (B, latent_dim) (`to_images` makes it images)."""
        return self.decoder(z)

    def origin_path(self, batch_size: int) -> str:
        """How `encode` computes a latent for a batch (for logs)."""
        return f"none: a {type(self).__name__} encodes with its encoder network"

    def to_images(self, output: Any) -> Tensor:
        """Decoder output as examples, clamped to `value_range` (images: [0, 1])."""
        return output if self.value_range is None else output.clamp(*self.value_range)

    def reconstruct(self, x: Tensor) -> Tensor:
        """F(encode(x)) as images in [0, 1], the shape of x, without gradients."""
        z = self.encode(x)
        with torch.no_grad():
            return self.to_images(self.decode(z))

    def generate(self, z: Tensor) -> Tensor:
        """Images in [0, 1] decoded from latents z (B, latent_dim), e.g. a sampler's, without gradients."""
        with torch.no_grad():
            return self.to_images(self.decode(z))

    def loss(self, x: Tensor, labels: Tensor | None = None, index: Tensor | None = None) -> Tensor:
        """The training objective, a scalar: mean over the batch of the per-sample loss at
        F(encode(x)); for a classifier, which needs int64 `labels` (B,), cross-entropy on the
        latent (Eq. 13) plus the weighted reconstruction loss. `index`, the batch's positions
        in the training data, serves models with a code per training image (GLO)."""
        x = self.check_images(x)
        z = self.encode(x)
        if self.classifier is None:
            return self.outer_loss(self.decode(z), x).mean()
        if labels is None:
            raise GONError("a GON classifier needs labels to train: use a data set with labels")
        loss = torch.nn.functional.cross_entropy(self.classifier(z), labels)
        if self.reconstruction_weight:
            loss = loss + self.reconstruction_weight * self.outer_loss(self.decode(z), x).mean()
        return loss

    def forward(self, x: Tensor, labels: Tensor | None = None, index: Tensor | None = None) -> Tensor:
        """The training loss of a batch (`loss`), given what `loss_inputs` asked for."""
        given = {name: value for name, value in (("labels", labels), ("index", index)) if value is not None}
        return self.loss(x, **given)

    def loss_inputs(self, index: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """What `loss` needs besides a batch's images, from the batch's positions `index` in the
        training data and the data's `labels` (None if it has none): a classifier its labels."""
        if self.classifier is None:
            return {}
        if labels is None:
            raise GONError("a GON classifier needs labels, and this data set has none")
        return {"labels": labels[index]}

    def parameter_groups(self, lr: float) -> list[dict]:
        """The optimizer's parameter groups at rate `lr`."""
        return [{"params": list(self.parameters()), "lr": lr}]

    def code_latents(self) -> Tensor | None:
        """The latents of the training images, where the model keeps a table of them (GLO); None otherwise."""
        return None

    def network_parameters(self) -> int:
        """The number of parameters of the network, less any table of per-image codes."""
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def evaluate_batch(
        self, x: Tensor, generator: torch.Generator | None = None, labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Per-sample metrics of a batch: the summed squared error of the reconstruction, and
        for a classifier with labels whether each prediction is correct."""
        x = self.check_images(x)
        z = self.encode(x)
        metrics = {"sse": squared_error(self.to_images(self.decode(z)), x)}
        if self.classifier is not None and labels is not None:
            metrics["accuracy"] = (self.classifier(z).argmax(1) == labels).double()
        return metrics

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json and model.safetensors into `directory` (created if needed), the
        files `from_pretrained`, `load_model` and the command line read; a failure never
        leaves a half-written model (gon.models.saving.save_pretrained)."""
        return save_pretrained(self, directory)

    def state_problem(self, state: dict[str, Tensor]) -> str | None:
        """What is wrong with a stored state (of the right keys and shapes) for this model, or
        None: a float weight stored as complex, bool or integers, an integer buffer of another
        dtype; subclasses add the ranges of their buffers. Checked before any tensor is loaded."""
        expected = self.state_dict()
        for key, tensor in state.items():
            if key in expected:
                dtypes = FLOAT_DTYPES if expected[key].is_floating_point() else (expected[key].dtype,)
                # not finite: NaN weights load, and evaluation reports them (null) as for any such model
                problem = tensor_problem(key, tensor, dtypes, finite=False)
                if problem is not None:
                    return problem
        return None

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> LatentModel:
        """The model saved in `directory` (by `save_pretrained` or `gon train`), in eval mode, as
        the class its config names; GONError if it is not a `cls`. A Hugging Face Hub
        repository id ("owner/name") that is not a local folder is fetched (gon.models.hub)."""
        model, config, _ = load_model(model_directory(directory))
        if not isinstance(model, cls):
            raise GONError(f"{directory}: holds a {config.kind} model ({type(model).__name__}), not a {cls.__name__}")
        return model


class Variational:
    """The variational part shared by the variational GON and the VAE (mixed in before
    their model class): the negative ELBO as the loss, the mean image, bits/dim and prior
    samples. The decoder is a VariationalDecoder (stochastic layer + F); likelihood:
    p(x | z), "bernoulli" (on the decoder's logits) or "gaussian" (one learned noise scale)."""

    def _set_likelihood(self, likelihood: str) -> None:
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

    def elbo_loss(self, output: tuple[Tensor, Tensor, Tensor], x: Tensor) -> Tensor:
        """The negative ELBO per sample (B,) (Eq. 10): nll + KL(N(mu, sigma^2) || N(0, I))."""
        return self.nll(output, x) + gaussian_kl(output[1], output[2])

    inner_loss = outer_loss = elbo_loss

    def to_images(self, output: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """The decoder output's mean image: sigmoid of its logits, in [0, 1]."""
        return torch.sigmoid(output[0])

    @torch.no_grad()
    def evaluate_batch(
        self, x: Tensor, generator: torch.Generator | None = None, labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """SSE of the mean reconstruction, and the negative ELBO with one posterior sample."""
        x = self.check_images(x)
        z = self.encode(x)
        sse = squared_error(self.to_images(self.decode(z)), x)
        sampled = self.decoder(z, sample=True, generator=generator)
        nats = self.elbo_loss(sampled, x)
        return {"sse": sse, "elbo_nats": nats, "elbo_bits_per_dim": bits_per_dim(nats, x[0].numel(), self.likelihood)}

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Images decoded from N(0, I) at the decoder's input (after the stochastic layer)."""
        device = next(self.parameters()).device
        h = torch.randn(n, self.latent_dim, generator=generator, device=device)
        with torch.no_grad():
            return torch.sigmoid(self.decoder.decoder(h))
