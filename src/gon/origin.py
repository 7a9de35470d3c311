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
batch. Choosing inner_scale = 1/64 times the paper's per-sample normalisation reproduces
the paper's training dynamics at its batch size of 64 (see `gon.models.paper_inner_scale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from .errors import GONError

Decoder = Callable[[Tensor], Any]
# Maps (decoder output, data) to one loss per sample, shape (batch,).
InnerLoss = Callable[[Any, Tensor], Tensor]

LATENT_FORMS = ("negative_gradient", "descent")


@dataclass(frozen=True)
class OriginStep:
    """How the latent is obtained from the origin.

    steps: inner gradient steps (the paper's multi-step baseline uses 10).
    step_size: inner step size; 1 for the single-step GON, 0.1 for the paper's 10-step baseline.
    detach: cut the latent from the graph, so no second-order terms reach the decoder
        (the paper's "detached" ablation, Table 1 and Fig. 2b).
    origin_std: sigma of the noisy origin z0 ~ N(0, sigma^2 I) (Appendix C, Fig. 11a).
    latent_form: "negative_gradient" takes z = -grad (Eq. 8); "descent" keeps the origin,
        z = z0 - grad (Appendix C, Fig. 11b). Identical when origin_std == 0.
    inner_scale: fixed multiplier of the summed per-sample inner loss (see module doc).
    """

    steps: int = 1
    step_size: float = 1.0
    detach: bool = False
    origin_std: float = 0.0
    latent_form: str = "negative_gradient"
    inner_scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or self.steps < 1:
            raise GONError(f"inner steps must be a positive integer, got {self.steps!r}")
        if not self.step_size > 0:
            raise GONError(f"inner step size must be positive, got {self.step_size!r}")
        if not self.origin_std >= 0:
            raise GONError(f"origin noise sigma must be >= 0, got {self.origin_std!r}")
        if self.latent_form not in LATENT_FORMS:
            raise GONError(f"latent form must be one of {', '.join(LATENT_FORMS)}, got {self.latent_form!r}")
        if not self.inner_scale > 0:
            raise GONError(f"inner-loss scale must be positive, got {self.inner_scale!r}")


def gradient_origin(
    decoder: Decoder,
    x: Tensor,
    inner_loss: InnerLoss,
    latent_shape: tuple[int, ...],
    step: OriginStep = OriginStep(),
    *,
    create_graph: bool,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Encode `x` with the gradient of `inner_loss` at the origin of the decoder's latent space.

    decoder: F, latents (B, *latent_shape) -> output; inner_loss: (output, x) -> loss per
    sample (B,); step: the OriginStep. Returns z (B, *latent_shape): -grad at z0 = 0 (Eq. 8),
    or the result of step.steps inner steps.
    create_graph=True keeps the graph of the gradient, so an outer loss on F(z) trains
    the decoder through the encoder too (the second-order terms the method relies on);
    use it while training. With create_graph=False the returned latent is detached.
    Works under torch.no_grad(): the inner gradient is always taken.
    """
    if shares_origin(decoder, step, x.shape[0]):
        return _shared_origin(decoder, x, inner_loss, step, create_graph)
    batch = x.shape[0]
    z0 = torch.zeros((batch, *latent_shape), dtype=x.dtype, device=x.device)
    if step.origin_std > 0:
        z0 = z0 + step.origin_std * torch.randn(z0.shape, generator=generator, dtype=x.dtype, device=x.device)
    keep_graph = create_graph and not step.detach
    z = z0
    with torch.enable_grad():
        for k in range(step.steps):
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            loss = inner_loss(decoder(z), x).sum() * step.inner_scale
            (grad,) = torch.autograd.grad(loss, z, create_graph=keep_graph)
            start = 0 if (k == 0 and step.latent_form == "negative_gradient") else z
            z = start - step.step_size * grad
            if not keep_graph:
                z = z.detach()
    return z


def shares_origin(decoder: Decoder, step: OriginStep, batch_size: int) -> bool:
    """Whether the shared-origin path applies and pays: one step from the exact origin, a
    decoder that offers `origin_jacobian` and whose samples are independent, and a batch
    larger than the Jacobian's cost counted in samples (`origin_jacobian_cost`)."""
    return (getattr(decoder, "origin_jacobian", None) is not None and step.steps == 1 and step.origin_std == 0
            and getattr(decoder, "independent_samples", True)
            and batch_size > getattr(decoder, "origin_jacobian_cost", 0))


def _shared_origin(decoder: Decoder, x: Tensor, inner_loss: InnerLoss, step: OriginStep, create_graph: bool) -> Tensor:
    keep_graph = create_graph and not step.detach
    with torch.enable_grad():
        origin_output, jacobian = decoder.origin_jacobian(create_graph=keep_graph)  # (1, *out), (D, k)
        if keep_graph:
            output = origin_output.expand(x.shape[0], *origin_output.shape[1:])
        else:
            output = origin_output.detach().expand(x.shape[0], *origin_output.shape[1:]).clone().requires_grad_()
        loss = inner_loss(output, x).sum() * step.inner_scale
        (cotangent,) = torch.autograd.grad(loss, output, create_graph=keep_graph)
        z = -step.step_size * (cotangent.reshape(x.shape[0], -1) @ jacobian)
    return z if keep_graph else z.detach()
