"""The speed benchmark compares the same maths three ways, and prints its figures."""

import json

import pytest
import torch

from benchmarks.__main__ import main
from benchmarks.speed import SpeedConfig, paper_inner_outer, setup


@pytest.mark.parametrize("kind,per_image", [("conv", 32 * 32), ("implicit", 1), ("variational", 1)])
def test_reference_formulation_is_the_library_loss(kind, per_image):
    # At batch 64 the paper's formulation and the library's step give the same loss (up to
    # the paper's per-pixel normalisation of the conv loss): the benchmark times equal work.
    torch.manual_seed(0)
    model, config, x, _ = setup(SpeedConfig(kind=kind, batch_size=64))
    if kind == "variational":
        model.eval()  # deterministic reparameterisation, so both sides see the same noise (none)
    elif kind == "implicit":
        model.decoder.hidden = model.decoder.hidden[:1]  # smaller network, same structure
    paper = paper_inner_outer(model, config, x).item()
    library = model.loss(x).item() / per_image
    assert paper == pytest.approx(library, rel=1e-4)


def test_bench_speed_prints_json(capsys):
    assert main(["speed", "--model", "conv", "--repeats", "2", "--no-memory", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["reference"] > 0 and result["gon"] > 0 and result["plain"] > 0
    assert result["config"]["batch_size"] == 64 and result["config"]["origin_path"].startswith("general")
    assert result["encode_exported_images_per_s"] > 0
