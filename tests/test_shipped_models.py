"""The models shipped inside the package: they load by name, their held-out figures
reproduce, and the command line samples and reconstructs with them without writing into
the package."""

import json
import math

import pytest
import torch

import gon
from gon.cli import main
from gon.evaluate import evaluate
from gon.models import load_model
from gon.pretrained import available, card, pretrained_dir
from gon.training import data_for_run

NAMES = ["mnist5k-conv", "mnist5k-implicit", "mnist5k-variational"]


def test_the_package_ships_a_conv_a_variational_and_an_implicit_gon_with_cards():
    assert available() == NAMES
    for name in NAMES:
        info = card(name)
        assert info["command"].startswith("gon train ") and "--threads 1" in info["command"]
        assert "CC BY-SA 3.0" in info["licence"] and info["heldout"]["images"] == 1000
        assert info["command"] in (pretrained_dir(name) / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_models_held_out_figures_reproduce(name):
    model = gon.load_pretrained(name)
    assert (
        isinstance(
            model,
            {"mnist5k-conv": gon.GON, "mnist5k-implicit": gon.ImplicitGON, "mnist5k-variational": gon.VariationalGON}[
                name
            ],
        )
        and not model.training
    )
    _, config, document = load_model(pretrained_dir(name))
    expected = card(name)["heldout"]
    metrics = evaluate(model, data_for_run(document, config), seed=document["train"]["seed"])
    # to float32 rounding: another CPU's kernels sum in another order
    for key in ("sse_per_image", "mse_per_pixel", "elbo_bits_per_dim"):
        if key in expected:
            assert math.isclose(metrics[key], expected[key], rel_tol=1e-4), (key, metrics[key], expected[key])


def test_unknown_names_are_refused_with_the_list():
    with pytest.raises(gon.GONError, match="the package ships mnist5k-conv, mnist5k-implicit, mnist5k-variational"):
        gon.load_pretrained("mnist5k-vit")


def test_gon_sample_and_reconstruct_with_a_shipped_model_write_into_the_working_directory(
    tmp_path, monkeypatch, capsys
):
    before = {p.name: p.stat().st_mtime_ns for p in pretrained_dir("mnist5k-conv").iterdir()}
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "--pretrained", "mnist5k-conv", "-n", "16"]) == 0
    assert main(["reconstruct", "--pretrained", "mnist5k-conv", "-n", "8"]) == 0
    assert main(["sample", "--pretrained", "mnist5k-variational", "-n", "4", "--out", "v.png"]) == 0
    assert main(["render", "--pretrained", "mnist5k-implicit", "-n", "2", "--resolution", "64"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "reconstructions.png",
        "render-64.png",
        "samples.png",
        "v.png",
    ]
    assert {p.name: p.stat().st_mtime_ns for p in pretrained_dir("mnist5k-conv").iterdir()} == before
    assert main(["eval", "--pretrained", "mnist5k-conv", "--limit", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sse_per_image"] > 0


def test_a_run_and_a_shipped_model_together_are_refused_in_one_line(tmp_path, capsys):
    assert main(["sample", str(tmp_path), "--pretrained", "mnist5k-conv"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["sample"]) == 2
    assert "--pretrained NAME" in capsys.readouterr().err


def test_a_shipped_model_loads_and_samples_under_inference_mode():
    model = gon.load_pretrained("mnist5k-conv")
    from gon.samplers import load_sampler

    sampler = load_sampler(pretrained_dir("mnist5k-conv"), "gaussian")
    with torch.inference_mode():
        images = model.generate(sampler.sample(4, torch.Generator().manual_seed(0)))
    assert images.shape == (4, 1, 32, 32)
