"""GON models: a decoder plus the gradient-origin step (gon/origin.py).

model = build_model(ModelConfig(kind="conv"))
z = model.encode(x)                # latents from gradients at the origin (Eq. 8)
loss = model(x)                    # the training objective, through the second-order terms
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..config import ModelConfig, per_channel_scale, per_pixel_scale, per_sample_scale
from ..decoders import (
    CONV_SIZES,
    RENDER_CHUNK_VALUES,
    ConvDecoder,
    CoordinateSubset,
    ImplicitDecoder,
    ModulatedImplicitDecoder,
    VariationalDecoder,
)
from ..errors import GONError
from ..kinds import KindSpec, register_kind
from ..losses import squared_error
from ..origin import CALIBRATED, PAPER, OriginJacobianDecoder, OriginStep, gradient_origin, shares_origin
from ..tiling import Tiling
from .base import LatentModel, Variational
from .hub import model_directory
from .own_decoder import load_own_decoder_gon, save_own_decoder_gon

logger = logging.getLogger("gon")

# the scales a calibration tries: 1e-6 ... 1e3 in quarter decades (the paper's 1.5e-5 for a
# 32-px conv GON and 1/64 for an implicit one lie inside)
CALIBRATION_SCALES = tuple(10 ** (e / 4) for e in range(-24, 13))
# Adam's rate of learned inner step sizes (their logarithms), whatever the network's rate
STEP_SIZE_LR = 1e-2


class GON(LatentModel):
    """An encoder-free autoencoder: a decoder and the gradient-origin step (Eq. 8).

    Works with any decoder mapping (batch, latent_dim) to an output the two losses accept.
    The inner loss encodes, the outer loss trains; both are per-sample (Section 3.5 allows
    them to differ, e.g. for translation).

    decoder: F, taking latents (B, latent_dim); latent_dim: k; step: how z is taken from the
    origin (OriginStep; its inner_scale is "calibrated" by default: `calibrate`);
    inner_loss / outer_loss: (F(z), x) -> one loss per sample, shape (B,); outer_loss
    defaults to inner_loss (the squared error of Eq. 8); config: as LatentModel's.
    value_range: around a decoder of your own, the (low, high) range its data lie in, checked
    on every batch ([0, 1] by default, as images; None takes any floats); a library model's
    range is its config's signal's (gon/signals: images [0, 1], audio clips [-1, 1]).
    """

    def __init__(
        self,
        decoder: nn.Module,
        latent_dim: int,
        step: OriginStep = OriginStep(),
        inner_loss=squared_error,
        outer_loss=None,
        config: ModelConfig | None = None,
        value_range: tuple[float, float] | None = (0.0, 1.0),
    ) -> None:
        super().__init__(decoder, latent_dim, outer_loss or inner_loss, config)
        if config is None:
            if value_range is not None and not (len(value_range) == 2 and value_range[0] < value_range[1]):
                raise GONError(f"value_range must be (low, high) with low < high, or None; got {value_range!r}")
            self.value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        step = step.resolved()
        if step.inner_scale == PAPER:
            raise GONError(
                "inner_scale 'paper' depends on the model kind: build the model from a ModelConfig, "
                "or give the number (gon.config.paper_inner_scale)"
            )
        self.step = step
        self._inner_loss = inner_loss
        if step.step_sizes == "learned":
            # log-sizes, so that training keeps every size positive (functa clips instead); each
            # starts at step_size, the fixed rule's, so a learned model begins where a fixed one does
            self.log_step_sizes = nn.Parameter(torch.full((step.steps, latent_dim), math.log(step.step_size)))
        if step.inner_scale == CALIBRATED:
            # the scale `calibrate` sets, NaN until then; a buffer, so checkpoints, save_pretrained
            # and DistributedDataParallel carry it and a reloaded model encodes identically
            self.register_buffer("calibrated_scale", torch.tensor(math.nan))
            self._calibration_known = False
            self.register_load_state_dict_post_hook(_forget_calibration)

    def inner_loss(self, output: Any, x: Tensor) -> Tensor:
        """L inside the gradient (the encoder): decoder output and data (B, ...) -> loss per sample (B,)."""
        return self._inner_loss(output, x)

    def parameter_groups(self, lr: float) -> list[dict]:
        """LatentModel's group, with learned step sizes (log-sizes) in a group of their own at
        STEP_SIZE_LR: a size is one number per latent dimension that must move by factors within
        a run, which the network's rate (1e-4 to 1e-3) would take tens of thousands of steps to do."""
        if self.step.step_sizes != "learned":
            return super().parameter_groups(lr)
        network = [p for name, p in self.named_parameters() if name != "log_step_sizes"]
        return [{"params": network, "lr": lr}, {"params": [self.log_step_sizes], "lr": STEP_SIZE_LR}]

    def step_sizes(self) -> Tensor | None:
        """The learned inner step sizes, (steps, latent_dim), or None for the step's fixed size."""
        return self.log_step_sizes.exp() if self.step.step_sizes == "learned" else None

    def inner_scale(self, x: Tensor) -> float | Tensor:
        """The inner-loss scale for batch `x`: the step's number, or the calibrated scale
        (set by `calibrate` on `x` if this is the first batch the model encodes)."""
        if self.step.inner_scale != CALIBRATED:
            return self.step.inner_scale
        if not self._calibration_known:
            if math.isnan(float(self.calibrated_scale)):
                # detached: weights made under inference mode are not autograd's, and the step
                # names that in one line (gon.origin.gradients_enabled) rather than torch here
                if all(bool(torch.isfinite(p.detach()).all()) for p in self.parameters()):
                    self.calibrate(x)
                else:  # damaged weights (NaN): nothing to measure; the latents come out non-finite,
                    # which evaluation reports (null) and inspect refuses, as for any such model
                    logger.warning("the model's weights are not finite: its inner scale is left uncalibrated")
            self._calibration_known = True
        return self.calibrated_scale

    def state_problem(self, state: dict[str, Tensor]) -> str | None:
        """LatentModel's check, and a stored calibrated scale that is NaN (not yet calibrated)
        or a positive finite number, as a given inner_scale must be."""
        problem = super().state_problem(state)
        scale = state.get("calibrated_scale")
        if problem is None and scale is not None and scale.numel() == 1:
            value = float(scale)
            if not math.isnan(value) and not (math.isfinite(value) and value > 0):
                return f"calibrated_scale is {value:g}: a calibrated inner scale is a positive finite number"
        return problem

    def divergence_cause(self) -> str | None:
        """A fixed inner scale above every scale a calibration tries: latents that large overflow
        the decoder whatever the learning rate."""
        scale = self.step.inner_scale
        if isinstance(scale, (int, float)) and scale > CALIBRATION_SCALES[-1]:
            return (
                f"the inner scale {scale:g} is above any a calibration picks (at most "
                f"{CALIBRATION_SCALES[-1]:g}): try a lower --inner-scale, or --inner-scale calibrated"
            )
        return None

    def prepare_training(self, x: Tensor) -> None:
        """Check `x` (fit's first global batch) as `encode` does, and calibrate the inner scale
        on it unless it is set."""
        x = self.check_images(x)
        _warn_of_risky_step(self.step)
        if self.step.inner_scale == CALIBRATED:
            self.inner_scale(x)

    def step_settings(self) -> dict[str, Any]:
        """The inner steps and the inner scale as a number, also where a rule chose it
        ({"inner_steps": 1, "inner_scale": 0.0316, "inner_scale_rule": "calibrated"}; the
        scale is None until the calibration has seen its first batch), and for several steps
        how they descend ("inner_descent")."""
        steps = {"inner_steps": self.step.steps}
        if self.step.steps > 1:
            steps["inner_descent"] = self.step.descent
        if self.step.inner_scale != CALIBRATED:
            return {**steps, "inner_scale": float(self.step.inner_scale)}
        scale = float(self.calibrated_scale)
        return {**steps, "inner_scale": None if math.isnan(scale) else scale, "inner_scale_rule": CALIBRATED}

    def unit_latents(self, x: Tensor) -> Tensor:
        """The latents of batch `x` after the first inner step at inner scale 1, detached: that
        step's z is linear in the scale, so a calibration rule reads any scale's one-step latents
        off these."""
        with torch.inference_mode(False):
            return self.origin_step(x, create_graph=False, scale=1.0, steps=1)

    def origin_step(self, x: Tensor, create_graph: bool, scale: float | Tensor, steps: int | None = None) -> Tensor:
        """The gradient-origin step of this model on checked data `x` at inner scale `scale`:
        latents (B, latent_dim), after the step's inner steps or the first `steps` of them. The
        call of `gradient_origin` every encoding goes through (a tiled model cuts `x` into tiles
        first: ModulatedGON; an implicit model's Monte Carlo training step calls it on a subset of
        coordinates: ImplicitGON.loss)."""
        step, sizes = self._steps(steps)
        return gradient_origin(
            self._origin_decoder(),
            x,
            self.inner_loss,
            (self.latent_dim,),
            step,
            create_graph=create_graph,
            scale=scale,
            step_sizes=sizes,
        )

    def _steps(self, steps: int | None) -> tuple[OriginStep, Tensor | None]:
        """The step, and its step sizes, cut to its first `steps` inner steps (all when None)."""
        sizes = self.step_sizes()
        if steps is None or steps == self.step.steps:
            return self.step, sizes
        return dataclasses.replace(self.step, steps=steps), None if sizes is None else sizes[:steps]

    def calibrate(self, x: Tensor) -> float:
        """Set the calibrated inner scale from batch `x` by a line search: of the scales
        t = 1e-6 ... 1e3 in quarter decades, the one whose latent gives the lowest mean inner
        loss on `x`, i.e. the best encoding of the first step from the origin (z = -t * grad is
        linear in t, so one gradient serves every t). Backtracking steps after it only go down
        from there; plain steps (descent="plain") are run at each t instead, so that a scale right
        for one step is not taken ten times where it overshoots. Called once, on the
        first batch the model encodes (fit's first batch when training); returns the scale.
        Measured against fixed scales in docs/results.md ("The inner-loss scale")."""
        if self.step.inner_scale != CALIBRATED:
            raise GONError(
                f"this GON's inner scale is fixed ({self.step.inner_scale:g}); build it with "
                "OriginStep(inner_scale='calibrated') to calibrate"
            )
        unit = self.unit_latents(x)
        with torch.inference_mode(False):
            if not bool(torch.isfinite(unit).all()) or not bool(unit.any()):
                raise GONError(
                    f"cannot calibrate the inner scale on this batch: the gradient at the origin is "
                    f"{'zero' if bool(torch.isfinite(unit).all()) else 'not finite'}; give inner_scale "
                    "a number"
                )
            trials = [(self._calibration_loss(x, unit, t), t) for t in CALIBRATION_SCALES]
        finite = [trial for trial in trials if math.isfinite(trial[0])]
        if not finite:
            raise GONError(
                "cannot calibrate the inner scale on this batch: the inner loss is not finite at any "
                "scale tried; give inner_scale a number"
            )
        scale = min(finite)[1]  # ties: the smaller scale
        with torch.no_grad():
            self.calibrated_scale.fill_(scale)
        self._calibration_known = True
        if self._calibrates_every_step():
            chosen = f"the best encoding {self.step.steps} plain steps reach from the origin"
        else:
            chosen = "the best encoding one step reaches from the origin"
            if self.step.steps > 1:
                chosen += "; the backtracking steps after it only improve it"
        logger.info("inner scale calibrated on a batch of %d: %.4g (%s)", x.shape[0], scale, chosen)
        return scale

    def _calibrates_every_step(self) -> bool:
        # backtracking steps only go down from the first, so the scale is the first step's; plain
        # steps are each taken at it, where a scale right for one step can overshoot
        return self.step.steps > 1 and self.step.descent == "plain"

    def _calibration_loss(self, x: Tensor, unit: Tensor, scale: float) -> float:
        """The mean inner loss on `x` of its latents at inner scale `scale` (`unit`: those at scale 1)."""
        if self._calibrates_every_step():
            z = self.origin_step(x, create_graph=False, scale=scale)
        elif self.step.origin_std > 0:  # z = z0 - t * grad is not linear in t
            z = self.origin_step(x, create_graph=False, scale=scale, steps=1)
        else:
            z = scale * unit
        with torch.no_grad():
            return float(self.inner_loss(self.decode(z), x).mean())

    def encode(self, x: Tensor, create_graph: bool | None = None) -> Tensor:
        """Latents z = -grad_z0 L(x, F(z0)) at z0 = 0 (Eq. 8): images x (B, C, H, W) in [0, 1]
        -> z (B, latent_dim). Keeps the second-order graph in training mode unless told otherwise.
        Works under torch.no_grad() and torch.inference_mode() (gon.origin.gradient_origin)."""
        x = self.check_images(x)
        create_graph = self.training if create_graph is None else create_graph
        return self.origin_step(x, create_graph, self.inner_scale(x))

    def origin_path(self, batch_size: int) -> str:
        """Which gradient-origin computation `encode` uses now for a batch, and why (for logs)."""
        decoder = self._origin_decoder()
        if shares_origin(decoder, self.step, batch_size):
            return "shared origin: one Jacobian at z0 for the whole batch"
        if not isinstance(decoder, OriginJacobianDecoder):
            return "general: this decoder offers no origin Jacobian"
        if not decoder.independent_samples:
            return "general: train-mode BatchNorm couples the samples of a batch"
        if self.step.steps != 1 or self.step.origin_std != 0:
            return "general: several inner steps or a noisy origin give each sample its own point"
        return (
            f"general: at batch {batch_size} the origin Jacobian would cost more than it saves "
            f"(shared from batch {decoder.origin_jacobian_cost + 1})"
        )

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json and model.safetensors into `directory`. A library model (built by
        build_model) is saved with its ModelConfig; a GON around a decoder of your own with its
        weights, step and settings (gon.models.own_decoder), for
        `GON.from_pretrained(directory, decoder=YourDecoder(...))`."""
        if isinstance(self.config, ModelConfig):
            return super().save_pretrained(directory)
        return save_own_decoder_gon(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, decoder: nn.Module | None = None, **kwargs: Any) -> GON:
        """The model saved in `directory`, in eval mode. With no `decoder`: a library model, as
        the class its config names. With `decoder` (built by you, as it was when saved): a GON
        around it, `cls(decoder, latent_dim, **kwargs)`, filled with the saved weights and
        settings; no code is ever read from the folder. `kwargs` give the losses again when
        they were your own functions. `directory` may be a Hugging Face Hub repository id
        (gon.models.hub)."""
        if decoder is None:
            if kwargs:
                raise GONError(f"{', '.join(kwargs)}: only with a decoder of your own (decoder=...)")
            return super().from_pretrained(directory)
        return load_own_decoder_gon(cls, model_directory(directory), decoder, **kwargs)

    def _origin_decoder(self) -> Any:
        # the decoder module itself while `decode` is the plain decoder, so the step can use
        # its origin Jacobian; a subclass that changes `decode` gets the general path
        return self.decoder if type(self).decode is LatentModel.decode else self.decode


class VariationalGON(Variational, GON):
    """Variational GON (Section 3.3): the negative ELBO as inner and outer loss, samples from N(0, I).

    decoder: a VariationalDecoder (stochastic layer + F); likelihood: p(x | z), "bernoulli"
    (on the decoder's logits) or "gaussian" (one learned noise scale, `log_std`).
    """

    def __init__(
        self,
        decoder: VariationalDecoder,
        latent_dim: int,
        step: OriginStep = OriginStep(),
        likelihood: str = "bernoulli",
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__(decoder, latent_dim, step, config=config)
        self._set_likelihood(likelihood)


class ImplicitGON(GON):
    """Implicit GON (Section 3.4): a SIREN on coordinates (+) latent; losses summed over coordinates (Eq. 12).

    With `coordinate_samples` set, each training step integrates Eq. 12 by Monte Carlo over
    that many random coordinates (shared by the batch, so the shared origin still applies),
    scaled by P / n so that both integrals are unbiased estimates of the full-grid sums.
    A step then costs about the same at any image size.
    """

    def __init__(
        self,
        decoder: ImplicitDecoder,
        latent_dim: int,
        step: OriginStep = OriginStep(),
        coordinate_samples: int | None = None,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__(decoder, latent_dim, step, config=config)
        self.coordinate_samples = coordinate_samples

    def loss(self, x: Tensor, labels: Tensor | None = None, index: Tensor | None = None) -> Tensor:
        """GON.loss, with I_x of Eq. 12 estimated on `coordinate_samples` random coordinates in
        training mode (the whole grid otherwise, and always for a classifier)."""
        x = self.check_images(x)
        points = self.decoder.grid.shape[0]
        n = self.coordinate_samples
        if not self.training or n is None or n >= points or self.classifier is not None:
            return super().loss(x, labels)
        index = torch.randperm(points, device=x.device)[:n]
        subset = CoordinateSubset(self.decoder, self.decoder.grid[index])
        target = x.flatten(2)[:, :, index]  # (B, C, n)
        scale = points / n
        z = gradient_origin(
            subset,
            target,
            self.inner_loss,
            (self.latent_dim,),
            self.step,
            create_graph=True,
            scale=self.inner_scale(x) * scale,
            step_sizes=self.step_sizes(),
        )
        return scale * self.outer_loss(subset(z), target).mean()

    def render(self, z: Tensor, size: int | tuple[int, ...]) -> Tensor:
        """Examples of latents z (B, latent_dim) on a grid of any resolution, clamped to the model's
        value range: (B, C, *shape) for a grid `shape`, or `size` points on every axis (an image of
        size x size, a clip of size samples)."""
        with torch.no_grad():
            return self.decoder.render(z, size).clamp_(*self.value_range)


class ModulatedGON(ImplicitGON):
    """An implicit GON on a ModulatedImplicitDecoder with one latent per tile (gon/tiling.py).

    A signal (B, C, *size) is cut into `tiling.count` tiles and each tile is encoded by the
    gradient-origin step as a sample of its own, on its local coordinates: every tile starts
    at the same origin, so the shared-origin path applies to all tiles of a batch at once.
    A signal's latent is its tiles' latents in order, (B, count * k): samplers, interpolation
    and saving see one vector per signal. `tile_latent_dim` is k, the latent of one tile; with
    learned step sizes (OriginStep.step_sizes) the tiles share them.
    """

    def __init__(
        self,
        decoder: ModulatedImplicitDecoder,
        tiling: Tiling,
        step: OriginStep = OriginStep(),
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__(decoder, decoder.latent_dim, step, config=config)
        self.tiling = tiling
        self.tile_latent_dim = decoder.latent_dim
        self.latent_dim = tiling.count * decoder.latent_dim

    def origin_step(self, x: Tensor, create_graph: bool, scale: float | Tensor, steps: int | None = None) -> Tensor:
        """GON.origin_step on the tiles of `x`: latents (B, count * k)."""
        step, sizes = self._steps(steps)
        z = gradient_origin(
            self._origin_decoder(),
            self.tiling.split(x),
            self.inner_loss,
            (self.tile_latent_dim,),
            step,
            create_graph=create_graph,
            scale=scale,
            step_sizes=sizes,
        )
        return z.reshape(x.shape[0], self.latent_dim)

    def origin_path(self, batch_size: int) -> str:
        """GON.origin_path for a batch of `batch_size` signals, i.e. of `batch_size * count` tiles."""
        return super().origin_path(batch_size * self.tiling.count)

    def _origin_decoder(self) -> Any:
        return self.decoder  # the step runs on tiles, through the tile decoder itself

    def decode(self, z: Tensor) -> Tensor:
        """F(z): latents (B, count * k) -> signals (B, C, *size), each tile decoded in its place."""
        return self.tiling.join(self.decoder(z.reshape(-1, self.tile_latent_dim)))

    def render(self, z: Tensor, size: int | tuple[int, ...]) -> Tensor:
        """Signals of latents z (B, count * k) on a grid of `size` points per axis over the same
        span (an image's side, a clip's samples), clamped to the data's range. Each point is
        evaluated in the tile that holds it, in chunks of bounded memory."""
        decoder, tiling = self.decoder, self.tiling
        shape = (size,) * decoder.coordinate_dim if isinstance(size, int) else tuple(size)
        if len(shape) != decoder.coordinate_dim:
            raise GONError(f"this model renders {decoder.coordinate_dim}-D grids, not a grid of shape {shape}")
        with torch.no_grad():
            batch = z.shape[0]
            shifts, weights = decoder.modulations(z.reshape(batch, tiling.count, self.tile_latent_dim))  # per tile
            points = math.prod(shape)
            out = torch.empty(batch, decoder.channels, points, dtype=z.dtype, device=z.device)
            chunk = max(1, RENDER_CHUNK_VALUES // (batch * decoder.values_per_point))
            for start in range(0, points, chunk):
                index = torch.arange(start, min(start + chunk, points), device=z.device)
                tile, local = tiling.locate(shape, index)
                values = decoder.values(
                    local.to(z.dtype), shifts[:, tile], None if weights is None else weights[:, tile]
                )
                out[:, :, start : start + len(index)] = values.transpose(1, 2)
            return out.reshape(batch, decoder.channels, *shape).clamp_(*self.value_range)


def _warn_of_risky_step(step: OriginStep) -> None:
    # plain steps at the calibrated scale, chosen for them on the first batch: training can
    # outgrow it, with fixed and with learned step sizes (docs/results.md, Table 1's ten joint
    # steps and "Several inner steps"); backtracking steps cannot overshoot, so they are not warned of
    if step.steps > 1 and step.inner_scale == CALIBRATED and step.descent == "plain":
        logger.warning(
            "%d plain inner steps with the calibrated inner scale, chosen for these steps on the first batch: "
            "training can outgrow it (measured on some kinds and seeds); if the loss rises, use backtracking "
            "steps (--inner-descent backtracking, the default) or give inner_scale 'paper' or a number",
            step.steps,
        )


def _forget_calibration(module: GON, incompatible_keys: Any) -> None:
    # a loaded state may hold another calibrated scale (or none yet): look again at the next encode
    module._calibration_known = False


def conv_decoder(c: ModelConfig, output: str = "sigmoid") -> ConvDecoder:
    """The paper's transposed-conv decoder for `c` (shared by conv GONs and their baselines)."""
    return ConvDecoder(c.latent_dim, c.channels, c.image_size, c.hidden_features, c.activation, c.conv.norm, output)


# The GON kinds. Defaults are the paper's scripts'; Adam's rate is the paper's 1e-4 for
# implicit GONs and 1e-3 for convolutional and variational ones, which converge several
# times faster than at 1e-4 at CPU budgets (docs/design.md).
def _conv(c: ModelConfig) -> GON:
    return GON(conv_decoder(c), c.latent_dim, c.origin, config=c)


def _variational(c: ModelConfig) -> VariationalGON:
    return VariationalGON(
        VariationalDecoder(c.latent_dim, conv_decoder(c, "logits")),
        c.latent_dim,
        c.origin,
        c.variational.likelihood,
        config=c,
    )


def modulated(c: ModelConfig) -> ModulatedGON:
    """A ModulatedGON for `c`, of any signal of 1 to 3 coordinate axes: tiles of `c.modulation.tile`
    positions per axis of the data's shape (the whole signal when unset)."""
    tiling = Tiling.of(c.data_shape[1:], c.modulation.tile)
    siren = c.siren
    decoder = ModulatedImplicitDecoder(
        c.latent_dim,
        c.channels,
        tiling.tile,
        c.hidden_features,
        siren.num_layers,
        siren.w0,
        siren.first_w0,
        c.modulation.basis_features,
    )
    return ModulatedGON(decoder, tiling, c.origin, config=c)


def _implicit(c: ModelConfig) -> ImplicitGON:
    siren = c.siren
    decoder = ImplicitDecoder(
        c.latent_dim,
        c.channels,
        c.image_size,
        c.hidden_features,
        siren.num_layers,
        siren.w0,
        c.activation,
        first_w0=siren.first_w0,
    )
    return ImplicitGON(decoder, c.latent_dim, c.origin, c.monte_carlo.coordinate_samples, config=c)


CONV_DEFAULTS = dict(image_size=32, latent_dim=32, hidden_features=16, activation="elu")
register_kind(
    KindSpec(
        "conv",
        _conv,
        CONV_DEFAULTS,
        lr=1e-3,
        origin_step=True,
        paper_scale=per_pixel_scale,
        options=("conv", "classifier"),
        image_sizes=CONV_SIZES,
    )
)
register_kind(
    KindSpec(
        "variational",
        _variational,
        dict(image_size=32, latent_dim=48, hidden_features=32, activation="elu"),
        lr=1e-3,
        origin_step=True,
        paper_scale=per_sample_scale,
        options=("conv", "variational"),
        image_sizes=CONV_SIZES,
    )
)
# COIN++'s and functa's recipe: a SIREN every layer of which the latent shifts, with step sizes
# learned per latent dimension (Meta-SGD) on top of the calibrated scale
MODULATED_OPTIONS = ("siren", "modulation")
MODULATED_DEFAULTS = dict(latent_dim=32, hidden_features=64, activation="sine", basis_features=256)
register_kind(
    KindSpec(
        "modulated",
        modulated,
        dict(image_size=28, **MODULATED_DEFAULTS),
        lr=3e-4,
        origin_step=True,
        paper_scale=per_channel_scale,
        options=MODULATED_OPTIONS,
        step_sizes="learned",
        lr_schedule="cosine",
        signals=("image", "video"),
        coordinate_dims=(1, 2, 3),
    )
)
register_kind(
    KindSpec(
        "implicit",
        _implicit,
        dict(image_size=28, latent_dim=32, hidden_features=256, activation="sine"),
        lr=1e-4,
        origin_step=True,
        paper_scale=per_channel_scale,
        options=("siren", "monte_carlo", "classifier"),
    )
)
