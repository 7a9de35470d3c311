"""Decoders: the only networks a GON has. Each maps a latent of shape (batch, latent_dim) to data.

- TransposedConvDecoder: what the transposed-convolution decoders of every signal share (the
  shared-origin Jacobian, the positions they cut); ConvDecoder3d, video's, is gon/models/video.py's.
- ConvDecoder: the paper's transposed-convolution decoder (Section 4: four layers,
  normalisation, ELU) at 28 or 32 px, with one extra up-sampling block per doubling to
  64 and 128 px.
- VariationalDecoder: linear mean and log-variance heads and a reparameterised Gaussian
  layer in front of a decoder (Section 3.3, Fig. 1d).
- ConvDecoder1d: the same decoder for 1-D signals (sound): transposed 1-D convolutions
  that quadruple the length per block, tanh output in [-1, 1].
- ImplicitDecoder: a SIREN on coordinates (1-D time, 2-D pixels or 3-D points) concatenated
  with the latent (Section 3.4, Eq. 12); it renders at any resolution or sample rate.
- ModulatedImplicitDecoder: a SIREN whose every layer the latent shifts (COIN++, functa), on a
  whole signal's coordinates or a tile's (gon/tiling.py).

The options of a model kind that only these decoders read are declared here, each group once, and
nested in ModelConfig under its name: `ConvOptions` (`conv`), `SirenOptions` (`siren`),
`ModulationOptions` (`modulation`); their fields keep their flat keys and flags (`--norm`, `--w0`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as forward_ad
from torch import Tensor, nn

from .errors import GONError
from .fields import check_fields, option
from .tiling import cell_grid

# activations

ACTIVATIONS = ("sine", "relu", "leaky_relu", "tanh", "elu", "softplus", "swish")
NORMS = ("none", "batch", "group")


class Sine(nn.Module):
    """sin(w0 * x); w0 = 1 inside convolutional decoders, 30 in a SIREN (Sitzmann et al.)."""

    def __init__(self, w0: float = 1.0) -> None:
        super().__init__()
        self.w0 = w0

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.w0 * x)


def make_activation(name: str, w0: float = 1.0) -> nn.Module:
    # GONs back-propagate through a gradient, so the activation's second derivative
    # matters (Section 4.1, Fig. 3): ReLU's is zero almost everywhere.
    if name == "sine":
        return Sine(w0)
    table = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "tanh": nn.Tanh,
        "elu": nn.ELU,
        "softplus": nn.Softplus,
        "swish": nn.SiLU,
    }
    if name not in table:
        raise GONError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    return table[name]()


def make_norm(name: str, channels: int, dims: int = 2) -> nn.Module:
    if name == "none":
        return nn.Identity()
    if name == "batch":
        return (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[dims - 1](channels)
    if name == "group":
        # Per-sample normalisation: no coupling between the samples of a batch.
        return nn.GroupNorm(min(8, channels), channels)
    raise GONError(f"unknown normalisation {name!r}: choose one of {', '.join(NORMS)}")


# convolutional decoder

CONV_SIZES = (28, 32, 64, 128)
# hidden values of one rendering chunk (64 MiB of float32); see ImplicitDecoder.render
RENDER_CHUNK_VALUES = 1 << 24


@dataclass(frozen=True)
class ConvOptions:
    """The convolutional decoders' options, and their encoders' (ModelConfig.conv: every kind built on
    transposed convolutions)."""

    # GroupNorm by default: per-sample, so a latent never depends on its batch. "batch" is
    # the paper's train-mode BatchNorm, which couples samples (docs/design.md, docs/results.md)
    norm: str = option("group", "normalisation of the conv decoder (and encoder)", choices=NORMS)

    def __post_init__(self) -> None:
        check_fields(self)


class TransposedConvDecoder(nn.Module):
    """What the transposed-convolution decoders of every signal share: a `net` of latents (B, k)
    placed at one position of each axis, the positions `cut` from the end of each axis of its
    output (none unless a subclass sets them), and the gradient-origin step's shared-origin
    Jacobian (gon/origin.py's `OriginJacobianDecoder`)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.cut: tuple[int, ...] = ()

    @property
    def end_padding(self) -> tuple[int, ...]:
        """F.pad's padding (last axis first) that brings an example back to `net`'s whole output."""
        return tuple(p for c in reversed(self.cut) for p in (0, c))

    @property
    def independent_samples(self) -> bool:
        """False while train-mode BatchNorm (or SyncBatchNorm) mixes the samples of a batch."""
        return not (self.training and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules()))

    @property
    def origin_jacobian_cost(self) -> int:
        """The cost of `origin_jacobian` counted in samples (2k): the shared-origin path is
        used only for batches larger than this."""
        # measured (docs/design.md): the forward-mode Jacobian costs about as much as the
        # general step on 2k samples, for training and for encoding alike
        return 2 * self.latent_dim

    def origin_jacobian(self, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        """F(z0), (1, *output), and dF/dz at z0 = 0, (values of one output, k): `forward_origin_jacobian`."""
        return forward_origin_jacobian(self, self.latent_dim, create_graph)


class ConvDecoder(TransposedConvDecoder):
    """Transposed-convolution decoder: latent (B, k) -> image (B, C, S, S).

    At 32 px this is the paper's network: 4x4 from the latent, then three stride-2
    up-samplings to 8, 16, 32 with 4f, 2f, f, C channels. At 28 px the second layer uses a
    3x3 kernel (4 -> 7) so the other layers go 7 -> 14 -> 28 with the same depth. Each
    doubling beyond 32 px adds one block and doubles the widest layer.
    `output` is "sigmoid" (intensities in [0, 1], the paper) or "logits" (for a Bernoulli
    likelihood evaluated stably with logits).
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int = 1,
        image_size: int = 32,
        hidden_features: int = 16,
        activation: str = "elu",
        norm: str = "none",
        output: str = "sigmoid",
    ) -> None:
        super().__init__(latent_dim)
        if image_size not in CONV_SIZES:
            raise GONError(f"convolutional decoders support image sizes {CONV_SIZES}, got {image_size}")
        if output not in ("sigmoid", "logits"):
            raise GONError(f"decoder output must be 'sigmoid' or 'logits', got {output!r}")
        self.image_size = image_size
        upsamplings = 3 if image_size in (28, 32) else int(math.log2(image_size // 4))
        widths = [hidden_features * 2**i for i in reversed(range(upsamplings))]
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0)]
        for i, (w_in, w_out) in enumerate(zip(widths, widths[1:] + [channels])):
            layers += [make_norm(norm, w_in), make_activation(activation)]
            kernel = 3 if (image_size == 28 and i == 0) else 4
            layers.append(nn.ConvTranspose2d(w_in, w_out, kernel, 2, 1))
        if output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """F(z): latents (B, k) -> images (B, C, S, S), in [0, 1] or as logits (see `output`)."""
        return self.net(z[:, :, None, None])


def forward_origin_jacobian(decoder: nn.Module, latent_dim: int, create_graph: bool) -> tuple[Tensor, Tensor]:
    """F(z0), (1, *out), and dF/dz at z0 = 0, (prod(out), k), of a decoder of latents (B, k), by
    forward-mode AD: one batch of k origin copies whose tangents are the latent's unit directions
    (about k samples' work)."""
    weight = next(decoder.parameters())
    k = latent_dim
    # in fp32 under autocast: forward-mode AD through autocast's casts fails (CPU, torch
    # 2.13: conv_transpose meets a bf16 weight and an fp32 dual input), and k samples are cheap
    with (
        torch.set_grad_enabled(create_graph),
        forward_ad.dual_level(),
        torch.autocast(weight.device.type, enabled=False),
    ):
        origin = forward_ad.make_dual(
            torch.zeros(k, k, dtype=weight.dtype, device=weight.device),
            torch.eye(k, dtype=weight.dtype, device=weight.device),
        )
        output, tangent = forward_ad.unpack_dual(decoder(origin))
    return output[:1], tangent.reshape(k, -1).T


class ConvDecoder1d(TransposedConvDecoder):
    """Transposed 1-D convolutions: latent (B, k) -> signal (B, C, T), the paper's decoder
    carried to sound. A first layer maps the latent to L0 <= 16 steps, then n stride-4 blocks
    (kernel 8) quadruple the length with 2^(n-1) f, ..., f, C channels until L0 * 4^n >= T, and
    the end is cut to T. Stride 4, not 2: a second of 16 kHz audio takes 5 blocks, not 10.
    `output` is "tanh" (amplitudes in [-1, 1]) or "linear".
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int = 1,
        length: int = 16000,
        hidden_features: int = 16,
        activation: str = "elu",
        norm: str = "none",
        output: str = "tanh",
    ) -> None:
        super().__init__(latent_dim)
        if output not in ("tanh", "linear"):
            raise GONError(f"a 1-D decoder's output must be 'tanh' or 'linear', got {output!r}")
        self.length = length
        self.first_length, upsamplings = conv1d_plan(length)
        self.cut = (self.first_length * 4**upsamplings - length,)
        widths = [hidden_features * 2**i for i in reversed(range(upsamplings))]
        layers: list[nn.Module] = [nn.ConvTranspose1d(latent_dim, widths[0], self.first_length, 1, 0)]
        for w_in, w_out in zip(widths, widths[1:] + [channels]):
            layers += [
                make_norm(norm, w_in, dims=1),
                make_activation(activation),
                nn.ConvTranspose1d(w_in, w_out, 8, 4, 2),
            ]
        if output == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """F(z): latents (B, k) -> signals (B, C, T)."""
        return self.net(z[:, :, None])[..., : self.length]


def conv1d_plan(length: int) -> tuple[int, int]:
    """(L0, n): the first layer's length and the stride-4 blocks of a ConvDecoder1d of `length`
    samples: the fewest blocks (at least one) that leave L0 = ceil(T / 4^n) <= 16."""
    blocks = 1
    while math.ceil(length / 4**blocks) > 16:
        blocks += 1
    return math.ceil(length / 4**blocks), blocks


# variational decoder


class VariationalDecoder(nn.Module):
    """Stochastic layer then decoder (Section 3.3): z -> (mu, logvar) -> mu + sigma * eps -> F.

    Returns (decoder output, mu, logvar). The reparameterisation samples eps ~ N(0, I)
    in training mode (as the paper), and uses the mean in eval mode so that encodings
    and reconstructions are deterministic; `sample=True` forces sampling (for the ELBO).
    """

    def __init__(self, latent_dim: int, decoder: nn.Module) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.mean = nn.Linear(latent_dim, latent_dim)
        self.log_variance = nn.Linear(latent_dim, latent_dim)
        self.decoder = decoder

    def forward(
        self, z: Tensor, sample: bool | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """z (B, k) -> (F(h), mu(z), log sigma^2(z)), each mu and logvar (B, k), with h = mu + sigma * eps
        when sampling (`sample`, default: in training mode; eps drawn from `generator`) and h = mu otherwise."""
        mu, logvar = self.mean(z), self.log_variance(z)
        if self.training if sample is None else sample:
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
            h = mu + eps * torch.exp(0.5 * logvar)
        else:
            h = mu
        return self.decoder(h), mu, logvar


# implicit decoder (SIREN)

MAX_LAYERS = 1024  # SIREN layers; the paper's have 3-5 (checked before the model is built: each is a module)


@dataclass(frozen=True)
class SirenOptions:
    """A SIREN's depth and frequencies (ModelConfig.siren: the implicit and modulated kinds); w0 is
    the paper's omega_0."""

    num_layers: int = option(4, "SIREN hidden layers", minimum=1, maximum=MAX_LAYERS)
    w0: float = option(30.0, "SIREN frequency", positive=True)
    first_w0: float | None = option(
        None,
        "SIREN frequency of the coordinates in the first layer (default w0; "
        "3000 for audio-implicit, as SIREN's audio fits; 200 for audio-modulated)",
        positive=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)


def coordinate_grid(
    size: int | tuple[int, ...], device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """(prod(shape), D) coordinates in [-1, 1] of a grid of `shape` (an int: a size x size image),
    row-major ('ij'), as the paper's get_mgrid: (T, 1) times, (H*W, 2) pixels, (D*H*W, 3) voxels."""
    shape = (size, size) if isinstance(size, int) else tuple(size)
    axes = [torch.linspace(-1, 1, n, device=device, dtype=dtype) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))


class SirenLayer(nn.Module):
    """Linear layer followed by sin(w0 x), with SIREN's initialisation."""

    def __init__(
        self, in_features: int, out_features: int, w0: float = 30.0, first: bool = False, activation: str = "sine"
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.activation = make_activation(activation, w0)
        self.w0, self.first = w0, first
        if activation == "sine":
            self.init_weights()

    def init_weights(self) -> None:
        # Sitzmann et al. 2020: U(-1/n, 1/n) for the first layer, U(-sqrt(6/n)/w0, ...) after,
        # so that pre-activations stay distributed as arcsine through depth.
        n = self.linear.in_features
        bound = 1 / n if self.first else math.sqrt(6 / n) / self.w0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.linear(x))


class ImplicitDecoder(nn.Module):
    """SIREN F(c (+) z): coordinates c concatenated with the latent z -> the value there.

    `grid_shape` is the training grid: (S, S) for an image (the default, from `image_size`),
    (T,) for T samples of sound, (D, H, W) for a volume; coordinates span [-1, 1] on every axis.
    `forward(z)` renders (B, C, *grid_shape); `render(z, size)` on any grid of the same
    dimension (a resolution, a sample count). The first layer's weight is split into its
    coordinate and latent columns: W [c; z] = W_c c + W_z z, so the latent is projected once
    per image instead of being repeated at every coordinate (same maths, same parameters as
    the paper's concatenation). `first_w0` (default w0) is the first layer's frequency on the
    coordinates alone: sin(w0 (W_c c first_w0 / w0 + W_z z + b)), so that a sound's time axis can
    take SIREN's audio frequency while the latent enters at w0 as it does for images. W_c keeps
    the bound of all D + k inputs, U(-1/(D + k), ...): SIREN's bound for time alone, U(-1, 1),
    trained worse on the sounds set (docs/capabilities.md, "Sound").
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int = 1,
        image_size: int = 28,
        hidden_features: int = 256,
        num_layers: int = 4,
        w0: float = 30.0,
        activation: str = "sine",
        grid_shape: tuple[int, ...] | None = None,
        first_w0: float | None = None,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise GONError(f"an implicit decoder needs at least one hidden layer, got {num_layers}")
        self.grid_shape = (image_size, image_size) if grid_shape is None else tuple(grid_shape)
        if not 1 <= len(self.grid_shape) <= 3:
            raise GONError(f"an implicit decoder takes coordinates of dimension 1, 2 or 3, got {len(self.grid_shape)}")
        self.coordinate_dim = len(self.grid_shape)
        # the coordinates' factor in the first layer: 1 for images, first_w0 / w0 for sound
        self.coordinate_scale = 1.0 if first_w0 is None else first_w0 / w0
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, self.grid_shape[0]
        self.hidden_features = hidden_features
        self.first = SirenLayer(
            self.coordinate_dim + latent_dim, hidden_features, w0, first=True, activation=activation
        )
        self.hidden = nn.Sequential(
            *[SirenLayer(hidden_features, hidden_features, w0, activation=activation) for _ in range(num_layers - 1)]
        )
        self.last = nn.Linear(hidden_features, channels)
        if activation == "sine":
            bound = math.sqrt(6 / hidden_features) / w0
            with torch.no_grad():
                self.last.weight.uniform_(-bound, bound)
        self.register_buffer("grid", coordinate_grid(self.grid_shape), persistent=False)

    def _at_coords(self, coords: Tensor) -> Tensor:
        """The first layer's pre-activation at coordinates (P, D) without the latent: (P, H)."""
        weight, bias = self.first.linear.weight, self.first.linear.bias
        if self.coordinate_scale != 1.0:
            coords = coords * self.coordinate_scale
        return coords @ weight[:, : self.coordinate_dim].T + bias

    def forward_points(self, z: Tensor, coords: Tensor) -> Tensor:
        """Values at coordinates: z (B, k), coords (P, D) -> (B, P, C)."""
        weight = self.first.linear.weight
        at_coords = self._at_coords(coords)  # (P, H)
        from_latent = z @ weight[:, self.coordinate_dim :].T  # (B, H)
        h = self.first.activation(at_coords[None] + from_latent[:, None])
        return self.last(self.hidden(h))

    independent_samples = True  # no normalisation: the samples of a batch never mix
    origin_jacobian_cost = 1  # one pass over the grid: one sample's worth of work

    def origin_jacobian(self, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        """F(z0) on the training grid, (1, C, *grid_shape), and its Jacobian in z at z0 = 0, (C*P, k)."""
        values, jacobian = self.points_origin_jacobian(self.grid, create_graph)
        return values.T.reshape(1, self.channels, *self.grid_shape), jacobian

    def points_origin_jacobian(self, coords: Tensor, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        """F(c (+) z0) at coordinates (P, D) -> values (P, C), and d vec(F^T) / dz at z0, (C*P, k).

        Each coordinate's output depends on z only through the first layer's pre-activation
        a_p = W_c c_p + b + W_z z, so dF_p/dz = (dF_p/da_p) W_z, and one backward pass over all
        coordinates (per channel) gives dF/da everywhere at once.
        """
        weight = self.first.linear.weight
        pre = self._at_coords(coords)  # (P, H)
        if not pre.requires_grad:  # no parameter needs a gradient
            pre = pre.detach().requires_grad_()
        values = self.last(self.hidden(self.first.activation(pre)))  # (P, C)
        rows = []
        for c in range(self.channels):
            (d_pre,) = torch.autograd.grad(values[:, c].sum(), pre, create_graph=create_graph, retain_graph=True)
            rows.append(d_pre @ weight[:, self.coordinate_dim :])  # (P, k)
        return values, torch.cat(rows)

    def render(self, z: Tensor, size: int | tuple[int, ...]) -> Tensor:
        """F(c (+) z) on a grid of coordinates c: z (B, k) -> raw values (B, C, *shape), unclamped;
        any resolution, whatever the training grid. `size`: the grid's shape, or one int for every
        axis (an image's size x size, a sound's sample count)."""
        shape = (size,) * self.coordinate_dim if isinstance(size, int) else tuple(size)
        if len(shape) != self.coordinate_dim:
            raise GONError(f"this decoder takes {self.coordinate_dim}-D coordinates, not a grid of shape {shape}")
        if torch.is_grad_enabled() or shape == self.grid_shape:
            grid = self.grid if shape == self.grid_shape else coordinate_grid(shape, z.device, z.dtype)
            return self.forward_points(z, grid).transpose(1, 2).reshape(z.shape[0], self.channels, *shape)
        # coordinates made and evaluated in chunks, written into the one output: at any resolution
        # the hidden layers and the grid take bounded memory, and the output is never copied
        chunk = max(1, RENDER_CHUNK_VALUES // (z.shape[0] * (self.hidden_features + 64)))  # + its int64 indices
        axes = [torch.linspace(-1, 1, n, device=z.device, dtype=z.dtype) for n in shape]
        points = math.prod(shape)
        out = torch.empty(z.shape[0], self.channels, points, device=z.device, dtype=z.dtype)
        for start in range(0, points, chunk):
            index = torch.arange(start, min(start + chunk, points), device=z.device)
            columns, rest = [], index
            for axis, n in zip(reversed(axes), reversed(shape)):  # row-major, as coordinate_grid's rows
                columns.append(axis[rest % n])
                rest = rest // n
            coords = torch.stack(columns[::-1], dim=-1)
            out[:, :, start : start + len(index)] = self.forward_points(z, coords).transpose(1, 2)
        return out.reshape(z.shape[0], self.channels, *shape)

    def forward(self, z: Tensor) -> Tensor:
        """F(c (+) z) on the training grid: z (B, k) -> (B, C, *grid_shape)."""
        return self.render(z, self.grid_shape)


class CoordinateSubset:
    """An implicit decoder restricted to some coordinates: z (B, k) -> values (B, C, P).

    Used for Monte Carlo integration of Eq. 12 over a random subset of the grid; it offers
    the shared-origin Jacobian on those coordinates only.
    """

    independent_samples = True
    origin_jacobian_cost = 1

    def __init__(self, decoder: ImplicitDecoder, coords: Tensor) -> None:
        self.decoder, self.coords = decoder, coords

    def __call__(self, z: Tensor) -> Tensor:
        return self.decoder.forward_points(z, self.coords).transpose(1, 2)

    def origin_jacobian(self, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        values, jacobian = self.decoder.points_origin_jacobian(self.coords, create_graph)
        return values.T[None], jacobian


# modulated implicit decoder (COIN++, functa)


@dataclass(frozen=True)
class ModulationOptions:
    """How a modulated model cuts its signal into tiles and what its decoder adds to the modulated
    SIREN (ModelConfig.modulation: the modulated kinds)."""

    tile: int | None = option(
        None,
        "modulated: positions per tile along each axis (samples of a clip, pixels of an image side), one "
        "latent of latent_dim values each, cut to an axis shorter than it (default: the kind's, 200 for "
        "audio-modulated; unset, the whole signal is one tile)",
        minimum=1,
    )
    basis_features: int | None = option(
        None,
        "modulated: sine functions of the coordinates the latent weights directly, a part linear in the "
        "latent beside the modulated SIREN (0: none; default 256)",
        minimum=0,
    )

    def __post_init__(self) -> None:
        check_fields(self)


class ModulatedImplicitDecoder(nn.Module):
    """SIREN whose hidden layers are shifted by one linear map of the latent (Dupont et al.'s
    COIN++ and functa): h_l = sin(w0_l (W_l h_(l-1) + b_l) + s_l), with [s_1, ..., s_L] = M z.

    The latent moves every layer, not only the first: the paper's concatenation (ImplicitDecoder)
    is the case where only s_1 is non-zero. M has no bias, so at the origin z0 = 0 the network is
    a plain SIREN shared by every sample (or tile), the point the gradient-origin step starts from;
    shifts are in radians, so their size does not depend on w0. Coordinates are cell centres in
    [-1, 1] of `grid_shape` (gon.tiling.cell_grid): a tile's grid (gon.tiling.Tiling) or a whole
    signal's. `first_w0` (default w0) is the first layer's frequency on the coordinates.

    With `basis_features` B > 0 the latent also weights B sine functions of the coordinates,
    phi(c) = sin(first_w0 (W_b c + b_b)), directly: F(c; z) = SIREN(c; z) + phi(c)^T R z, i.e.
    it modulates the output layer's weights. That part is linear in z, so the decoder holds the
    best linear code of its latent size (PCA) as a special case and reaches it quickly, and the
    modulated SIREN adds what no linear code can (docs/results.md, "Modulated implicit GONs").
    """

    independent_samples = True  # no normalisation: the samples of a batch never mix

    def __init__(
        self,
        latent_dim: int,
        channels: int = 1,
        grid_shape: tuple[int, ...] = (28, 28),
        hidden_features: int = 128,
        num_layers: int = 4,
        w0: float = 30.0,
        first_w0: float | None = None,
        basis_features: int = 0,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise GONError(f"a modulated decoder needs at least one hidden layer, got {num_layers}")
        self.grid_shape = tuple(grid_shape)
        if not 1 <= len(self.grid_shape) <= 3:
            raise GONError(f"a modulated decoder takes coordinates of dimension 1, 2 or 3, got {len(self.grid_shape)}")
        self.coordinate_dim, self.latent_dim, self.channels = len(self.grid_shape), latent_dim, channels
        self.hidden_features, self.num_layers, self.basis_features = hidden_features, num_layers, basis_features
        first = w0 if first_w0 is None else first_w0
        self.layers = nn.ModuleList(
            [SirenLayer(self.coordinate_dim, hidden_features, first, first=True)]
            + [SirenLayer(hidden_features, hidden_features, w0) for _ in range(num_layers - 1)]
        )
        self.modulation = nn.Linear(latent_dim, hidden_features * num_layers, bias=False)
        self.last = nn.Linear(hidden_features, channels)
        bound = math.sqrt(6 / hidden_features) / w0
        with torch.no_grad():
            self.last.weight.uniform_(-bound, bound)
        if basis_features:
            self.basis = SirenLayer(self.coordinate_dim, basis_features, first, first=True)
            self.readout = nn.Linear(latent_dim, basis_features * channels, bias=False)
            with torch.no_grad():  # outputs of the size of the SIREN's at a unit latent
                self.readout.weight.uniform_(
                    -1 / math.sqrt(latent_dim * basis_features), 1 / math.sqrt(latent_dim * basis_features)
                )
        self.register_buffer("grid", cell_grid(self.grid_shape), persistent=False)

    @property
    def origin_jacobian_cost(self) -> int:
        """Forward-mode AD over the k latent directions: k grids' worth of work."""
        return self.latent_dim

    @property
    def values_per_point(self) -> int:
        """Hidden values of one point of one sample (what rendering a chunk holds)."""
        return (self.num_layers + 1) * self.hidden_features + self.basis_features * (self.channels + 1)

    def modulations(self, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """What latents z (..., k) set: the layers' shifts (..., num_layers, hidden_features) and
        the basis weights (..., basis_features, channels), None without a basis."""
        shifts = self.modulation(z).unflatten(-1, (self.num_layers, self.hidden_features))
        weights = self.readout(z).unflatten(-1, (self.basis_features, self.channels)) if self.basis_features else None
        return shifts, weights

    def values(self, coords: Tensor, shifts: Tensor, weights: Tensor | None) -> Tensor:
        """The network at coordinates (P, D) with modulations (`modulations`) of one latent per
        sample, shifts (B, L, H), or one per point, (B, P, L, H): values (B, P, C)."""
        per_point = shifts.ndim == 4
        if not per_point:
            shifts = shifts[:, None]
        h = coords
        for i, layer in enumerate(self.layers):
            h = torch.sin(layer.w0 * layer.linear(h) + shifts[..., i, :])
        out = self.last(h)
        if weights is not None:
            phi = self.basis(coords)  # (P, B_f)
            out = out + (torch.einsum("pf,bpfc->bpc", phi, weights) if per_point else phi @ weights)
        return out

    def forward(self, z: Tensor) -> Tensor:
        """F(z) on the grid: z (B, k) -> (B, C, *grid_shape)."""
        out = self.values(self.grid, *self.modulations(z))
        return out.transpose(1, 2).reshape(z.shape[0], self.channels, *self.grid_shape)

    def origin_jacobian(self, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        """F(z0), (1, C, *grid_shape), and dF/dz at z0 = 0, (C * P, k): `forward_origin_jacobian`."""
        return forward_origin_jacobian(self, self.latent_dim, create_graph)
