"""A model kind is one declaration: its spec says what applies to it, and everything else
is refused (from Python, the command line and a --config file alike), while runs that
recorded an inapplicable option before it was refused still load."""

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import gon.config
from gon import (
    GONError,
    LatentModel,
    ModelConfig,
    ModulationOptions,
    MonteCarloOptions,
    SirenOptions,
    TrainConfig,
    build_model,
    load_data,
    load_model,
)
from gon.cli import main
from gon.config import MODEL_KINDS, NESTED, NESTED_FLAT
from gon.kinds import KINDS, KindSpec, register_kind
from gon.training import fit, prepare_run

LEGACY = Path(__file__).parent / "data" / "legacy"


class LinearAutoencoder(LatentModel):
    """A toy kind: a linear encoder and decoder, defined here and nowhere in the library."""

    def __init__(self, config: ModelConfig) -> None:
        pixels = config.channels * config.image_size**2
        decoder = nn.Sequential(
            nn.Linear(config.latent_dim, pixels),
            nn.Sigmoid(),
            nn.Unflatten(1, (config.channels, config.image_size, config.image_size)),
        )
        super().__init__(decoder, config.latent_dim, config=config)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, config.latent_dim))

    def encode(self, x, create_graph=None):
        self.check_images(x)
        return self.encoder(x)


@pytest.fixture
def toy_kind():
    spec = register_kind(
        KindSpec(
            "toy-linear",
            LinearAutoencoder,
            dict(image_size=28, latent_dim=8, hidden_features=1, activation="elu"),
            lr=3e-3,
        )
    )
    try:
        yield spec
    finally:
        KINDS.pop(spec.name)


def test_a_kind_registered_from_outside_the_library_trains_saves_and_loads(toy_kind, tmp_path):
    assert "toy-linear" in gon.config.MODEL_KINDS and "toy-linear" not in MODEL_KINDS  # read when asked
    model_config = ModelConfig(kind="toy-linear")
    assert (model_config.image_size, model_config.latent_dim) == (28, 8)  # the spec's defaults
    with pytest.raises(GONError, match="w0 does not apply to toy-linear models"):
        ModelConfig(kind="toy-linear", siren=SirenOptions(w0=10.0))  # no group of options listed
    data = load_data("mnist5k", "train", image_size=28, limit=256)
    model, model_config, config = prepare_run(model_config, TrainConfig(steps=60, batch_size=32, log_every=20), data)
    assert config.lr == 3e-3 and isinstance(model, LinearAutoencoder)  # the spec's rate
    history = fit(model, data, config, progress=False)
    assert history[-1]["loss"] < history[0]["loss"]
    loaded = LatentModel.from_pretrained(model.save_pretrained(tmp_path / "toy"))
    x = data.batch(slice(0, 8))
    assert isinstance(loaded, LinearAutoencoder) and torch.equal(loaded.encode(x), model.encode(x))


@pytest.mark.parametrize(
    "kind,option,value",
    [
        ("implicit", "norm", "batch"),
        ("conv", "w0", 10.0),
        ("conv", "num_layers", 2),
        ("conv", "likelihood", "gaussian"),
        ("ae", "latent_lr", 0.5),
        ("conv", "coordinate_samples", 100),
        ("variational", "train_images", 10),
    ],
)
def test_an_option_that_does_not_apply_is_refused_in_python(kind, option, value):
    group, field = NESTED_FLAT[option]  # the group the option belongs to, named by its flag
    with pytest.raises(GONError, match=f"^{option} does not apply to {kind} models"):
        ModelConfig(kind=kind, **{group: NESTED[group](**{field: value})})
    with pytest.raises(GONError, match=f"^{option} does not apply to {kind} models"):
        ModelConfig.from_dict({"kind": kind, option: value})
    with pytest.raises(GONError, match=f"^{option} does not apply to {kind} models"):
        ModelConfig.from_dict({"kind": kind, group: {field: value}})


def test_a_spec_that_names_an_option_instead_of_its_group_is_refused(toy_kind):
    register_kind(KindSpec("toy-flat", LinearAutoencoder, toy_kind.defaults, lr=1e-3, options=("norm",)))
    try:
        with pytest.raises(GONError, match="takes options of no group named 'norm'.*conv, siren"):
            ModelConfig(kind="toy-flat")
    finally:
        KINDS.pop("toy-flat")


def test_the_options_of_some_kinds_are_nested_groups_that_load_flat_as_well():
    """A group of options is one dataclass under its name in the config and in config.json; the
    flat keys of the flags, of flat files and of runs written before the nesting fill the same fields."""
    nested = ModelConfig(
        kind="implicit",
        siren=SirenOptions(num_layers=3, w0=20.0),
        monte_carlo=MonteCarloOptions(coordinate_samples=256),
    )
    flat = ModelConfig.from_dict({"kind": "implicit", "num_layers": 3, "w0": 20.0, "coordinate_samples": 256})
    saved = nested.to_dict()
    assert flat == nested and ModelConfig.from_dict(saved) == nested
    assert saved["siren"] == {"num_layers": 3, "w0": 20.0, "first_w0": None} and "num_layers" not in saved
    assert ModelConfig.from_dict({**saved, "w0": 25.0}).siren.w0 == 25.0  # a flag over a --config file's value
    assert nested.value("w0") == 20.0 and nested.replaced(w0=25.0).siren == SirenOptions(3, 25.0)
    # a kind's defaults fill the grouped fields left unset
    modulated = ModelConfig(kind="audio-modulated", siren=SirenOptions(num_layers=2))
    assert modulated.modulation == ModulationOptions(tile=200, basis_features=256)
    assert modulated.siren == SirenOptions(num_layers=2, first_w0=200.0)
    with pytest.raises(GONError, match="unknown siren key"):
        ModelConfig.from_dict({"kind": "implicit", "siren": {"omega": 30}})


def test_an_option_that_does_not_apply_is_one_line_and_exit_2_from_the_command_line(tmp_path, capsys):
    assert main(["train", "--model", "implicit", "--norm", "batch", "--out", str(tmp_path / "a"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "norm does not apply to implicit models" in error and "\n" not in error
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"kind": "conv", "w0": 10}))
    assert main(["train", "--config", str(flat), "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "w0 does not apply to conv models" in capsys.readouterr().err
    assert main(["train", "--reconstruction-weight", "0.5", "--out", str(tmp_path / "c"), "--quiet"]) == 2
    assert "reconstruction_weight applies to classifiers only" in capsys.readouterr().err
    assert not any(tmp_path.glob("[abc]"))


def test_a_run_that_recorded_an_inapplicable_option_still_loads_with_one_notice(tmp_path, caplog):
    run = tmp_path / "ae"
    shutil.copytree(LEGACY / "ae", run)
    document = json.loads((run / "config.json").read_text())
    document["model"].update(w0=10.0, num_layers=7)  # what `--model ae --w0 10 ...` once recorded
    (run / "config.json").write_text(json.dumps(document))
    with caplog.at_level(logging.WARNING, logger="gon"):
        model, config, _ = load_model(run)
    notices = [r.getMessage() for r in caplog.records if "do not apply" in r.getMessage()]
    assert len(notices) == 1 and "w0=10.0" in notices[0] and "num_layers=7" in notices[0]
    assert config.siren == SirenOptions()  # ignored: the defaults, as the model was trained
    reference, _, _ = load_model(LEGACY / "ae")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


def test_every_kind_builds_from_its_spec_alone():
    for name, spec in KINDS.items():
        config = ModelConfig.from_dict({"kind": name, **({spec.sized_by_data: 4} if spec.sized_by_data else {})})
        model = build_model(config)
        assert model.config is config and model.image_shape == config.data_shape
        assert spec.origin_step == (config.origin.inner_scale is not None)  # the step resolved for GON kinds only
