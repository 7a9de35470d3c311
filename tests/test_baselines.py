"""The paper's baselines (ae, tied-ae, glo, vae) share the GON's decoder and train like it."""

import csv

import pytest
import torch
import torch.nn.functional as F

from benchmarks.tables import ABLATIONS, Method, Preset, ablation, run_table
from gon import ClassifierOptions, GLOOptions, ModelConfig, TrainConfig, build_model, train
from gon.cli import main
from gon.data import load_data
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.models import load_model
from gon.models.baselines import GLO, TiedConvEncoder
from gon.training import fit

SMALL = dict(latent_dim=8, hidden_features=8)


@pytest.fixture(scope="module")
def digits():
    return load_data("mnist5k", "test", image_size=32, limit=64).batch(slice(0, 64))


@pytest.mark.parametrize(
    "kind, gon_kind", [("ae", "conv"), ("tied-ae", "conv"), ("glo", "conv"), ("vae", "variational")]
)
def test_baseline_decoder_is_the_gons(kind, gon_kind):
    extra = {"glo": GLOOptions(train_images=10)} if kind == "glo" else {}
    baseline = build_model(ModelConfig(kind=kind, **SMALL, **extra)).decoder.state_dict()
    gon = build_model(ModelConfig(kind=gon_kind, **SMALL)).decoder.state_dict()
    assert {k: v.shape for k, v in baseline.items()} == {k: v.shape for k, v in gon.items()}


def test_tied_encoder_is_the_adjoint_of_the_decoder():
    model = build_model(ModelConfig(kind="tied-ae", **SMALL))
    encoder: TiedConvEncoder = model.encoder
    assert not any("weight" in name for name, _ in encoder.named_parameters() if "norms" not in name)
    first = model.decoder.net[0]  # ConvTranspose2d(k, 4f, 4, 1, 0): 1x1 -> 4x4
    z, y = torch.randn(3, 8, 1, 1), torch.randn(3, first.out_channels, 4, 4)
    forward = (F.conv_transpose2d(z, first.weight, None, first.stride, first.padding) * y).sum()
    adjoint = (z * F.conv2d(y, encoder._convs[-1].weight, None, first.stride, first.padding)).sum()
    assert torch.allclose(forward, adjoint, rtol=1e-5)
    # the encoder's gradient reaches the decoder's weights: they are one set of weights
    model.loss(torch.rand(4, 1, 32, 32)).backward()
    untied = build_model(ModelConfig(kind="ae", **SMALL))
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in untied.parameters())


@pytest.mark.parametrize("kind", ["ae", "tied-ae", "vae"])
def test_encoder_baselines_learn_real_digits(kind):
    data = load_data("mnist5k", "train", image_size=32, limit=512)
    test = load_data("mnist5k", "test", image_size=32, limit=128)
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, **SMALL))
    before = evaluate(model, test)["sse_per_image"]
    fit(model, data, TrainConfig(steps=60, lr=1e-3), progress=False)
    after = evaluate(model, test)["sse_per_image"]
    assert after < 0.6 * before, (before, after)


def test_glo_updates_only_the_codes_of_its_batch_and_encodes_by_optimisation(digits):
    data = load_data("mnist5k", "train", image_size=32, limit=256)
    torch.manual_seed(0)
    model: GLO = build_model(ModelConfig(kind="glo", glo=GLOOptions(train_images=len(data)), **SMALL))
    start = model.latents.weight.detach().clone()
    fit(model, data, TrainConfig(steps=1, lr=1e-3, batch_size=64), progress=False)
    moved = (model.latents.weight.detach() != start).any(1)
    assert moved.sum() == 64
    fit(model, data, TrainConfig(steps=80, lr=1e-3, batch_size=64, seed=1), progress=False)
    x = digits[:16]
    model.eval()
    mean_code = model.latents.weight.detach().mean(0, keepdim=True).expand(16, -1)
    with torch.no_grad():
        at_start = ((model.decode(mean_code) - x) ** 2).flatten(1).sum(1).mean()
        encoded = ((model.decode(model.encode(x)) - x) ** 2).flatten(1).sum(1).mean()
    assert encoded < 0.9 * at_start
    # Adam acts per coordinate: an image's code does not depend on the rest of the batch
    assert torch.allclose(model.encode(x[:1]), model.encode(x)[:1], atol=1e-5)


def test_glo_run_directory_round_trip(tmp_path, digits):
    run = train(
        ModelConfig(kind="glo", glo=GLOOptions(inference_steps=20), **SMALL),
        TrainConfig(data="mnist5k", steps=5, limit=128, eval_limit=32),
        tmp_path / "glo",
        progress=False,
    )
    assert run.model_config.glo.train_images == 128
    model, config, _ = load_model(tmp_path / "glo")
    assert config.glo.train_images == 128 and torch.equal(model.latents.weight, run.model.latents.weight)
    assert torch.allclose(model.encode(digits[:4]), run.model.encode(digits[:4]))


def test_baselines_refuse_gradient_origin_options():
    with pytest.raises(GONError, match="inner_steps is an option of the gradient-origin step"):
        ModelConfig.from_dict({"kind": "ae", "inner_steps": 10})
    with pytest.raises(GONError, match="needs train_images"):
        build_model(ModelConfig(kind="glo"))
    with pytest.raises(GONError, match="classifiers"):
        ModelConfig(kind="ae", classifier=ClassifierOptions(classes=10))


def test_cli_trains_a_baseline(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--model",
                "tied-ae",
                "--steps",
                "3",
                "--latent-dim",
                "8",
                "--hidden-features",
                "8",
                "--eval-limit",
                "32",
                "--out",
                str(tmp_path / "run"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "summed squared error per image" in capsys.readouterr().out
    assert main(["train", "--model", "ae", "--detach", "--out", str(tmp_path / "x"), "--quiet"]) == 2


def test_table_reports_every_method_with_error_bars(tmp_path):
    methods = (
        Method("GON", {"kind": "conv", **SMALL}),
        Method("AE", {"kind": "ae", **SMALL}),
        Method("GLO", {"kind": "glo", "inference_steps": 10, **SMALL}),
    )
    preset = Preset(steps={"mnist5k": 3}, eval_limit={"mnist5k": 32})
    result = run_table("table1", methods, "sse_per_image", "SSE per image", tmp_path, ("mnist5k",), (0, 1), preset)
    rows = result.markdown.splitlines()
    assert len(result.rows) == 6
    for label in ("GON", "AE", "GLO"):
        line = next(r for r in rows if r.startswith(f"| {label} |"))
        assert "±" in line
    with open(tmp_path / "table1.csv") as f:
        records = list(csv.DictReader(f))
    assert {r["seed"] for r in records} == {"0", "1"} and all(float(r["sse_per_image"]) > 0 for r in records)
    assert (tmp_path / "table1.md").read_text() == result.markdown


def test_ablation_writes_curves(tmp_path):
    ablation("steps", tmp_path, steps=4, eval_images=16)
    with open(tmp_path / "steps.csv") as f:
        records = list(csv.DictReader(f))
    labels = {r["label"] for r in records}
    assert labels == {c.method.label for c in ABLATIONS["steps"].curves()}
    assert all(r["step"] == "4" for r in records)  # evaluated at the end of each short run
    assert (tmp_path / "steps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
