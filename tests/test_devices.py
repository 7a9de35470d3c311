"""Devices, precision, torch.compile and the progress bar: what works, and clear refusals for what cannot."""

import pytest
import torch

from gon.cli import main
from gon.config import ModelConfig, TrainConfig
from gon.decoders import ConvOptions
from gon.errors import GONError
from gon.models import build_model
from gon.training import data_for_model, fit

MODEL = ModelConfig(kind="conv", hidden_features=4, latent_dim=8)


def _fit(config, progress=False, model_config=MODEL):
    torch.manual_seed(0)
    model = build_model(model_config)
    history = fit(model, data_for_model("mnist5k", "train", model_config, limit=128), config, progress=progress)
    return model, history


def test_bf16_autocast_trains_through_the_double_backward_on_cpu():
    config = dict(steps=6, batch_size=32, log_every=1, device="cpu")
    _, fp32 = _fit(TrainConfig(**config))
    model, bf16 = _fit(TrainConfig(**config, precision="bf16"))
    # the autocast forward, gradient-origin step included, stays within 1% of fp32 and learns as fast
    assert [r["loss"] for r in bf16] == pytest.approx([r["loss"] for r in fp32], rel=1e-2)
    assert bf16[-1]["loss"] < 0.97 * bf16[0]["loss"]
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())


def test_fp16_on_cpu_is_refused_in_one_line(capsys):
    code = main(
        [
            "train",
            "--device",
            "cpu",
            "--precision",
            "fp16",
            "--steps",
            "1",
            "--limit",
            "64",
            "--batch-size",
            "32",
            "--hidden-features",
            "4",
            "--out",
            "unused",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == (
        "gon: error: --precision fp16 needs a CUDA device (this run is on cpu); use bf16 or fp32"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(GONError, match="--device cuda: no CUDA device is available"):
        _fit(TrainConfig(steps=1, batch_size=32, device="cuda"))


def test_compile_refuses_the_double_backward():
    with pytest.raises(GONError, match="torch.compile does not support the double backward"):
        _fit(TrainConfig(steps=1, batch_size=32, device="cpu", compile=True))


def test_sync_batchnorm_needs_batchnorm_and_single_differentiation():
    with pytest.raises(GONError, match="needs a model with BatchNorm"):
        _fit(TrainConfig(steps=1, batch_size=32, device="cpu", sync_batchnorm=True))
    with pytest.raises(GONError, match="cannot be differentiated twice"):
        _fit(
            TrainConfig(steps=1, batch_size=32, device="cpu", sync_batchnorm=True),
            model_config=ModelConfig(kind="conv", hidden_features=4, latent_dim=8, conv=ConvOptions(norm="batch")),
        )


def test_unknown_device_and_precision_are_config_errors():
    with pytest.raises(GONError, match="device must be one of auto, cpu, cuda, mps"):
        TrainConfig(device="tpu")
    with pytest.raises(GONError, match="precision must be one of fp32, bf16, fp16"):
        TrainConfig(precision="fp8")


def test_progress_bar_counts_steps_and_shows_the_loss(capsys):
    _, history = _fit(TrainConfig(steps=4, batch_size=32, log_every=2, device="cpu"), progress=True)
    bar = capsys.readouterr().err.strip().split("\r")[-1]
    assert "4/4" in bar and ("step/s" in bar or "s/step" in bar)  # rate, with elapsed and remaining time
    assert f"loss={history[-1]['loss']:.3f}" in bar
