"""The gradient-origin step: the one place where a latent is computed from a decoder.

Paper symbols: the decoder is F, the origin z0 = 0, and the latent is

    z = -d/dz0 L_inner(x, F(z0))          (Eq. 8, "negative_gradient")
    z = z0 - d/dz0 L_inner(x, F(z0))      (Eq. 6-7 / Appendix C, "descent")

Every model kind (convolutional, variational, implicit, any user decoder) and every
ablation (detached gradient, several inner steps, noisy origin) calls `gradient_origin`.

Shared origin. At z0 = 0 every sample has the same input, so F(z0) and the Jacobian
J = dF/dz at z0 are the same for the whole batch, and for a decoder without coupling
between samples the chain rule gives every latent at once:

    z_i = -inner_scale * J^T dL_i/dg (x_i, F(z0))

A decoder that can produce (F(z0), J) cheaply offers `origin_jacobian`; the implicit
decoder does it with one backward pass over its coordinate grid instead of one per
sample, the convolutional one with forward-mode AD over the latent directions, which
costs about 2k samples' worth of work and so is used only for larger batches. The result is the same latent with the same second-order graph (tested to 1e-5
against the general path). Several steps, a noisy origin, or a decoder without
`origin_jacobian` take the general path.

Batch independence. The paper's scripts average the inner loss over the batch, so the
gradient reaching one sample's z0 is scaled by 1/batch_size and a latent depends on the
size of the batch it was computed in. Here the inner loss is a *sum* of per-sample losses
times a fixed `inner_scale`; for a decoder without coupling between samples the gradient
with respect to z0[i] is then exactly inner_scale * dL_i/dz0[i], whatever else is in the
batch. The scale is a number, or a rule a model resolves: "paper" (1/64 times the paper's
per-sample normalisation, its training dynamics at batch 64: `gon.config.paper_inner_scale`)
or "calibrated" (set once, on the first batch a model encodes, by a line search along the
gradient: the scale of the best first step from the origin, or with several plain steps of the
best encoding they reach; gon.models.gon.GON.calibrate). Which default trains best was measured
(docs/results.md, "The inner-loss scale").
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from .errors import GONError
from .fields import check_fields, option

Decoder = Callable[[Tensor], Any]
# Maps (decoder output, data) to one loss per sample, shape (batch,).
InnerLoss = Callable[[Any, Tensor], Tensor]

LATENT_FORMS = ("negative_gradient", "descent")
# inner_scale rules by name (a number is a fixed scale): "calibrated" sets the scale once from
# the first batch a model encodes (a line search: the best first step from the origin), "paper" is the
# paper's factor for the model's kind (gon.config.paper_inner_scale)
CALIBRATED, PAPER = "calibrated", "paper"
SCALE_RULES = (CALIBRATED, PAPER)
STEP_SIZE_RULES = ("fixed", "learned")
# how several inner steps move: "backtracking" takes back a step that raises a sample's inner loss
# and halves that sample's step (so K steps never encode worse than the first), "plain" is the
# paper's gradient descent (its multi-step baseline)
STEP_RULES = ("backtracking", "plain")
DEFAULT_INNER_SCALE = CALIBRATED
# inner steps per latent: each is a double backward through the decoder, so a step of training
# with N of them costs about N single-step ones; the paper's multi-step baseline takes 10, and
# 10^9 (accepted before this bound) hung in the calibration instead of failing
MAX_INNER_STEPS = 1000


@runtime_checkable
class OriginJacobianDecoder(Protocol):
    """A decoder that offers the shared-origin path: F(z0) and J = dF/dz at z0 = 0 for the
    whole batch at once. `independent_samples`: no coupling between the samples of a batch
    (false for train-mode BatchNorm); `origin_jacobian_cost`: what the Jacobian costs,
    counted in samples (the path pays for larger batches only)."""

    independent_samples: bool
    origin_jacobian_cost: int

    def origin_jacobian(self, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        """(F(z0) of shape (1, *out), J of shape (prod(out), k))."""


@dataclass(frozen=True)
class OriginStep:
    """How the latent is obtained from the origin (ModelConfig.origin; each field's flag and
    flat config key is its `flat` name).

    steps: inner gradient steps (the paper's multi-step baseline uses 10).
    step_size: inner step size; 1 for the single-step GON, 0.1 for the paper's 10-step baseline.
    descent: how several steps move: "backtracking" (the default) takes back, from the second
        step on, a step that raises a sample's inner loss and halves that sample's step, so the
        latent never encodes worse than the first step; "plain" is the paper's gradient descent.
        Its guarantee holds for decoders whose samples are independent and deterministic: with
        train-mode BatchNorm the samples' losses depend on each other, and a variational
        decoder in training draws new noise at every evaluation, so the comparison is noisy.
        A step to a non-finite point is taken back before the decoder sees it; rejected finite
        steps still pass through the graph with zero weight (at scales far beyond any a
        calibration picks their second-order terms can overflow).
    detach: cut the latent from the graph, so no second-order terms reach the decoder
        (the paper's "detached" ablation, Table 1 and Fig. 2b).
    origin_std: sigma of the noisy origin z0 ~ N(0, sigma^2 I) (Appendix C, Fig. 11a).
    latent_form: "negative_gradient" takes z = -grad (Eq. 8); "descent" keeps the origin,
        z = z0 - grad (Appendix C, Fig. 11b). Identical when origin_std == 0.
    step_sizes: "fixed" uses step_size at every step; "learned" gives each inner step and each
        latent dimension its own step size, a parameter trained with the decoder (Meta-SGD, as
        functa does), started at step_size: the first step is still the GON's step from the origin,
        but the decoder learns how far to go along each direction.
    inner_scale: multiplier of the summed per-sample inner loss (see module doc): a positive
        number, or a rule by name: "calibrated" (the default; a GON sets it from the first batch
        it encodes, by a line search: the best first step from the origin) or "paper" (the
        paper's factor for the model's kind, which ModelConfig resolves to a number). None means the default rule
        for a model (ModelConfig and GON resolve it) and 1 for `gradient_origin` called alone.
    """

    steps: int = option(1, "gradient steps from the origin", minimum=1, maximum=MAX_INNER_STEPS, flat="inner_steps")
    step_size: float = option(
        1.0, "inner step size (0.1 for the paper's 10-step baseline)", positive=True, flat="inner_step_size"
    )
    step_sizes: str | None = option(
        None,
        "inner step sizes: 'fixed' (step_size at every step) or 'learned' (one "
        "per step and latent dimension, trained with the decoder; default: the model "
        "kind's, else fixed)",
        choices=STEP_SIZE_RULES,
        flat="step_sizes",
    )
    descent: str | None = option(
        None,
        "several inner steps: 'backtracking' (a step that raises a sample's inner loss is taken back "
        "and halved, so the steps never encode worse than the first; the default) or 'plain' (the "
        "paper's gradient descent)",
        choices=STEP_RULES,
        flat="inner_descent",
    )
    detach: bool = option(False, "detach the latent: no second-order terms (ablation)", flat="detach")
    origin_std: float = option(0.0, "noisy origin z0 ~ N(0, sigma^2) (Appendix C)", minimum=0, flat="origin_std")
    latent_form: str = option(
        "negative_gradient", "z = -grad (Eq. 8) or z = z0 - grad (Appendix C)", choices=LATENT_FORMS, flat="latent_form"
    )
    inner_scale: float | str | None = option(
        None,
        f"inner-loss scale: a number, 'calibrated' (a line search on "
        f"the first batch: the best first step from the origin) or 'paper' "
        f"(default: {DEFAULT_INNER_SCALE})",
        positive=True,
        names=SCALE_RULES,
        flat="inner_scale",
    )

    def __post_init__(self) -> None:
        check_fields(self)

    def resolved(self, step_sizes: str = "fixed") -> OriginStep:
        """This step with an unset inner_scale replaced by the default rule and unset step sizes by
        `step_sizes` (a model kind's default): what a model keeps."""
        return dataclasses.replace(
            self,
            inner_scale=DEFAULT_INNER_SCALE if self.inner_scale is None else self.inner_scale,
            step_sizes=step_sizes if self.step_sizes is None else self.step_sizes,
            descent=STEP_RULES[0] if self.descent is None else self.descent,
        )


def recorded_step(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a step as a file recorded them (a run's config, a saved GON of one's own):
    one written before several steps backtracked has no `descent`, and its steps were plain."""
    return fields if "descent" in fields else {**fields, "descent": "plain"}


def gradient_origin(
    decoder: Decoder,
    x: Tensor,
    inner_loss: InnerLoss,
    latent_shape: tuple[int, ...],
    step: OriginStep = OriginStep(),
    *,
    create_graph: bool,
    generator: torch.Generator | None = None,
    scale: float | Tensor | None = None,
    step_sizes: Tensor | None = None,
) -> Tensor:
    """Encode `x` with the gradient of `inner_loss` at the origin of the decoder's latent space.

    decoder: F, latents (B, *latent_shape) -> output; inner_loss: (output, x) -> loss per
    sample (B,); step: the OriginStep. Returns z (B, *latent_shape): -grad at z0 = 0 (Eq. 8),
    or the result of step.steps inner steps.
    create_graph=True keeps the graph of the gradient, so an outer loss on F(z) trains
    the decoder through the encoder too (the second-order terms the method relies on);
    use it while training. With create_graph=False the returned latent is detached.
    Works under torch.no_grad() and torch.inference_mode(): the inner gradient is always
    taken, in a grad-enabled island (`gradients_enabled`); under inference mode there is no
    graph to keep, so create_graph is ignored and the latent is detached. `scale` is the inner
    scale when the step names a rule (a model resolves it: GON.inner_scale) and overrides
    the step's number otherwise. `step_sizes` (steps, *latent_shape), positive: the size of each
    inner step per latent dimension, in place of `step.step_size` (a model with learned step
    sizes passes its own: GON.step_sizes).
    """
    if torch.is_inference_mode_enabled() or x.is_inference():
        keep = create_graph and not torch.is_inference_mode_enabled()
        with gradients_enabled():
            return gradient_origin(
                decoder,
                outside_inference(x),
                inner_loss,
                latent_shape,
                step,
                create_graph=keep,
                generator=generator,
                scale=scale,
                step_sizes=step_sizes,
            )
    scale = _scale(step, scale)
    if shares_origin(decoder, step, x.shape[0]):
        return _shared_origin(decoder, x, inner_loss, step, create_graph, scale, _step_size(step, step_sizes, 0))
    batch = x.shape[0]
    z0 = torch.zeros((batch, *latent_shape), dtype=x.dtype, device=x.device)
    if step.origin_std > 0:
        z0 = z0 + step.origin_std * torch.randn(z0.shape, generator=generator, dtype=x.dtype, device=x.device)
    keep_graph = create_graph and not step.detach
    # from the second step on, a step that raises a sample's inner loss is taken back and that
    # sample's step halved: the latent's loss never rises above the first step's, the GON's own
    backtrack = step.steps > 1 and step.descent != "plain"
    z, rate, last = z0, 1.0, None  # last: the last accepted point, its losses and its gradient
    with gradients_enabled():
        for k in range(step.steps):
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            losses = inner_loss(decoder(z), x)
            (grad,) = torch.autograd.grad(losses.sum() * scale, z, create_graph=keep_graph)
            if backtrack and k > 0:
                losses = losses.detach()
                if last is not None:
                    z, losses, grad, rate = _accept_or_back(last, z, losses, grad, rate)
                last = (z, losses, grad)
            start = 0 if (k == 0 and step.latent_form == "negative_gradient") else z
            z = start - rate * _step_size(step, step_sizes, k) * grad
            if backtrack and last is not None:
                # a step to a non-finite point is taken back before the decoder sees it: its NaNs
                # would reach the decoder's gradients through the graph even where not selected
                finite = torch.isfinite(z.detach()).reshape(len(z), -1).all(1)
                if not bool(finite.all()):
                    z = torch.where(_per_sample(finite, z), z, last[0])
            if not keep_graph:
                z = z.detach()
        if backtrack:
            with torch.no_grad():
                losses = inner_loss(decoder(z), x)
            z = _accept_or_back(last, z, losses, grad, rate)[0]
    return z


@contextlib.contextmanager
def gradients_enabled() -> Iterator[None]:
    """Autograd on inside, even under torch.no_grad() or torch.inference_mode(): a latent is a
    gradient, so encoding needs autograd wherever it is called. Tensors made inside are normal
    tensors; inputs made under inference mode must pass through `outside_inference` first."""
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    except RuntimeError as error:
        if "inference tensor" not in str(error).lower():
            raise
        # the one case no island can mend: weights made under inference mode are not autograd's
        raise GONError(
            "this model's weights were made under torch.inference_mode(), so no gradient can be taken "
            "through them: build or load the model outside it (encoding inside it works)"
        ) from None


def outside_inference(x: Tensor) -> Tensor:
    """`x` usable by autograd: an inference tensor (made under torch.inference_mode(), which
    autograd may not save for backward) is copied; any other tensor is returned as it is."""
    if not x.is_inference():
        return x
    with torch.inference_mode(False):
        return x.clone()


def shares_origin(decoder: Decoder, step: OriginStep, batch_size: int) -> bool:
    """Whether the shared-origin path applies and pays: one step from the exact origin, a
    decoder that offers `origin_jacobian` and whose samples are independent, and a batch
    larger than the Jacobian's cost counted in samples (`origin_jacobian_cost`)."""
    return (
        isinstance(decoder, OriginJacobianDecoder)
        and step.steps == 1
        and step.origin_std == 0
        and decoder.independent_samples
        and batch_size > decoder.origin_jacobian_cost
    )


def _scale(step: OriginStep, scale: float | Tensor | None) -> float | Tensor:
    if scale is not None:
        return scale
    if step.inner_scale is None:
        return 1.0
    if isinstance(step.inner_scale, str):
        raise GONError(
            f"inner_scale {step.inner_scale!r} is a rule a model resolves (GON does); "
            "gradient_origin itself needs a number or `scale=`"
        )
    return step.inner_scale


def _accept_or_back(
    last: tuple[Tensor, Tensor, Tensor], z: Tensor, losses: Tensor, grad: Tensor, rate: float | Tensor
) -> tuple[Tensor, Tensor, Tensor, float | Tensor]:
    """Backtracking, per sample: where the inner loss at `z` (`losses`, detached) is not below
    the last accepted point's (a non-finite loss included), go back to that point, its loss and
    its gradient, and halve the step; elsewhere keep `z`. Returns (point, losses, gradient, rate)."""
    last_z, last_losses, last_grad = last
    worse = ~(losses < last_losses)
    if not bool(worse.any()):
        return z, losses, grad, rate
    losses = torch.where(worse, last_losses, losses)
    worse = _per_sample(worse, z)
    rate = torch.where(worse, 0.5 * torch.as_tensor(rate, dtype=z.dtype, device=z.device), rate)
    return torch.where(worse, last_z, z), losses, torch.where(worse, last_grad, grad), rate


def _per_sample(mask: Tensor, like: Tensor) -> Tensor:
    """A mask of one value per sample (B,), shaped to broadcast against `like` (B, ...)."""
    return mask.reshape(-1, *([1] * (like.dim() - 1)))


def _step_size(step: OriginStep, step_sizes: Tensor | None, k: int) -> float | Tensor:
    return step.step_size if step_sizes is None else step_sizes[k]


def _shared_origin(
    decoder: OriginJacobianDecoder,
    x: Tensor,
    inner_loss: InnerLoss,
    step: OriginStep,
    create_graph: bool,
    scale: float | Tensor,
    step_size: float | Tensor,
) -> Tensor:
    keep_graph = create_graph and not step.detach
    with gradients_enabled():
        origin_output, jacobian = decoder.origin_jacobian(create_graph=keep_graph)  # (1, *out), (D, k)
        if keep_graph:
            output = origin_output.expand(x.shape[0], *origin_output.shape[1:])
        else:
            output = origin_output.detach().expand(x.shape[0], *origin_output.shape[1:]).clone().requires_grad_()
        loss = inner_loss(output, x).sum() * scale
        (cotangent,) = torch.autograd.grad(loss, output, create_graph=keep_graph)
        z = -step_size * (cotangent.reshape(x.shape[0], -1) @ jacobian)
    return z if keep_graph else z.detach()
