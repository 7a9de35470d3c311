"""The paper's baselines (Table 1, Table 2), each built around the very decoder a GON of
the same config would use, so that comparisons are fair by construction.

- Autoencoder (`ae`): an encoder that mirrors the decoder layer for layer.
- Tied autoencoder (`tied-ae`, Gedeon 1998): the encoder runs the decoder's own
  transposed-convolution weights backwards (its biases and norms are its own).
- GLO (`glo`, Bojanowski et al. 2018): a latent per training image, optimised jointly
  with the decoder; a new image is encoded by optimising a latent for it.
- VAE (`vae`): a mirrored encoder in front of the variational GON's decoder (its
  stochastic layer included), trained on the same ELBO.

Each is a LatentModel (gon/models/base.py), a sibling of the GON kinds with its own
`encode`, so training, evaluation, sampling and the command line treat them alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from ..decoders import CONV_SIZES, ConvDecoder, TransposedConvDecoder, VariationalDecoder, make_activation, make_norm
from ..errors import GONError
from ..kinds import KINDS, KindSpec, register_kind
from ..origin import gradients_enabled, outside_inference
from .base import LatentModel, Variational
from .gon import conv_decoder


class MirroredEncoder(nn.Module):
    """Example -> latent (B, k), the mirror image of a transposed-convolution decoder of `dims`
    axes: each of its transposed convolutions is undone by a convolution of the same kernel,
    stride and padding, run backwards, with a norm and an activation between them; an example is
    first padded to the decoder's whole output where the decoder cuts it (`end_padding`)."""

    LAYERS = {
        1: (nn.ConvTranspose1d, nn.Conv1d),
        2: (nn.ConvTranspose2d, nn.Conv2d),
        3: (nn.ConvTranspose3d, nn.Conv3d),
    }

    def __init__(self, decoder: TransposedConvDecoder, dims: int, activation: str = "elu", norm: str = "group") -> None:
        super().__init__()
        transposed, conv = self.LAYERS[dims]
        convs = [m for m in decoder.net if isinstance(m, transposed)]
        layers: list[nn.Module] = []
        for i, layer in enumerate(reversed(convs)):
            layers.append(conv(layer.out_channels, layer.in_channels, layer.kernel_size, layer.stride, layer.padding))
            if i < len(convs) - 1:
                layers += [make_norm(norm, layer.in_channels, dims=dims), make_activation(activation)]
        self.net = nn.Sequential(*layers)
        self.padding = decoder.end_padding

    def forward(self, x: Tensor) -> Tensor:
        return self.net(F.pad(x, self.padding) if any(self.padding) else x).flatten(1)


class ConvEncoder(MirroredEncoder):
    """Image (B, C, S, S) -> latent (B, k), the mirror image of ConvDecoder(k, C, S, f)."""

    def __init__(
        self,
        latent_dim: int,
        channels: int = 1,
        image_size: int = 32,
        hidden_features: int = 16,
        activation: str = "elu",
        norm: str = "group",
    ) -> None:
        super().__init__(
            ConvDecoder(latent_dim, channels, image_size, hidden_features, activation, norm), 2, activation, norm
        )


class TiedConvEncoder(nn.Module):
    """The mirrored encoder whose convolutions are the decoder's transposed convolutions
    transposed: conv2d with a ConvTranspose2d's weight is that layer's adjoint."""

    def __init__(self, decoder: ConvDecoder, activation: str = "elu", norm: str = "group") -> None:
        super().__init__()
        convs = [m for m in decoder.net if isinstance(m, nn.ConvTranspose2d)]
        # a plain list: the weights belong to the decoder and must not be saved twice
        self._convs = list(reversed(convs))
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(c.in_channels)) for c in self._convs])
        self.norms = nn.ModuleList([make_norm(norm, c.in_channels) for c in self._convs[:-1]])
        self.activations = nn.ModuleList([make_activation(activation) for _ in self._convs[:-1]])

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for i, conv in enumerate(self._convs):
            h = F.conv2d(h, conv.weight, self.biases[i], conv.stride, conv.padding)
            if i < len(self.norms):
                h = self.activations[i](self.norms[i](h))
        return h.flatten(1)


class Autoencoder(LatentModel):
    """An encoder and a decoder trained on the same per-sample loss as a GON.

    `corrupt` (optional) maps the clean images to what the encoder sees, e.g. a masked
    image for inpainting; the loss always compares the decoding with the clean images.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_dim: int,
        corrupt: Callable[[Tensor], Tensor] | None = None,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__(decoder, latent_dim, config=config)
        self.encoder = encoder
        self.corrupt = corrupt

    def encode(self, x: Tensor, create_graph: bool | None = None) -> Tensor:
        """The encoder network's latents (B, latent_dim) of images x (B, C, H, W)."""
        x = self.check_images(x)
        return self.encoder(self.corrupt(x) if self.corrupt is not None else x)


class VAE(Variational, Autoencoder):
    """A VAE whose decoder is the variational GON's, stochastic layer included: the
    encoder's output plays the part of the gradient-origin latent."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: VariationalDecoder,
        latent_dim: int,
        likelihood: str = "bernoulli",
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__(encoder, decoder, latent_dim, config=config)
        self._set_likelihood(likelihood)


class GLO(LatentModel):
    """Generative Latent Optimisation without the sphere projection (as the paper's Table 1):
    `latents[i]` is image i's code, trained with the decoder on the squared error.

    Held-out images have no code: `encode` finds one by `inference_steps` Adam steps of
    rate `latent_lr` on each image's squared error, from the mean training code. That is
    the "orders of magnitude slower" encoding the paper mentions; `python -m benchmarks table1`
    reports its cost.
    """

    def __init__(
        self,
        decoder: nn.Module,
        latent_dim: int,
        images: int,
        latent_lr: float = 0.1,
        inference_steps: int = 200,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__(decoder, latent_dim, config=config)
        self.latents = nn.Embedding(images, latent_dim)
        # small random codes: distinct from the start, and near the origin like a GON's
        nn.init.normal_(self.latents.weight, std=1 / math.sqrt(latent_dim))
        self.latent_lr, self.inference_steps = latent_lr, inference_steps

    def parameter_groups(self, lr: float) -> list[dict]:
        decoder = [p for name, p in self.named_parameters() if not name.startswith("latents.")]
        return [{"params": decoder, "lr": lr}, {"params": self.latents.parameters(), "lr": self.latent_lr}]

    def loss_inputs(self, index: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        return {"index": index}  # a code per training image, looked up by the batch's positions

    def code_latents(self) -> Tensor:
        return self.latents.weight.detach()

    def network_parameters(self) -> int:
        return sum(p.numel() for name, p in self.named_parameters() if not name.startswith("latents."))

    def loss(self, x: Tensor, labels: Tensor | None = None, index: Tensor | None = None) -> Tensor:
        if index is None:
            raise GONError("a GLO model trains on image indices: train it with gon.train or fit")
        x = self.check_images(x)
        return self.outer_loss(self.decode(self.latents(index.to(x.device))), x).mean()

    def encode(self, x: Tensor, create_graph: bool | None = None) -> Tensor:
        x = outside_inference(self.check_images(x))
        with gradients_enabled():  # an optimisation, so under no_grad and inference_mode too
            # Adam is per coordinate, so each image's code depends on that image alone
            start = self.latents.weight.detach().mean(0)
            z = start.expand(x.shape[0], -1).clone().requires_grad_(True)
            optimizer = torch.optim.Adam([z], lr=self.latent_lr)
            for _ in range(self.inference_steps):
                error = self.outer_loss(self.decode(z), x).sum()
                (grad,) = torch.autograd.grad(error, z)
                z.grad = grad
                optimizer.step()
        return z.detach()

    def origin_path(self, batch_size: int) -> str:
        return f"none: GLO looks up a code per training image ({self.inference_steps} optimisation steps to encode)"


def _encoder(c: ModelConfig) -> ConvEncoder:
    return ConvEncoder(c.latent_dim, c.channels, c.image_size, c.hidden_features, c.activation, c.conv.norm)


def _autoencoder(c: ModelConfig) -> Autoencoder:
    decoder = conv_decoder(c)  # before the encoder: the order of initialisation is the seed's
    return Autoencoder(_encoder(c), decoder, c.latent_dim, config=c)


def _tied_autoencoder(c: ModelConfig) -> Autoencoder:
    decoder = conv_decoder(c)
    return Autoencoder(TiedConvEncoder(decoder, c.activation, c.conv.norm), decoder, c.latent_dim, config=c)


def _vae(c: ModelConfig) -> VAE:
    conv = conv_decoder(c, "logits")
    encoder = _encoder(c)
    return VAE(encoder, VariationalDecoder(c.latent_dim, conv), c.latent_dim, c.variational.likelihood, config=c)


def _glo(c: ModelConfig) -> GLO:
    glo = c.glo
    if glo.train_images is None:
        raise GONError("a glo model needs train_images (the number of training images; gon train sets it)")
    return GLO(conv_decoder(c), c.latent_dim, glo.train_images, float(glo.latent_lr), glo.inference_steps, config=c)


# A baseline has the defaults and the rate of the GON kind whose decoder it shares, and no
# gradient-origin step.
def _like(gon_kind: str, name: str, build, options: tuple[str, ...], **extra) -> KindSpec:
    base = KINDS[gon_kind]
    return register_kind(
        KindSpec(name, build, base.defaults, lr=base.lr, options=options, image_sizes=CONV_SIZES, **extra)
    )


_like("conv", "ae", _autoencoder, ("conv",))
_like("conv", "tied-ae", _tied_autoencoder, ("conv",))
_like("conv", "glo", _glo, ("conv", "glo"), sized_by_data="train_images")
_like("variational", "vae", _vae, ("conv", "variational"))
