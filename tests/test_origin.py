"""The gradient-origin step against the paper's hand-written double backward, and its options."""

import pytest
import torch

from gon.config import ModelConfig
from gon.decoders import ConvOptions, SirenOptions
from gon.errors import GONError
from gon.models import build_model
from gon.origin import OriginStep, gradient_origin


def relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


def paper_step(decoder_fn, x, latent_dim, per_sample_reduce):
    """The paper's scripts: z = -d/dz0 mean_batch(L), then the outer loss, with create_graph=True."""
    z = torch.zeros(x.shape[0], latent_dim).requires_grad_()
    inner = per_sample_reduce(decoder_fn(z), x).mean()
    grad = torch.autograd.grad(inner, [z], create_graph=True, retain_graph=True)[0]
    z = -grad
    return z, decoder_fn(z)


def parameter_grads(model):
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def conv_reduce(g, x):  # ((g - x)**2).sum(1).mean() of GON.py, written per sample
    return ((g - x) ** 2).sum(1).flatten(1).mean(1)


def implicit_reduce(g, x):  # ((g - x)**2).sum(1).mean() over (B, H*W, C): sum over coordinates
    return ((g - x) ** 2).flatten(2).sum(2).mean(1)


@pytest.mark.parametrize(
    "kind,images,reduce", [("conv", "digits32", conv_reduce), ("implicit", "digits28", implicit_reduce)]
)
def test_step_matches_paper_double_backward(kind, images, reduce, request):
    # At the paper's batch size of 64 the paper's inner scale (by name) equals the paper's
    # batch mean, so latents and parameter gradients must agree to float precision.
    x = request.getfixturevalue(images)
    assert x.shape[0] == 64
    siren = {"siren": SirenOptions(num_layers=3)} if kind == "implicit" else {}  # an option of implicit models only
    config = ModelConfig(
        kind=kind, hidden_features=16 if kind == "conv" else 64, origin=OriginStep(inner_scale="paper"), **siren
    )
    model = build_model(config).train()

    z_ref, out_ref = paper_step(model.decoder, x, config.latent_dim, reduce)
    reduce(out_ref, x).mean().backward()
    grads_ref = parameter_grads(model)
    model.zero_grad()

    z = model.encode(x)
    reduce(model.decode(z), x).mean().backward()
    grads = parameter_grads(model)

    assert relative_error(z, z_ref) < 1e-5
    assert len(grads) == len(grads_ref) == len(list(model.parameters()))
    for g, g_ref in zip(grads, grads_ref):
        assert relative_error(g, g_ref) < 1e-5
    assert z.abs().mean() > 0  # a real, non-trivial latent


def test_variational_step_matches_paper(digits32):
    # Variational-GON.py: vae_loss(...).mean() over the batch, reparameterised in both passes.
    config = ModelConfig(kind="variational", hidden_features=8, origin=OriginStep(inner_scale="paper"))
    model = build_model(config).train()
    x = digits32

    def elbo(output, x):
        logits, mu, logvar = output
        bce = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)

    torch.manual_seed(1)
    z_ref, out_ref = paper_step(model.decoder, x, config.latent_dim, elbo)
    elbo(out_ref, x).mean().backward()
    grads_ref = parameter_grads(model)
    model.zero_grad()

    torch.manual_seed(1)
    loss = model.loss(x)
    loss.backward()
    grads = parameter_grads(model)
    assert relative_error(torch.cat([g.flatten() for g in grads]), torch.cat([g.flatten() for g in grads_ref])) < 1e-5
    total = torch.cat([g.flatten() for g in grads_ref]).norm()
    for g, g_ref in zip(grads, grads_ref):
        # biases in front of GroupNorm have an exactly-zero gradient, computed as float
        # noise (~1e-8 of the total) that differs between the two formulations
        assert (g - g_ref).norm() <= 1e-4 * max(g_ref.norm(), 1e-3 * total)


def test_detach_cuts_second_order_terms(digits32):
    # Detached (the paper's ablation): parameter gradients are those of decoding a constant
    # latent; attached, the gradient also flows back through the encoding.
    def grads(detach):
        torch.manual_seed(0)
        model = build_model(ModelConfig(kind="conv", origin=OriginStep(detach=detach))).train()
        model.loss(digits32).backward()
        z = model.encode(digits32).detach()
        model.zero_grad()
        return (
            model,
            parameter_grads_of(model, lambda: model.loss(digits32)),
            parameter_grads_of(model, lambda: model.outer_loss(model.decode(z), digits32).mean()),
        )

    def parameter_grads_of(model, loss_fn):
        model.zero_grad()
        loss_fn().backward()
        return [p.grad.clone() for p in model.parameters()]

    def largest_difference(a, b):
        return max(relative_error(x, y) for x, y in zip(a, b))

    _, detached, constant = grads(True)
    _, attached, constant_attached = grads(False)
    assert largest_difference(detached, constant) < 1e-6
    assert largest_difference(attached, constant_attached) > 0.1


def test_multistep_descends_the_inner_loss(digits32):
    # Several inner steps from the origin (the paper's multi-step baseline) keep lowering
    # the inner loss of a real batch.
    model = build_model(ModelConfig(kind="conv")).eval()
    losses = []
    for steps in (1, 2, 5):
        step = OriginStep(steps=steps, step_size=0.1, inner_scale=1.0)
        z = gradient_origin(model.decode, digits32, model.inner_loss, (model.latent_dim,), step, create_graph=False)
        losses.append(model.inner_loss(model.decode(z), digits32).mean().item())
    assert losses[2] < losses[1] < losses[0]


def _encode(model, x, step, create_graph=False):
    return gradient_origin(model.decode, x, model.inner_loss, (model.latent_dim,), step, create_graph=create_graph)


def test_backtracking_steps_never_encode_worse_than_the_first(digits28):
    # A scale too large for ten plain steps (they overshoot on every sample of this batch) is
    # harmless with backtracking: every sample ends at or below the first step's loss, the
    # GON's own latent, and the later steps still help.
    x = digits28[:32]
    model = build_model(ModelConfig(kind="modulated")).eval()

    def losses(steps, descent="backtracking"):
        step = OriginStep(steps=steps, inner_scale=1.0, descent=descent)
        with torch.no_grad():
            return model.inner_loss(model.decode(_encode(model, x, step)), x)

    first, plain, backtracked = losses(1), losses(10, "plain"), losses(10)
    assert (plain > first).all()
    assert (backtracked <= first * (1 + 1e-5)).all()
    assert backtracked.mean() < 0.5 * first.mean()


def test_backtracking_keeps_the_second_order_graph_and_batch_independence(digits32):
    model = build_model(ModelConfig(kind="conv", hidden_features=8)).train()
    step = OriginStep(steps=4, inner_scale=3.0)
    z = _encode(model, digits32, step, create_graph=True)
    model.inner_loss(model.decode(z), digits32).mean().backward()
    grads = parameter_grads(model)
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    # each sample's steps are its own: a sample encodes alike alone and in its batch
    model.eval()
    alone = _encode(model, digits32[3:4], step)
    assert torch.allclose(alone, _encode(model, digits32, step)[3:4], atol=1e-5)


def test_backtracking_gives_finite_gradients_where_plain_steps_blow_up(digits28):
    # at a scale where plain steps reach inf, the steps taken back leave no NaN in the graph
    x = digits28[:16]
    model = build_model(ModelConfig(kind="modulated")).train()
    for descent, finite in (("plain", False), ("backtracking", True)):
        model.zero_grad()
        z = _encode(model, x, OriginStep(steps=10, inner_scale=1e3, descent=descent), create_graph=True)
        model.inner_loss(model.decode(z), x).mean().backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert all(torch.isfinite(g).all() for g in grads) == finite


def test_runs_written_before_backtracking_load_with_plain_steps():
    recorded = ModelConfig(kind="conv", origin=OriginStep(steps=10, step_size=0.1)).to_dict()
    assert recorded["origin"]["descent"] == "backtracking"  # the default, recorded
    del recorded["origin"]["descent"]
    assert ModelConfig.from_dict(recorded, recorded=True).origin.descent == "plain"
    assert ModelConfig.from_dict(recorded).origin.descent == "backtracking"  # a config a user writes


def test_origin_noise_and_descent_form(digits32):
    model = build_model(ModelConfig(kind="conv", origin=OriginStep(inner_scale="paper"))).eval()
    base = model.step

    def encode(**kw):
        step = OriginStep(**{**base.__dict__, **kw})
        g = torch.Generator().manual_seed(3)
        return gradient_origin(model.decode, digits32, model.inner_loss, (32,), step, create_graph=False, generator=g)

    plain = encode()
    # without noise the two forms coincide (z0 = 0)
    assert torch.allclose(encode(latent_form="descent"), plain)
    noisy_neg, noisy_descent = encode(origin_std=0.5), encode(origin_std=0.5, latent_form="descent")
    z0 = 0.5 * torch.randn((64, 32), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(noisy_descent - noisy_neg, z0, atol=1e-6)
    assert not torch.allclose(noisy_neg, plain)


@pytest.mark.parametrize(
    "bad",
    [dict(steps=0), dict(step_size=0.0), dict(origin_std=-1.0), dict(latent_form="sideways"), dict(inner_scale=0.0)],
)
def test_bad_step_values_are_rejected(bad):
    with pytest.raises(GONError):
        OriginStep(**bad)


def test_shared_origin_is_used_only_where_exact_and_cheaper():
    def path(batch=256, **kw):
        return build_model(ModelConfig.from_dict(kw)).train().origin_path(batch)

    assert path(kind="conv").startswith("shared")
    assert path(kind="implicit", hidden_features=16).startswith("shared")
    assert path(2, kind="implicit", hidden_features=16).startswith("shared")
    # the conv Jacobian costs about 2k samples of work: not worth it for small batches
    assert "cost" in path(64, kind="conv") and path(65, kind="conv").startswith("shared")
    assert "BatchNorm" in path(kind="conv", norm="batch")
    assert build_model(ModelConfig(kind="conv", conv=ConvOptions("batch"))).eval().origin_path(256).startswith("shared")
    assert path(kind="conv", inner_steps=2).startswith("general")
    assert path(kind="conv", origin_std=0.1).startswith("general")
    assert path(kind="variational").startswith("general")


@pytest.mark.parametrize("kind,images", [("conv", "digits32"), ("implicit", "digits28")])
@pytest.mark.parametrize("detach", [False, True])
def test_shared_origin_equals_general_path(kind, images, detach, request):
    x = request.getfixturevalue(images)[:24]
    # latent_dim 8: the conv Jacobian (cost 2k = 16 samples) is used for this batch of 24
    siren = {"siren": SirenOptions(num_layers=2)} if kind == "implicit" else {}  # an option of implicit models only
    model = build_model(
        ModelConfig(
            kind=kind, hidden_features=16, latent_dim=8, origin=OriginStep(detach=detach, inner_scale="paper"), **siren
        )
    ).train()
    assert model.origin_path(len(x)).startswith("shared")
    general_decoder = lambda z: model.decoder(z)  # noqa: E731 - hides origin_jacobian: the general path

    def latent_and_grads(decoder):
        model.zero_grad()
        z = gradient_origin(decoder, x, model.inner_loss, (model.latent_dim,), model.step, create_graph=True)
        model.outer_loss(model.decoder(z), x).mean().backward()
        return z.detach(), [p.grad.clone() for p in model.parameters()]

    z_fast, grads_fast = latent_and_grads(model.decoder)
    z_ref, grads_ref = latent_and_grads(general_decoder)
    assert relative_error(z_fast, z_ref) < 1e-5
    total = torch.cat([g.flatten() for g in grads_ref]).norm()
    for g, g_ref in zip(grads_fast, grads_ref):
        assert (g - g_ref).norm() <= 1e-5 * max(g_ref.norm(), 1e-3 * total)


def test_shared_origin_on_a_coordinate_subset(digits28):
    from gon.decoders import CoordinateSubset

    model = build_model(
        ModelConfig(
            kind="implicit",
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
            origin=OriginStep(inner_scale="paper"),
        )
    ).train()
    index = torch.randperm(28 * 28)[:100]
    subset = CoordinateSubset(model.decoder, model.decoder.grid[index])
    target = digits28[:16].flatten(2)[:, :, index]
    fast = gradient_origin(subset, target, model.inner_loss, (32,), model.step, create_graph=False)
    general = gradient_origin(lambda z: subset(z), target, model.inner_loss, (32,), model.step, create_graph=False)
    assert relative_error(fast, general) < 1e-5
