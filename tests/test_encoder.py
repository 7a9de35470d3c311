"""Exported affine encoders equal gradient encoding on real digits."""

import pytest
import torch

from gon.affine_encoder import AffineEncoder, export_affine_encoder
from gon.config import ModelConfig
from gon.decoders import SirenOptions
from gon.errors import GONError
from gon.models import build_model
from gon.origin import OriginStep


def relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("kind", ["conv", "implicit", "variational"])
def test_exported_encoder_equals_gradient_encoding(kind, digits32, digits28, tmp_path):
    # num_layers is the SIREN's: an option of implicit models only
    siren = {"siren": SirenOptions(num_layers=2)} if kind == "implicit" else {}
    config = ModelConfig(kind=kind, hidden_features=8 if kind != "implicit" else 32, **siren)
    model = build_model(config).eval()
    with torch.no_grad():  # away from the initial weights, so the check is not about a special point
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    x = digits28 if kind == "implicit" else digits32
    encoder = export_affine_encoder(model, tuple(x.shape[1:]), x[:32])
    encoder.save(tmp_path / "e.safetensors")
    loaded = AffineEncoder.load(tmp_path / "e.safetensors")
    held_out = x[32:]  # images the export never saw
    assert relative_error(loaded(held_out), model.encode(held_out)) < 1e-4
    assert loaded.weight.shape == (config.latent_dim, x[0].numel())


def test_non_affine_encoders_are_refused(digits32):
    model = build_model(ModelConfig(kind="conv", hidden_features=8, origin=OriginStep(steps=3, step_size=0.1)))
    with pytest.raises(GONError, match="single gradient step"):
        export_affine_encoder(model, (1, 32, 32), digits32[:8])


def test_wrong_input_shape_and_foreign_file(digits32, tmp_path):
    model = build_model(ModelConfig(kind="conv", hidden_features=8)).eval()
    encoder = export_affine_encoder(model, (1, 32, 32), digits32[:8])
    with pytest.raises(GONError, match="shape"):
        encoder(torch.zeros(2, 1, 28, 28))
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(GONError):
        AffineEncoder.load(tmp_path / "bad.safetensors")
