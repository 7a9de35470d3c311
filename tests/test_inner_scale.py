"""The inner-loss scale: its rules ("calibrated", "paper", a number), where a calibrated
scale is kept, and the sweep that chose the default."""

import json

import pytest
import torch
from torch import nn

from benchmarks.inner_scale import Cell, MLPDecoder, rule_gaps, run_cell, summarise
from gon import GON, ModelConfig, OriginStep, load_model
from gon.cli import main
from gon.config import paper_inner_scale
from gon.errors import GONError
from gon.models import build_model
from gon.models.gon import CALIBRATION_SCALES
from gon.origin import gradient_origin

QUICK = [
    "--steps",
    "6",
    "--batch-size",
    "16",
    "--limit",
    "64",
    "--eval-limit",
    "32",
    "--hidden-features",
    "4",
    "--quiet",
]


def test_a_bare_gon_calibrates_on_its_first_batch_by_a_line_search(digits32):
    torch.manual_seed(0)
    model = GON(MLPDecoder(16, hidden=32), 16).train()
    assert model.step.inner_scale == "calibrated" and torch.isnan(model.calibrated_scale)
    x = digits32[:32]
    model.encode(x)
    scale = model.calibrated_scale.item()
    assert scale in [pytest.approx(t) for t in CALIBRATION_SCALES]

    def inner(t):  # the batch's mean inner loss one step of scale t from the origin
        z = gradient_origin(model.decoder, x, model.inner_loss, (16,), OriginStep(inner_scale=t), create_graph=False)
        return model.inner_loss(model.decoder(z), x).mean().item()

    # the best of its neighbours on the grid, and better than the paper's scale and than 1
    assert inner(scale) <= min(inner(scale * 10**0.25), inner(scale / 10**0.25), inner(1.5e-5), inner(1.0))
    # set once: a later batch is encoded with the same scale
    model.encode(digits32[32:])
    assert model.calibrated_scale.item() == scale


def test_a_calibrated_scale_travels_with_the_weights(digits32):
    torch.manual_seed(0)
    model = GON(MLPDecoder(16, hidden=32), 16).eval()
    z = model.encode(digits32[:16])
    torch.manual_seed(1)
    copy = GON(MLPDecoder(16, hidden=32), 16).eval()
    copy.encode(digits32[16:48])  # calibrated on another batch first ...
    copy.load_state_dict(model.state_dict())
    # ... the loaded scale replaces it, and latents agree bit for bit
    assert torch.equal(copy.encode(digits32[:16]), z)


def test_the_paper_scale_and_numbers_stay_available():
    config = ModelConfig(kind="conv", origin=OriginStep(inner_scale="paper"))
    assert config.origin.inner_scale == paper_inner_scale("conv", 32, 1)
    assert ModelConfig.from_dict({"kind": "implicit", "inner_scale": "paper"}).origin.inner_scale == 1 / 64
    assert ModelConfig.from_dict({"kind": "conv", "inner_scale": 0.5}).origin.inner_scale == 0.5
    assert ModelConfig(kind="conv").origin.inner_scale == "calibrated"
    assert ModelConfig.from_dict({"kind": "conv", "inner_scale": None}).origin.inner_scale == "calibrated"
    for bad in ("fast", -1.0, 0.0, float("nan")):
        with pytest.raises(GONError):
            OriginStep(inner_scale=bad)
    with pytest.raises(GONError, match="model kind"):
        GON(nn.Linear(4, 4), 4, OriginStep(inner_scale="paper"))


def test_an_old_run_loads_with_the_scale_it_was_trained_with():
    model, config, _ = load_model("tests/data/legacy/conv")
    assert config.origin.inner_scale == pytest.approx(paper_inner_scale("conv", 32, 1))
    assert not hasattr(model, "calibrated_scale")


def test_the_command_line_takes_a_rule_or_a_number(tmp_path, capsys):
    assert main(["train", "--data", "mnist5k", "--out", str(tmp_path / "calibrated"), *QUICK]) == 0
    saved = json.loads((tmp_path / "calibrated" / "config.json").read_text())
    assert saved["model"]["origin"]["inner_scale"] == "calibrated"
    model, _, _ = load_model(tmp_path / "calibrated")
    assert model.calibrated_scale.item() > 0  # set while training, stored with the weights
    assert main(["train", "--data", "mnist5k", "--inner-scale", "paper", "--out", str(tmp_path / "paper"), *QUICK]) == 0
    saved = json.loads((tmp_path / "paper" / "config.json").read_text())
    assert saved["model"]["origin"]["inner_scale"] == paper_inner_scale("conv", 32, 1)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--inner-scale", "fast", "--out", str(tmp_path / "bad"), *QUICK])
    assert exit_.value.code == 2
    assert "expected a number or one of calibrated, paper" in capsys.readouterr().err


def test_calibration_refuses_a_decoder_with_no_gradient_at_the_origin(digits32):
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.image = nn.Parameter(torch.zeros(1, 1, 32, 32))

        def forward(self, z):
            return self.image.expand(z.shape[0], -1, -1, -1) + 0 * z.sum()

    with pytest.raises(GONError, match="zero"):
        GON(Constant(), 8).encode(digits32[:4])


def test_sweep_runs_score_on_validation_digits_and_compare_rules():
    records = [run_cell(Cell("mlp", 8, scale, 1e-3, 5)) for scale in (1e-2, 1.0, "calibrated")]
    assert all(r["validation_images"] == 500 and r["validation"] > 0 for r in records)
    assert records[2]["scale_value"] > 0
    # with every fixed scale present, a rule is scored against the best of them
    fixed = [{**records[0], "scale": s, "scale_value": s} for s in (1e-4, 1e-3, 1e-1, 10.0)]
    gaps = rule_gaps(records + fixed)
    assert gaps[0]["calibrated_ratio"] == pytest.approx(records[2]["validation"] / gaps[0]["best"])
    assert "calibrated" in summarise(records)
    # a second seed of some scales: a row over both seeds compares those scales' means only
    again = [{**r, "seed": 1, "validation": 2 * r["validation"]} for r in records if r["scale"] in (1.0, "calibrated")]
    two = [g for g in rule_gaps(records + fixed + again) if g["seeds"] == [0, 1]]
    assert len(two) == 1 and two[0]["fixed_run"] == [1.0]
    assert two[0]["calibrated_ratio"] == pytest.approx(records[2]["validation"] / records[1]["validation"])
    assert "| mlp | 8 | 0.001 | 0, 1 | 1 |" in summarise(records + fixed + again)


def test_a_library_model_calibrates_while_training(digits32):
    model = build_model(ModelConfig(kind="conv", hidden_features=4)).train()
    model.loss(digits32)
    assert model.calibrated_scale.item() > 0


def test_the_chosen_scale_is_logged_recorded_and_reported(tmp_path, caplog):
    import logging

    from gon.report import write_report

    caplog.set_level(logging.INFO, logger="gon")
    out = tmp_path / "run"
    assert main(["train", "--data", "mnist5k", "--out", str(out), *QUICK]) == 0
    model, _, document = load_model(out)
    scale = model.calibrated_scale.item()
    assert document["resolved_step"] == {"inner_steps": 1, "inner_scale": scale, "inner_scale_rule": "calibrated"}
    start = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("training conv ("))
    assert start.endswith(f"; 1 inner step(s), inner scale {scale:.4g} (calibrated)"), start
    assert f"<td>inner_scale</td><td>calibrated: {scale:.4g}</td>" in write_report(out).read_text()


@pytest.mark.parametrize(
    "inner_scale, descent, warned", [("calibrated", "plain", 1), ("paper", "plain", 0), ("calibrated", None, 0)]
)
def test_several_plain_inner_steps_with_the_calibrated_scale_are_warned_once(inner_scale, descent, warned, caplog):
    import logging

    from gon import TrainConfig, fit, load_data

    data = load_data("mnist5k", "train", image_size=32, limit=32)
    model = build_model(
        ModelConfig(
            kind="conv",
            hidden_features=4,
            origin=OriginStep(steps=2, step_size=0.1, inner_scale=inner_scale, descent=descent),
        )
    )
    caplog.set_level(logging.INFO, logger="gon")
    fit(model, data, TrainConfig(steps=3, batch_size=16), progress=False)
    said = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "2 plain inner steps with the calibrated" in r.getMessage()
    ]
    assert len(said) == warned
