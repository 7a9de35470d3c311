"""Modulated implicit GONs: tiles, shift modulations and learned inner step sizes, all through
the one gradient-origin step; real digits (mnist5k) and real recordings (the sounds set)."""

import dataclasses
import math

import pytest
import torch

from gon import ModelConfig, build_model, gradient_origin
from gon.cli import main
from gon.data import load_sounds
from gon.decoders import ModulationOptions, SirenOptions
from gon.errors import GONError
from gon.models import load_model
from gon.origin import OriginStep
from gon.signals.sound import SoundSettings
from gon.tiling import Tiling, cell_grid

RATE, SECONDS = 8000, 0.25


@pytest.fixture(scope="module")
def clips(sounds_dir):
    return load_sounds("sounds", "test", RATE, SECONDS).batch(slice(0, 6))


@pytest.mark.parametrize(
    "size,tile",
    [((2000,), (200,)), ((2000,), (300,)), ((28, 28), (7, 7)), ((28, 28), (10, 12)), ((4, 6, 6), (2, 3, 4))],
)
def test_split_and_join_are_inverse_and_tiles_are_local(size, tile):
    tiling = Tiling(size, tile)
    x = torch.randn(3, 2, *size)
    tiles = tiling.split(x)
    assert tiles.shape == (3 * tiling.count, 2, *tile)
    assert torch.equal(tiling.join(tiles), x)
    # the first tile of the second signal is that signal's first corner
    assert torch.equal(
        tiles[tiling.count][(slice(None), *[slice(0, min(t, s)) for t, s in zip(tile, size)])],
        x[1][(slice(None), *[slice(0, min(t, s)) for t, s in zip(tile, size)])],
    )


def test_locate_gives_the_training_points_on_the_training_grid():
    tiling = Tiling((28, 28), (7, 7))
    which, local = tiling.locate((28, 28), torch.arange(28 * 28))
    # the point (r, c) lies in tile (r // 7, c // 7) at the cell centre of its offset
    r, c = torch.arange(28 * 28) // 28, torch.arange(28 * 28) % 28
    assert torch.equal(which, (r // 7) * 4 + c // 7)
    grid = cell_grid((7, 7))
    assert torch.allclose(local.float(), grid[(r % 7) * 7 + c % 7], atol=1e-6)


def test_a_tile_longer_than_an_axis_is_cut_to_it():
    # an 80-sample clip with the kind's 200-sample tile: one tile of the whole clip
    model = build_model(
        ModelConfig(
            kind="audio-modulated",
            sound=SoundSettings(sample_rate=RATE, clip_seconds=0.01),
            modulation=ModulationOptions(tile=200, basis_features=8),
            latent_dim=8,
            hidden_features=16,
        )
    )
    assert model.tiling.tile == (80,) and model.tiling.count == 1
    with pytest.raises(GONError, match="larger than the signal"):
        Tiling((80,), (200,))


@pytest.mark.parametrize("detach", [False, True])
def test_modulated_shared_origin_equals_general_path(clips, detach):
    model = build_model(
        ModelConfig(
            kind="audio-modulated",
            sound=SoundSettings(RATE, SECONDS),
            modulation=ModulationOptions(tile=250),
            latent_dim=8,
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
            origin=OriginStep(detach=detach, inner_scale=1.0),
        )
    ).train()
    tiles = model.tiling.split(clips)
    assert model.origin_path(len(clips)).startswith("shared")
    general = lambda z: model.decoder(z)  # noqa: E731 - hides origin_jacobian: the general path

    def latent_and_grads(decoder):
        model.zero_grad()
        z = gradient_origin(
            decoder, tiles, model.inner_loss, (8,), model.step, create_graph=True, step_sizes=model.step_sizes()
        )
        model.outer_loss(model.decoder(z), tiles).mean().backward()
        return z.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    z_fast, grads_fast = latent_and_grads(model.decoder)
    z_ref, grads_ref = latent_and_grads(general)
    assert float((z_fast - z_ref).norm() / z_ref.norm()) < 1e-5
    assert len(grads_fast) == len(grads_ref)
    for g, g_ref in zip(grads_fast, grads_ref):
        assert (g - g_ref).norm() <= 1e-4 * g_ref.norm().clamp_min(1e-8)


def test_tiled_encoding_is_the_step_on_each_tile_alone(clips):
    """A tile's latent depends on that tile only: encoding one tile of a clip gives the same latent."""
    model = build_model(
        ModelConfig(
            kind="audio-modulated",
            sound=SoundSettings(RATE, SECONDS),
            modulation=ModulationOptions(tile=500),
            latent_dim=8,
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
        )
    ).eval()
    z = model.encode(clips).reshape(len(clips), model.tiling.count, 8)
    changed = clips.clone()
    changed[:, :, 500:1000] = 0  # the second tile silenced: only its latents move
    z2 = model.encode(changed).reshape(len(clips), model.tiling.count, 8)
    assert torch.allclose(z[:, [0, 2, 3]], z2[:, [0, 2, 3]], atol=1e-6)
    assert not torch.allclose(z[:, 1], z2[:, 1])


def test_render_on_the_training_grid_is_decode_and_renders_any_rate(clips):
    model = build_model(
        ModelConfig(
            kind="audio-modulated",
            sound=SoundSettings(RATE, SECONDS),
            modulation=ModulationOptions(tile=200),
            latent_dim=8,
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
        )
    ).eval()
    z = model.encode(clips)
    with torch.no_grad():
        decoded = model.decode(z).clamp(-1, 1)
    assert torch.allclose(model.render(z, clips.shape[-1]), decoded, atol=1e-5)
    high = model.render(z, 4 * clips.shape[-1])
    assert high.shape == (len(clips), 1, 4 * clips.shape[-1]) and bool(torch.isfinite(high).all())
    # every fourth point of the 4x render sits between training samples: the render is the same
    # smooth function, so it stays close to the decoded clip where both are sampled near one point
    near = high[..., 1::4]
    assert float((near - decoded).abs().mean()) < float(decoded.abs().mean()) + 1e-3


def test_image_tiles_render_at_any_resolution(digits28):
    model = build_model(
        ModelConfig(
            kind="modulated",
            modulation=ModulationOptions(tile=7),
            latent_dim=8,
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
        )
    ).eval()
    x = digits28[:4]
    z = model.encode(x)
    assert z.shape == (4, 16 * 8) and model.latent_dim == 128
    with torch.no_grad():
        assert torch.allclose(model.render(z, 28), model.decode(z).clamp(0, 1), atol=1e-5)
    assert model.render(z, 64).shape == (4, 1, 64, 64)


def test_learned_step_sizes_train_and_are_saved(clips, tmp_path):
    config = ModelConfig(
        kind="audio-modulated",
        sound=SoundSettings(RATE, SECONDS),
        modulation=ModulationOptions(tile=200),
        latent_dim=8,
        hidden_features=16,
        siren=SirenOptions(num_layers=2),
        origin=OriginStep(steps=2),
    )
    model = build_model(config).train()
    assert model.step.step_sizes == "learned" and model.log_step_sizes.shape == (2, 8)
    model(clips).backward()
    assert bool(model.log_step_sizes.grad.abs().gt(0).all())  # every step and dimension gets a gradient
    with torch.no_grad():
        model.log_step_sizes.add_(0.3)
    model.save_pretrained(tmp_path / "m")
    loaded, loaded_config, _ = load_model(tmp_path / "m")
    assert torch.equal(loaded.log_step_sizes, model.log_step_sizes)
    assert torch.allclose(loaded.eval().encode(clips), model.eval().encode(clips), atol=1e-6)
    # a kind whose default is fixed keeps no step-size parameters unless asked
    assert not hasattr(build_model(ModelConfig(kind="conv")), "log_step_sizes")
    assert build_model(ModelConfig(kind="conv", origin=OriginStep(step_sizes="learned"))).log_step_sizes.shape == (
        1,
        32,
    )


@pytest.mark.parametrize("steps", [1, 3])
def test_calibration_takes_the_models_own_plain_inner_steps(digits32, steps):
    """The calibrated scale is the grid's best for the model's own (plain) inner steps: a
    neighbouring scale, run through the same steps, encodes no better (for one step this is the
    line search)."""
    x = digits32[:32]
    step = OriginStep(steps=steps, step_size=0.5, descent="plain")
    model = build_model(ModelConfig(kind="conv", origin=step)).eval()
    scale = model.calibrate(x)

    def loss_at(t):
        fixed = build_model(ModelConfig(kind="conv", origin=dataclasses.replace(step, inner_scale=t)))
        fixed.load_state_dict(model.state_dict(), strict=False)
        fixed.eval()
        with torch.no_grad():
            return float(fixed.inner_loss(fixed.decode(fixed.encode(x)), x).mean())

    best = loss_at(scale)
    assert best <= loss_at(scale * 10**0.25) and best <= loss_at(scale / 10**0.25)
    with torch.no_grad():
        assert best < float(model.inner_loss(model.decode(torch.zeros(len(x), 32)), x).mean())


def test_backtracking_steps_are_calibrated_as_their_first(digits32):
    # backtracking only goes down from the first step, so the scale is the one-step GON's
    x = digits32[:32]
    scales = []
    for steps in (1, 3):
        torch.manual_seed(0)
        scales.append(build_model(ModelConfig(kind="conv", origin=OriginStep(steps=steps))).eval().calibrate(x))
    assert scales[0] == scales[1]


def test_modulated_sound_trains_evaluates_and_renders_from_the_command_line(sounds_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "audio-modulated",
                "--data",
                "sounds",
                "--sample-rate",
                str(RATE),
                "--clip-seconds",
                str(SECONDS),
                "--steps",
                "3",
                "--batch-size",
                "4",
                "--latent-dim",
                "8",
                "--hidden-features",
                "16",
                "--num-layers",
                "2",
                "--limit",
                "12",
                "--eval-limit",
                "4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    model, config, _ = load_model(out)
    assert config.modulation.tile == 200 and model.latent_dim == 8 * math.ceil(RATE * SECONDS / 200)
    assert main(["eval", str(out), "--limit", "4", "--json"]) == 0
    assert "psnr_db" in capsys.readouterr().out
    assert main(["render", str(out), "-n", "2", "--sample-rate", str(2 * RATE), "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.wav").is_file()


def test_cosine_schedule_scales_every_group_and_step_sizes_have_their_own_rate(clips):
    """The rate falls from lr to 0 over the run in every optimizer group (the network's and the
    learned step sizes'), computed from the step alone."""
    from gon.config import TrainConfig
    from gon.data import SoundData
    from gon.models.gon import STEP_SIZE_LR
    from gon.training import fit

    model = build_model(
        ModelConfig(
            kind="audio-modulated",
            sound=SoundSettings(RATE, SECONDS),
            latent_dim=8,
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
            modulation=ModulationOptions(basis_features=16),
        )
    )
    data = SoundData(load_sounds("sounds", "train", RATE, SECONDS).clips[:16], None, "clips", RATE)
    seen = []
    steps = 6
    config = TrainConfig(steps=steps, batch_size=4, lr=1e-3, lr_schedule="cosine", log_every=100)
    fit(
        model,
        data,
        config,
        progress=False,
        on_step=lambda step: seen.append([group["lr"] for group in model_optimizer_groups(model)]) and None,
    )
    factors = [0.5 * (1 + math.cos(math.pi * s / steps)) for s in range(steps)]
    assert [round(r[0] / 1e-3, 6) for r in seen] == [round(f, 6) for f in factors]
    assert [round(r[1] / STEP_SIZE_LR, 6) for r in seen] == [round(f, 6) for f in factors]


def model_optimizer_groups(model):
    # the optimizer fit made, found through the parameters' state it holds
    import gc

    from torch.optim import Adam

    for obj in gc.get_objects():
        if isinstance(obj, Adam) and any(p is model.log_step_sizes for g in obj.param_groups for p in g["params"]):
            return obj.param_groups
    raise AssertionError("no optimizer holds this model's step sizes")


def test_settings_of_another_signal_name_the_signal_that_takes_them():
    from gon.signals.video import VideoSettings

    with pytest.raises(GONError, match="give signal='video' for a video model"):
        ModelConfig(kind="modulated", video=VideoSettings(frames=8))
    assert ModelConfig(kind="modulated", signal="video", video=VideoSettings(frames=8)).data_shape[1] == 8
    with pytest.raises(GONError) as error:  # a kind that takes no video is not told to give it
        ModelConfig(kind="conv", video=VideoSettings(frames=8))
    assert "signal=" not in str(error.value)
