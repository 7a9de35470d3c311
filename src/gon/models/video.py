"""Video kinds: the conv GON and its autoencoder carried to clips (B, C, T, H, W) in [0, 1].

- `video-conv`: a GON on transposed 3-D convolutions (ConvDecoder3d), through the one
  gradient-origin step (gon/origin.py) as the image and sound kinds.
- `video-ae`: the autoencoder baseline around the very same decoder, its encoder the mirror.

The implicit GON of video is the `modulated` kind, which takes any signal of 1 to 3 coordinate
axes (gon/models/gon.py); it renders at any size and frame rate.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..config import ModelConfig, per_pixel_scale
from ..decoders import TransposedConvDecoder, make_activation, make_norm
from ..errors import GONError
from ..kinds import KindSpec, register_kind
from .baselines import Autoencoder, MirroredEncoder
from .gon import GON

# the largest first frame (pixels a side) and first length (frames) a ConvDecoder3d starts from
FIRST_SIDE, FIRST_FRAMES = 4, 4


def conv3d_plan(frames: int, size: int) -> tuple[int, int, int, int]:
    """(T0, S0, n, m) of a ConvDecoder3d of clips of `frames` frames of `size` pixels a side: n
    stride-2 blocks (at least one) double the side from S0 = ceil(size / 2^n) <= FIRST_SIDE, and the
    last m <= n of them double the frames too from T0 = ceil(frames / 2^m): at most FIRST_FRAMES
    where n blocks allow it, more for clips of many more frames than their side has pixels."""
    n = 1
    while math.ceil(size / 2**n) > FIRST_SIDE:
        n += 1
    m = 0
    while m < n and math.ceil(frames / 2**m) > FIRST_FRAMES:
        m += 1
    return math.ceil(frames / 2**m), math.ceil(size / 2**n), n, m


class ConvDecoder3d(TransposedConvDecoder):
    """Transposed 3-D convolutions: latent (B, k) -> clip (B, C, T, S, S), the paper's decoder
    carried to video. A first layer maps the latent to T0 frames of S0 x S0, then n blocks (kernel
    4, stride 2 in space) double the side with 2^(n-1) f, ..., f, C channels; the last m of them
    double the frames as well (kernel 4, stride 2 in time), the others keep them (kernel 3, stride
    1). The ends are cut to (T, S, S) (`conv3d_plan`). Output through a sigmoid (intensities in
    [0, 1]) or as logits."""

    def __init__(
        self,
        latent_dim: int,
        channels: int = 3,
        frames: int = 16,
        size: int = 32,
        hidden_features: int = 16,
        activation: str = "elu",
        norm: str = "none",
        output: str = "sigmoid",
    ) -> None:
        super().__init__(latent_dim)
        if output not in ("sigmoid", "logits"):
            raise GONError(f"a 3-D decoder's output must be 'sigmoid' or 'logits', got {output!r}")
        self.frames, self.size = frames, size
        self.first_frames, self.first_side, upsamplings, time_upsamplings = conv3d_plan(frames, size)
        self.cut = (
            self.first_frames * 2**time_upsamplings - frames,
            self.first_side * 2**upsamplings - size,
            self.first_side * 2**upsamplings - size,
        )
        widths = [hidden_features * 2**i for i in reversed(range(upsamplings))]
        first = (self.first_frames, self.first_side, self.first_side)
        layers: list[nn.Module] = [nn.ConvTranspose3d(latent_dim, widths[0], first, 1, 0)]
        for i, (w_in, w_out) in enumerate(zip(widths, widths[1:] + [channels])):
            doubles_time = i >= upsamplings - time_upsamplings
            kernel, stride = ((4, 4, 4), (2, 2, 2)) if doubles_time else ((3, 4, 4), (1, 2, 2))
            layers += [
                make_norm(norm, w_in, dims=3),
                make_activation(activation),
                nn.ConvTranspose3d(w_in, w_out, kernel, stride, 1),
            ]
        if output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """F(z): latents (B, k) -> clips (B, C, T, S, S)."""
        return self.net(z[:, :, None, None, None])[:, :, : self.frames, : self.size, : self.size]


def conv3d_decoder(c: ModelConfig) -> ConvDecoder3d:
    """The 3-D transposed-conv decoder for `c` (shared by the video GON and its autoencoder)."""
    v = c.video
    return ConvDecoder3d(c.latent_dim, c.channels, v.frames, v.size, c.hidden_features, c.activation, c.conv.norm)


def _video_conv(c: ModelConfig) -> GON:
    return GON(conv3d_decoder(c), c.latent_dim, c.origin, config=c)


def _video_ae(c: ModelConfig) -> Autoencoder:
    decoder = conv3d_decoder(c)  # before the encoder: the order of initialisation is the seed's
    # the encoder's plan, built as the 1-D and 2-D encoders build theirs (its weights are not used)
    encoder = MirroredEncoder(conv3d_decoder(c), 3, c.activation, c.conv.norm)
    return Autoencoder(encoder, decoder, c.latent_dim, config=c)


# Each is its image kind's spec on clips: the rate 1e-3 of convolutions, and for the paper's inner
# scale (which has no video model) the conv GON's mean over a frame's pixels, summed over frames.
# The clips' frames, rate and size are ModelConfig.video (gon/signals/video.py).
VIDEO = ("video",)
CONV_VIDEO_DEFAULTS = dict(latent_dim=64, hidden_features=16, activation="elu")
register_kind(
    KindSpec(
        "video-conv",
        _video_conv,
        CONV_VIDEO_DEFAULTS,
        lr=1e-3,
        origin_step=True,
        paper_scale=per_pixel_scale,
        options=("conv",),
        signals=VIDEO,
    )
)
register_kind(KindSpec("video-ae", _video_ae, CONV_VIDEO_DEFAULTS, lr=1e-3, options=("conv",), signals=VIDEO))
