"""Model behaviour on real digits: batch-independent latents, learning, save/load, rendering."""

import pytest
import torch

from gon.config import ModelConfig, MonteCarloOptions, TrainConfig
from gon.decoders import ConvOptions, SirenOptions
from gon.evaluate import evaluate
from gon.models import build_model, load_model, save_model
from gon.training import data_for_model, fit

SMALL = {
    "conv": dict(kind="conv", hidden_features=8),
    "variational": dict(kind="variational", hidden_features=8, latent_dim=16),
    "implicit": dict(kind="implicit", hidden_features=48, siren=SirenOptions(num_layers=3), latent_dim=16),
}


def relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_latent_does_not_depend_on_its_batch(kind):
    # The paper averages the inner loss over the batch, so its latents scale with
    # 1/batch; here, in eval mode, image 0 gets the same latent alone or in any batch.
    config = ModelConfig(**SMALL[kind])
    model = build_model(config).eval()
    x = data_for_model("mnist5k", "test", config, limit=100).batch(slice(0, 100))
    alone = model.encode(x[:1])
    assert alone.abs().max() > 0
    for size in (2, 7, 64, 100):
        in_batch = model.encode(x[:size])[:1]
        assert relative_error(in_batch, alone) < 1e-5, size
    shuffled = model.encode(torch.cat([x[50:64], x[:1]]))[-1:]
    assert relative_error(shuffled, alone) < 1e-5


def test_paper_batchnorm_couples_samples(digits32):
    # The paper's train-mode BatchNorm: a latent changes with the rest of its batch.
    model = build_model(ModelConfig(kind="conv", conv=ConvOptions(norm="batch"))).train()
    alone = model.encode(digits32[:2], create_graph=False)[:1]
    in_batch = model.encode(digits32[:64], create_graph=False)[:1]
    assert relative_error(in_batch, alone) > 1e-2


# Trained a few hundred steps on mnist5k, each kind must at least halve its held-out
# summed squared error (measured: conv ~ 0.23x, variational ~ 0.35x, implicit ~ 0.3x).
@pytest.mark.parametrize("kind,steps,ratio", [("conv", 300, 0.5), ("variational", 300, 0.6), ("implicit", 200, 0.5)])
def test_training_lowers_validation_error(kind, steps, ratio):
    config = ModelConfig(**SMALL[kind])
    data = data_for_model("mnist5k", "train", config)
    test = data_for_model("mnist5k", "test", config, limit=200)
    torch.manual_seed(0)
    model = build_model(config)
    before = evaluate(model, test)
    history = fit(model, data, TrainConfig(steps=steps, batch_size=32, log_every=50), progress=False)
    after = evaluate(model, test)
    assert after["sse_per_image"] < ratio * before["sse_per_image"], (before, after)
    assert history[-1]["loss"] < history[0]["loss"]
    if kind == "variational":
        assert after["elbo_bits_per_dim"] < before["elbo_bits_per_dim"]


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_save_then_load_gives_identical_outputs(kind, tmp_path, digits32, digits28):
    config = ModelConfig(**SMALL[kind])
    model = build_model(config).eval()
    x = digits28 if kind == "implicit" else digits32
    with torch.no_grad():
        for p in model.parameters():  # not the initial weights: a state that only saving can carry
            p.add_(0.01 * torch.randn_like(p))
    save_model(tmp_path, model, config)
    loaded, loaded_config, _ = load_model(tmp_path)
    assert loaded_config == config
    assert torch.equal(loaded.encode(x), model.encode(x))
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))


def test_implicit_renders_any_resolution(digits28):
    model = build_model(ModelConfig(**SMALL["implicit"])).eval()
    z = model.encode(digits28[:4])
    for size in (14, 28, 57, 256):
        assert model.render(z, size).shape == (4, 1, size, size)
    # on the training grid, rendering is decoding
    assert torch.allclose(model.render(z, 28), model.reconstruct(digits28[:4]), atol=1e-6)


def test_conv_decoder_sizes_and_channels():
    for size in (28, 32, 64, 128):
        model = build_model(ModelConfig(kind="conv", image_size=size, channels=3, hidden_features=4)).eval()
        assert model.decode(torch.zeros(2, 32)).shape == (2, 3, size, size)


def test_paper_parameter_count():
    # Fig. 8 of the paper: convolutional GONs with 74k parameters (32 px, f = 16, k = 32;
    # 74,097 in the transposed convolutions and 224 in the normalisation layers).
    model = build_model(ModelConfig(kind="conv", conv=ConvOptions(norm="batch")))
    assert sum(p.numel() for p in model.parameters()) == 74_321


def test_variational_samples_from_the_prior():
    model = build_model(ModelConfig(**SMALL["variational"])).eval()
    images = model.sample_prior(8, torch.Generator().manual_seed(0))
    assert images.shape == (8, 1, 32, 32) and images.min() >= 0 and images.max() <= 1
    assert images.std(0).mean() > 0  # different latents, different images


def test_every_activation_trains_a_step(digits32):
    for activation in ("sine", "relu", "leaky_relu", "tanh", "elu", "softplus", "swish"):
        model = build_model(ModelConfig(kind="conv", hidden_features=4, activation=activation)).train()
        loss = model.loss(digits32[:8])
        loss.backward()
        assert torch.isfinite(loss)
        assert all(p.grad is not None for p in model.parameters())


def test_monte_carlo_coordinates(digits28):
    # coordinate_samples >= grid size is the full-grid loss; fewer coordinates train too
    config = ModelConfig(**SMALL["implicit"], monte_carlo=MonteCarloOptions(coordinate_samples=28 * 28))
    model = build_model(config).train()
    full = build_model(ModelConfig(**SMALL["implicit"]))
    full.load_state_dict(model.state_dict())
    full.train()
    assert model.loss(digits28).item() == pytest.approx(full.loss(digits28).item(), rel=1e-6)

    config = ModelConfig(**SMALL["implicit"], monte_carlo=MonteCarloOptions(coordinate_samples=196))
    data = data_for_model("mnist5k", "train", config)
    test = data_for_model("mnist5k", "test", config, limit=200)
    torch.manual_seed(0)
    model = build_model(config)
    before = evaluate(model, test)["sse_per_image"]
    fit(model, data, TrainConfig(steps=200, batch_size=32, log_every=50), progress=False)
    after = evaluate(model, test)["sse_per_image"]  # evaluated on the whole grid
    assert after < 0.5 * before, (before, after)


def test_an_implicit_gon_may_give_its_coordinates_a_frequency_of_their_own(digits28):
    # first_w0, as a sound's implicit GON has: unset, the image model is the one it always was
    torch.manual_seed(0)
    plain = build_model(ModelConfig(**SMALL["implicit"]))
    torch.manual_seed(0)
    faster = build_model(ModelConfig(**{**SMALL["implicit"], "siren": SirenOptions(num_layers=3, first_w0=60.0)}))
    assert plain.decoder.coordinate_scale == 1.0 and faster.decoder.coordinate_scale == 2.0
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), faster.parameters()))  # the same draw
    x = digits28[:8]
    assert relative_error(faster.decode(faster.encode(x)), plain.decode(plain.encode(x))) > 1e-2


def test_time_limit_stops_training_early():
    config = ModelConfig(**SMALL["conv"])
    data = data_for_model("mnist5k", "train", config, limit=256)
    model = build_model(config)
    # any real step takes longer than a microsecond, so training stops after the first
    history = fit(model, data, TrainConfig(steps=1000, batch_size=16, time_limit=1e-6), progress=False)
    assert history[-1]["step"] == 1
