"""Data sources are registered, not listed: a source declared outside the library loads
through `load_data`, fits models of its signal, and trains from the command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gon.config import ModelConfig
from gon.data import Data, DataSource, ImageData, SoundData, known_specs, load_data, register_source
from gon.data.sources import SOURCES
from gon.errors import GONError
from gon.training import data_for_model

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def upside_down():
    """A source of this file's own: mnist5k's digits upside down, registered for one test."""

    def load(request):
        digits = load_data("mnist5k", request.split, request.image_size, request.channels, request.fit, request.limit)
        return ImageData(torch.flip(digits.images, dims=(2,)), digits.labels, request.name)

    source = register_source(
        DataSource("upside-down", "image", load, "upside-down (mnist5k's digits upside down)", argument="none")
    )
    yield source
    SOURCES.pop(source.scheme)


def test_a_source_registered_here_loads_through_load_data(upside_down):
    data = load_data("upside-down", "test", image_size=32, limit=10)
    digits = load_data("mnist5k", "test", image_size=32, limit=10)
    assert isinstance(data, Data) and data.name == "upside-down:test" and len(data) == 10
    assert torch.equal(data.images, torch.flip(digits.images, dims=(2,)))
    image, label = data[3]
    assert image.shape == (1, 32, 32) and label == int(digits.labels[3])
    assert torch.equal(data.subset(slice(2, 5), "part").labels, digits.labels[2:5])
    assert any(line.startswith("upside-down") for line in known_specs())
    # the registry checks what a source declares, as the kinds' does
    with pytest.raises(GONError, match="takes no argument"):
        load_data("upside-down:x")
    with pytest.raises(GONError, match="registered twice"):
        register_source(DataSource("upside-down", "image", upside_down.load, "upside-down (again)"))
    with pytest.raises(GONError, match="signal must be a signal.s name"):
        DataSource("volumes", "Volume", upside_down.load, "volumes:DIR")


def test_a_model_takes_the_signal_its_kind_takes(upside_down):
    assert data_for_model("upside-down", "test", ModelConfig(kind="implicit"), limit=4).shape == (1, 28, 28)
    with pytest.raises(GONError, match="'upside-down' holds images, and a audio-conv model trains on sounds"):
        data_for_model("upside-down", "test", ModelConfig(kind="audio-conv"))


def test_every_source_returns_the_one_dataset_contract(sounds_dir):
    images, sounds = load_data("mnist5k", "test", limit=6), load_data("sounds", "test", limit=6)
    for data, one in ((images, (1, 28, 28)), (sounds, (1, 4000))):
        assert isinstance(data, Data) and len(data) == 6 and data.shape == one
        example, label = data[1]
        assert example.dtype == torch.float32 and example.shape == one and label == int(data.labels[1])
        part = data.subset(slice(1, 4), "part")
        assert type(part) is type(data) and len(part) == 3 and torch.equal(part.batch(0), data.batch(1))
    assert isinstance(sounds, SoundData) and sounds.subset([0, 2], "two").files == (sounds.files[0], sounds.files[2])


def test_the_command_line_trains_on_a_source_registered_outside_the_library(tmp_path):
    # `gon`'s console script reads the sources the library registers; a source of one's
    # own is registered by importing its module before the command line's main runs
    out = tmp_path / "run"
    code = "import sys, toy_source; from gon.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "train",
            "--model",
            "conv",
            "--data",
            "toy:96",
            "--hidden-features",
            "4",
            "--latent-dim",
            "8",
            "--steps",
            "4",
            "--batch-size",
            "16",
            "--eval-limit",
            "32",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["train"]["data"] == "toy:96"
    held_out = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert held_out["data"] == "toy:96" and held_out["split"] == "test" and held_out["images"] == 32
    assert 0 < held_out["sse_per_image"] < 32 * 32


def test_a_signal_registered_outside_the_library_trains_evaluates_and_writes_its_examples(tmp_path):
    # tests/toy_signal.py declares a signal (its shape, value range, metric and files) and a source
    # of it; a kind that takes any 1-D signal trains on it, with no library file changed
    out = tmp_path / "run"
    code = "import sys, toy_signal; from gon.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}

    def gon(*args):
        return subprocess.run(
            [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, timeout=600
        )

    trained = gon(
        "train",
        "--model",
        "modulated",
        "--data",
        "waves:48",
        "--hidden-features",
        8,
        "--latent-dim",
        4,
        "--basis-features",
        8,
        "--steps",
        3,
        "--batch-size",
        16,
        "--out",
        out,
        "--quiet",
    )
    assert trained.returncode == 0, trained.stderr
    config = json.loads((out / "config.json").read_text())["model"]
    assert config["signal"] == "waves" and json.loads((out / "config.json").read_text())["data_shape"] == [1, 64]
    held_out = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    assert held_out["split"] == "test" and 0 < held_out["max_error"] <= 4  # two values in [-2, 2] apart
    for name in ("reconstructions", "samples", "interpolations"):
        assert (out / f"{name}.png").is_file()
        rows = np.loadtxt(out / f"{name}.csv", delimiter=",", ndmin=2)
        assert rows.shape[1] == 64 and np.abs(rows).max() <= 2
    evaluated = gon("eval", out, "--limit", 8, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "largest error:" in evaluated.stdout
    assert [set(r) for r in json.loads(evaluated.stdout.splitlines()[-1])["clips"]][0] == {
        "file",
        "sse",
        "mse",
        "max_error",
    }
    # the signal's value range is the model's: the originals (odd rows) pass beyond an image's [0, 1]
    assert np.abs(np.loadtxt(out / "reconstructions.csv", delimiter=",")[0::2]).max() > 1
