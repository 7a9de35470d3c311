"""ONNX export of decoders and affine encoders, matched in onnxruntime against PyTorch on real digits."""

import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from gon.affine_encoder import export_affine_encoder
from gon.cli import main
from gon.config import ModelConfig, TrainConfig
from gon.data import load_data
from gon.decoders import SirenOptions
from gon.errors import GONError
from gon.export import export_decoder, export_encoder, export_run
from gon.models import build_model, load_model
from gon.origin import OriginStep
from gon.training import train

TINY = {
    "conv": dict(hidden_features=8),
    "variational": dict(hidden_features=8),
    "implicit": dict(hidden_features=32, siren=SirenOptions(num_layers=2)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    for kind, values in TINY.items():  # a few steps on real digits, saved without the run's figures
        run = train(
            ModelConfig(kind=kind, **values),
            TrainConfig(data="mnist5k", steps=5, batch_size=16, limit=128, eval_limit=32),
            progress=False,
        )
        run.model.save_pretrained(root / kind)
    return root


def run_onnx(path, name, array):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: array})[0]


@pytest.mark.parametrize("kind", list(TINY))
def test_decoder_matches_pytorch_on_latents_of_real_digits(runs, kind, tmp_path):
    model, config, _ = load_model(runs / kind)
    size = config.image_size
    x = load_data("mnist5k", "test", image_size=size, channels=1, limit=64).batch(slice(0, 64))
    z = model.encode(x)
    error = export_decoder(model, tmp_path / "decoder.onnx", z[:16])
    assert error < 1e-5
    # another batch size than the export's: the batch axis is dynamic
    images = run_onnx(tmp_path / "decoder.onnx", "latent", z.numpy())
    expected = model.generate(z)  # the deterministic path: posterior mean for the variational kind
    assert images.shape == (64, 1, size, size)
    np.testing.assert_allclose(images, expected.numpy(), atol=1e-5)
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0.01
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "decoder.onnx")).metadata_props}
    assert props["kind"] == kind and props["latent_dim"] == str(config.latent_dim)


def test_encoder_matches_model_encode(runs, tmp_path, digits32):
    model, _, _ = load_model(runs / "conv")
    affine = export_affine_encoder(model, (1, 32, 32), digits32)
    z = model.encode(digits32)
    error = export_encoder(affine, tmp_path / "encoder.onnx", digits32[:8], z[:8])
    latents = run_onnx(tmp_path / "encoder.onnx", "images", digits32.numpy())
    assert error < 1e-4 and latents.shape == (64, model.latent_dim)
    np.testing.assert_allclose(latents, z.numpy(), atol=1e-4 * max(1.0, z.abs().max().item()))


def test_export_run_writes_both_files_and_reports_the_differences(runs, tmp_path):
    result = export_run(runs / "implicit", tmp_path / "siren.onnx", encoder=True, limit=32)
    assert result.decoder == tmp_path / "siren.onnx" and result.encoder == tmp_path / "encoder.onnx"
    assert result.images == 32 and result.image_shape == (1, 28, 28)
    assert result.decoder_error < 1e-5 and result.encoder_error < 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder.onnx", "siren.onnx"]


def test_a_model_without_an_affine_encoder_writes_nothing(tmp_path):
    # two inner steps: the latent is no longer affine in the image
    build_model(ModelConfig(kind="conv", hidden_features=8, origin=OriginStep(steps=2))).save_pretrained(
        tmp_path / "model"
    )
    with pytest.raises(GONError, match="single gradient step"):
        export_run(tmp_path / "model", encoder=True, limit=16)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]


def test_a_mismatch_beyond_the_tolerance_is_refused_and_nothing_written(runs, tmp_path):
    model, _, _ = load_model(runs / "conv")
    z = torch.randn(8, model.latent_dim)
    with pytest.raises(GONError, match="differs from PyTorch"):  # no export meets a negative tolerance
        export_decoder(model, tmp_path / "decoder.onnx", z, tolerance=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_packages_name_the_extra(runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(GONError, match=r"gradient-origin-networks\[onnx\]"):
        export_run(runs / "conv")


def test_cli_export_onnx(runs, tmp_path, capsys):
    out = tmp_path / "conv.onnx"
    assert main(["export-onnx", str(runs / "conv"), "--out", str(out), "--encoder"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: latent (batch, 32) -> images (batch, 1, 32, 32)" in printed
    assert "max abs difference" in printed and (tmp_path / "encoder.onnx").is_file()
    assert main(["export-onnx", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gon: error: ") and len(err.strip().splitlines()) == 1
