"""Sound kinds: the image kinds carried to clips (B, C, T) of amplitudes in [-1, 1].

- `audio-implicit`: an ImplicitGON whose SIREN takes 1-D time coordinates in [-1, 1], with
  SIREN's audio frequency on the time axis (first_w0 = 3000, below); it renders a clip at
  any sample rate.
- `audio-conv`: a GON on transposed 1-D convolutions (ConvDecoder1d).
- `audio-ae`: the autoencoder baseline around the very same decoder, its encoder the mirror.

All go through the one gradient-origin step (gon/origin.py) as their image kinds do.
"""

from __future__ import annotations

from ..config import ModelConfig, per_channel_scale, per_position_scale
from ..decoders import ConvDecoder1d, ImplicitDecoder
from ..kinds import KindSpec, register_kind
from .baselines import Autoencoder, MirroredEncoder
from .gon import GON, MODULATED_DEFAULTS, MODULATED_OPTIONS, ImplicitGON, modulated


class ConvEncoder1d(MirroredEncoder):
    """Clip (B, C, T) -> latent (B, k), the mirror image of ConvDecoder1d(k, C, T, f): the clip
    is padded with silence to the decoder's full length L0 * 4^n, then each transposed
    convolution is undone by a convolution of the same kernel, stride and padding."""

    def __init__(
        self,
        latent_dim: int,
        channels: int = 1,
        length: int = 16000,
        hidden_features: int = 16,
        activation: str = "elu",
        norm: str = "group",
    ) -> None:
        mirror = ConvDecoder1d(latent_dim, channels, length, hidden_features, activation, norm)
        super().__init__(mirror, 1, activation, norm)


def conv1d_decoder(c: ModelConfig) -> ConvDecoder1d:
    """The 1-D transposed-conv decoder for `c` (shared by the sound GON and its autoencoder)."""
    return ConvDecoder1d(c.latent_dim, c.channels, c.sound.samples, c.hidden_features, c.activation, c.conv.norm)


def _audio_conv(c: ModelConfig) -> GON:
    return GON(conv1d_decoder(c), c.latent_dim, c.origin, config=c)


def _audio_ae(c: ModelConfig) -> Autoencoder:
    encoder = ConvEncoder1d(c.latent_dim, c.channels, c.sound.samples, c.hidden_features, c.activation, c.conv.norm)
    return Autoencoder(encoder, conv1d_decoder(c), c.latent_dim, config=c)


def _audio_implicit(c: ModelConfig) -> ImplicitGON:
    decoder = ImplicitDecoder(
        c.latent_dim,
        c.channels,
        hidden_features=c.hidden_features,
        num_layers=c.siren.num_layers,
        w0=c.siren.w0,
        activation=c.activation,
        grid_shape=(c.sound.samples,),
        first_w0=c.siren.first_w0,
    )
    return ImplicitGON(decoder, c.latent_dim, c.origin, c.monte_carlo.coordinate_samples, config=c)


# Each is its image kind's spec on clips: the same rates (1e-4 for SIRENs, 1e-3 for convolutions)
# and the same rule for the paper's inner scale, with a clip's T samples as its positions.
# image_size is not used by sound kinds (runs written before it was refused recorded 1); the clips are ModelConfig.sound
# (gon/signals/sound.py). first_w0 = 3000 is SIREN's first-layer
# frequency for audio (Sitzmann et al. 2020, Sec. 4.1 and its audio notebook: time in [-1, 1],
# first omega_0 = 3000), applied to the time coordinate only (gon.decoders.ImplicitDecoder).
SOUND = ("sound",)
CONV_SOUND_DEFAULTS = dict(latent_dim=32, hidden_features=16, activation="elu")
register_kind(
    KindSpec(
        "audio-implicit",
        _audio_implicit,
        dict(latent_dim=32, hidden_features=128, activation="sine", first_w0=3000.0),
        lr=1e-4,
        origin_step=True,
        paper_scale=per_channel_scale,
        options=("siren", "monte_carlo"),
        signals=SOUND,
    )
)
register_kind(
    KindSpec(
        "audio-conv",
        _audio_conv,
        CONV_SOUND_DEFAULTS,
        lr=1e-3,
        origin_step=True,
        paper_scale=per_position_scale,
        options=("conv",),
        signals=SOUND,
    )
)
register_kind(KindSpec("audio-ae", _audio_ae, CONV_SOUND_DEFAULTS, lr=1e-3, options=("conv",), signals=SOUND))
register_kind(
    KindSpec(
        "audio-modulated",
        modulated,
        dict(**MODULATED_DEFAULTS, first_w0=200.0, tile=200),
        lr=3e-4,
        origin_step=True,
        paper_scale=per_channel_scale,
        options=MODULATED_OPTIONS,
        signals=SOUND,
        step_sizes="learned",
        lr_schedule="cosine",
        # 20 tiles a clip at the default 8 kHz, 0.5 s: 16 clips (64,000 coordinates) a step keep
        # a run of the default length to minutes on a CPU core (docs/results.md, "Modulated implicit GONs")
        batch_size=16,
    )
)
