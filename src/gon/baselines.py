"""Baselines that share a GON's decoder, so comparisons are fair by construction.

- ConvEncoder: mirrors ConvDecoder layer for layer (the paper's autoencoder baseline).
- Autoencoder: ConvEncoder + the same ConvDecoder a GON would use.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

from .decoders import ConvDecoder, make_activation, make_norm
from .losses import squared_error


class ConvEncoder(nn.Module):
    """Image (B, C, S, S) -> latent (B, k), the mirror image of ConvDecoder(k, C, S, f)."""

    def __init__(self, latent_dim: int, channels: int = 1, image_size: int = 32, hidden_features: int = 16,
                 activation: str = "elu", norm: str = "group") -> None:
        super().__init__()
        mirror = ConvDecoder(latent_dim, channels, image_size, hidden_features, activation, norm)
        convs = [m for m in mirror.net if isinstance(m, nn.ConvTranspose2d)]
        layers: list[nn.Module] = []
        for i, conv in enumerate(reversed(convs)):  # same kernels, strides and paddings, run backwards
            layers.append(nn.Conv2d(conv.out_channels, conv.in_channels, conv.kernel_size, conv.stride, conv.padding))
            if i < len(convs) - 1:
                layers += [make_norm(norm, conv.in_channels), make_activation(activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten(1)


class Autoencoder(nn.Module):
    """An encoder and a decoder trained on the same per-sample loss as a GON.

    `corrupt` (optional) maps the clean images to what the encoder sees, e.g. a masked
    image for inpainting; the loss always compares the decoding with the clean images.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int,
                 corrupt: Callable[[Tensor], Tensor] | None = None) -> None:
        super().__init__()
        self.encoder, self.decoder, self.latent_dim = encoder, decoder, latent_dim
        self.corrupt = corrupt

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(self.corrupt(x) if self.corrupt is not None else x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)).clamp(0, 1)

    def loss(self, x: Tensor) -> Tensor:
        return squared_error(self.decode(self.encode(x)), x).mean()
