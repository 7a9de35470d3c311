"""save_pretrained / from_pretrained: a model and its config in one directory, and back."""

import json

import pytest
import torch

from gon.config import ModelConfig, TrainConfig
from gon.decoders import SirenOptions
from gon.errors import GONError
from gon.models import GON, ImplicitGON, VariationalGON, build_model
from gon.training import train


@pytest.fixture(scope="module")
def trained():
    run = train(
        ModelConfig(kind="conv", hidden_features=8),
        TrainConfig(data="mnist5k", steps=5, batch_size=16, limit=128, eval_limit=32),
        progress=False,
    )
    return run.model.eval()


def test_round_trip_gives_identical_encodings_of_real_digits(trained, digits32, tmp_path):
    saved = trained.save_pretrained(tmp_path / "conv")
    loaded = GON.from_pretrained(saved)
    assert type(loaded) is GON and not loaded.training
    assert torch.equal(loaded.encode(digits32), trained.encode(digits32))
    assert torch.equal(loaded.generate(trained.encode(digits32)), trained.generate(trained.encode(digits32)))
    assert loaded.config == trained.config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv"]  # no staging folder left behind


def test_from_pretrained_returns_the_subclass_the_config_names(digits28, tmp_path):
    model = build_model(ModelConfig(kind="implicit", hidden_features=32, siren=SirenOptions(num_layers=2)))
    model.save_pretrained(tmp_path / "siren")
    loaded = GON.from_pretrained(tmp_path / "siren")
    assert isinstance(loaded, ImplicitGON)
    assert torch.allclose(loaded.encode(digits28), model.eval().encode(digits28))
    with pytest.raises(GONError, match="not a VariationalGON"):
        VariationalGON.from_pretrained(tmp_path / "siren")


def test_saving_into_a_run_directory_keeps_its_other_files(trained, tmp_path):
    directory = tmp_path / "run"
    directory.mkdir()
    (directory / "metrics.jsonl").write_text("{}\n")
    trained.save_pretrained(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "metrics.jsonl", "model.safetensors"]
    assert json.loads((directory / "config.json").read_text())["model"]["hidden_features"] == 8


def test_a_baseline_without_a_config_cannot_be_saved(trained, tmp_path):
    from gon.models.baselines import Autoencoder, ConvEncoder

    bare = Autoencoder(ConvEncoder(trained.latent_dim, hidden_features=8), trained.decoder, trained.latent_dim)
    with pytest.raises(GONError, match="no config to save"):
        bare.save_pretrained(tmp_path / "bare")
    assert not (tmp_path / "bare").exists()


class MyDecoder(torch.nn.Module):
    """A decoder a user writes: an MLP to 28x28 digits, with a buffer set after construction."""

    def __init__(self, latent_dim, width=64):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(latent_dim, width), torch.nn.ELU(), torch.nn.Linear(width, 28 * 28), torch.nn.Sigmoid()
        )
        self.register_buffer("calibrated", None)  # e.g. set on the first batch

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


def test_a_gon_around_a_decoder_of_ones_own_saves_and_loads_into_a_new_decoder(digits28, tmp_path):
    from gon import OriginStep

    model = GON(MyDecoder(16), 16, step=OriginStep(inner_scale=2e-3, origin_std=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):  # the user's own loop
        optimizer.zero_grad()
        model(digits28[:32]).backward()
        optimizer.step()
    model.decoder.calibrated = torch.tensor(0.5)
    model.save_pretrained(tmp_path / "mine")
    document = json.loads((tmp_path / "mine" / "config.json").read_text())
    assert document["own_decoder"]["dataclasses"]["step"]["inner_scale"] == 2e-3
    loaded = GON.from_pretrained(tmp_path / "mine", decoder=MyDecoder(16))
    assert type(loaded) is GON and not loaded.training and loaded.step == model.step
    assert torch.equal(loaded.decoder.calibrated, torch.tensor(0.5))
    expected = model.eval().encode(digits28)
    with torch.inference_mode():
        assert torch.equal(loaded.encode(digits28), expected)
        assert torch.equal(loaded.reconstruct(digits28), model.reconstruct(digits28))


def test_loading_a_gon_of_ones_own_says_what_to_pass(digits28, tmp_path):
    from gon import load_model

    GON(MyDecoder(16), 16).save_pretrained(tmp_path / "mine")
    with pytest.raises(GONError, match=r"GON.from_pretrained\(path, decoder=MyDecoder\(...\)\)"):
        GON.from_pretrained(tmp_path / "mine")
    with pytest.raises(GONError, match="around a decoder of its own"):
        load_model(tmp_path / "mine")  # and so every command that reads a run
    with pytest.raises(GONError, match=r"does not fit this MyDecoder .*wrong shape: decoder.net.0.weight \(64, 16\)"):
        GON.from_pretrained(tmp_path / "mine", decoder=MyDecoder(16, width=32))
    with pytest.raises(GONError, match="not a VariationalGON"):
        VariationalGON.from_pretrained(tmp_path / "mine", decoder=MyDecoder(16))

    def my_loss(output, x):
        return (output - x).abs().flatten(1).sum(1)

    GON(MyDecoder(16), 16, inner_loss=my_loss).save_pretrained(tmp_path / "l1")
    with pytest.raises(GONError, match="not one of gon.losses: pass it again"):
        GON.from_pretrained(tmp_path / "l1", decoder=MyDecoder(16))
    assert (
        GON.from_pretrained(tmp_path / "l1", decoder=MyDecoder(16), inner_loss=my_loss)
        .inner_loss(digits28[:2], digits28[:2])
        .eq(0)
        .all()
    )


def test_a_variational_gon_of_ones_own_keeps_its_likelihood(digits32, tmp_path):
    from gon import ConvDecoder, VariationalDecoder

    def decoder():
        return VariationalDecoder(16, ConvDecoder(16, 1, 32, 8, output="logits"))

    model = VariationalGON(decoder(), 16, likelihood="gaussian").eval()
    model.save_pretrained(tmp_path / "v")
    loaded = VariationalGON.from_pretrained(tmp_path / "v", decoder=decoder())
    assert loaded.likelihood == "gaussian" and torch.equal(loaded.log_std, model.log_std)
    assert torch.equal(loaded.encode(digits32), model.encode(digits32))


def test_a_library_folder_loads_with_no_decoder_and_refuses_one(trained, tmp_path):
    trained.save_pretrained(tmp_path / "conv")
    assert isinstance(GON.from_pretrained(tmp_path / "conv"), GON)
    with pytest.raises(GONError, match="holds a library model"):
        GON.from_pretrained(tmp_path / "conv", decoder=MyDecoder(16))


def test_foreign_or_truncated_directories_are_refused(trained, tmp_path):
    with pytest.raises(GONError, match="no such run directory"):
        GON.from_pretrained(tmp_path / "missing")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "config.json").write_text('{"name": "bert"}')
    with pytest.raises(GONError, match="not a config of this library"):
        GON.from_pretrained(tmp_path / "foreign")
    saved = trained.save_pretrained(tmp_path / "truncated")
    weights = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(GONError, match="not a valid safetensors file"):
        GON.from_pretrained(saved)


@pytest.mark.parametrize("kind", ["conv", "ae"])
def test_run_directories_written_before_the_restructure_still_load(kind):
    # written by the flat-layout library (config.json with flat step keys), with the latents
    # it gave for the first 8 mnist5k test digits. The weights must load bit for bit; the
    # latents are compared to float32 rounding (relative to their scale), because another
    # CPU's conv kernels round differently (measured: 5-7e-7 of the largest latent)
    from pathlib import Path

    from safetensors.torch import load_file

    from gon import load_data, load_model

    directory = Path(__file__).parent / "data" / "legacy" / kind
    model, config, _ = load_model(directory)
    x = load_data("mnist5k", "test", image_size=32, limit=8).batch(slice(0, 8))
    weights = load_file(str(directory / "model.safetensors"))
    state = model.state_dict()
    assert config.kind == kind and sorted(weights) == sorted(state)
    assert all(torch.equal(weights[name], state[name]) for name in weights)
    expected = load_file(str(directory / "latents.safetensors"))["latents"]
    latents = model.encode(x).detach()
    assert latents.shape == expected.shape
    assert (latents - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_a_hugging_face_hub_repository_loads_offline_from_the_local_cache(trained, digits32, tmp_path, monkeypatch):
    import shutil

    pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants

    # no network in the tests: the Hub client's offline mode reads its own cache, laid out here
    # as a download would leave it (refs/main naming the snapshot of that commit)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # "someone/tiny-gon" is no folder here
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--someone--tiny-gon"
    shutil.copytree(trained.save_pretrained(tmp_path / "saved"), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    loaded = GON.from_pretrained("someone/tiny-gon")
    assert torch.equal(loaded.encode(digits32), trained.encode(digits32))
    GON(MyDecoder(16), 16).save_pretrained(tmp_path / "mine")
    shutil.copytree(tmp_path / "mine", repo.with_name("models--someone--mine") / "snapshots" / commit)
    (repo.with_name("models--someone--mine") / "refs").mkdir()
    (repo.with_name("models--someone--mine") / "refs" / "main").write_text(commit)
    assert GON.from_pretrained("someone/mine", decoder=MyDecoder(16)).latent_dim == 16
    with pytest.raises(GONError, match="someone/absent: not a local folder, and the Hugging Face Hub repository could"):
        GON.from_pretrained("someone/absent")
