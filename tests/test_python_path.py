"""The researcher's path in Python: data sets are torch Datasets, models take uint8 or [0, 1]
images and encode under no_grad and inference_mode, as the same latents as in eval mode."""

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import gon
from gon import GLOOptions, GONError, ModelConfig, SirenOptions, build_model, load_data

KINDS = {
    "conv": dict(kind="conv", hidden_features=8),
    "variational": dict(kind="variational", hidden_features=8, latent_dim=16),
    "implicit": dict(
        kind="implicit", hidden_features=32, siren=SirenOptions(num_layers=2), latent_dim=16, image_size=28
    ),
    "ae": dict(kind="ae", hidden_features=8),
    "glo": dict(kind="glo", hidden_features=8, glo=GLOOptions(train_images=10, inference_steps=3)),
}


def test_a_data_set_is_a_torch_dataset_of_float_images_and_labels():
    data = load_data("mnist5k", "test", image_size=32)
    assert isinstance(data, Dataset) and len(data) == 1000
    image, label = data[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and isinstance(label, int)
    assert 0 <= image.min() and image.max() <= 1 and image.max() > 0.9
    assert torch.equal(image, data.batch(0)) and label == int(data.labels[0])
    assert data[-1][1] == int(data.labels[999])
    images, labels = data[10:14]
    assert images.shape == (4, 1, 32, 32) and torch.equal(labels, data.labels[10:14])
    assert torch.equal(data[[3, 1]][0], data.batch([3, 1]))
    with pytest.raises(IndexError):
        data[1000]
    with pytest.raises(TypeError):
        data[0.5]


def test_a_dataloader_with_workers_gives_the_same_batches_as_the_library():
    data = load_data("mnist5k", "test", image_size=32, limit=96)
    batches = list(DataLoader(data, batch_size=32, num_workers=2))
    assert len(batches) == 3
    images = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert torch.equal(images, data.batch(slice(0, 96))) and torch.equal(labels, data.labels)


def test_a_data_set_without_labels_gives_images_alone(tmp_path):
    import numpy as np

    digits = load_data("mnist5k", "test", limit=8).images.numpy()
    np.savez(tmp_path / "x.npz", images=digits[:, 0])
    data = load_data(f"npz:{tmp_path / 'x.npz'}", "train")
    assert data.labels is None and data[0].shape == (1, 28, 28)
    assert torch.equal(next(iter(DataLoader(data, batch_size=8))), data.batch(slice(0, 8)))


def test_streamed_data_are_a_dataset_too(tmp_path):
    import pickle
    from pathlib import Path

    from PIL import Image

    digits = load_data("mnist5k", "test", limit=6).images
    for i, digit in enumerate(digits):
        Image.fromarray(digit[0].numpy()).save(tmp_path / f"{i}.png")
    data = load_data(f"folder:{tmp_path}", "train", stream=True)
    x = next(iter(DataLoader(data, batch_size=len(data), num_workers=2)))
    assert x.shape[1:] == (1, 28, 28) and torch.equal(x, data.batch(slice(0, len(data))))
    # workers started by spawn or forkserver get the data set pickled: streamed ones too
    assert torch.equal(pickle.loads(pickle.dumps(data))[0:5], data[0:5])
    fashion = Path("/usr/share/datasets/fashion-mnist")
    if fashion.is_dir():
        streamed = load_data(f"idx:{fashion}", "test", stream=True, limit=50)
        copy = pickle.loads(pickle.dumps(streamed))
        assert torch.equal(copy[0:8][0], streamed[0:8][0]) and len(pickle.dumps(streamed)) < 100_000


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_encoding_works_under_no_grad_and_inference_mode_with_eval_latents(kind):
    config = ModelConfig(**KINDS[kind])
    model = build_model(config).eval()
    data = load_data("mnist5k", "test", image_size=config.image_size, limit=70)
    x = data.batch(slice(0, 70))  # 70 > 2k: the conv decoder's shared-origin path too
    expected = model.encode(x).detach()
    with torch.no_grad():
        assert torch.allclose(model.encode(x), expected, atol=1e-6)
    with torch.inference_mode():
        inside = data.batch(slice(0, 70))  # an inference tensor
        assert torch.allclose(model.encode(inside), expected, atol=1e-6)
        assert torch.allclose(model.encode(data.images[:70]), expected, atol=1e-6)  # uint8, converted
        images = model.reconstruct(inside)
        assert images.shape == x.shape and 0 <= images.min() and images.max() <= 1
        assert model.generate(torch.randn(3, config.latent_dim)).shape == (3, *x.shape[1:])
        if kind == "implicit":
            assert model.render(expected[:2], 40).shape == (2, 1, 40, 40)
    assert torch.allclose(model.reconstruct(x), images, atol=1e-6)


def test_a_trained_model_samples_under_inference_mode():
    from gon import GaussianSampler, encode_dataset

    model = build_model(ModelConfig(kind="conv", hidden_features=8)).eval()
    data = load_data("mnist5k", "test", image_size=32, limit=64)
    with torch.inference_mode():
        sampler = GaussianSampler.fit(encode_dataset(model, data))
        samples = model.generate(sampler.sample(5, torch.Generator().manual_seed(0)))
    assert samples.shape == (5, 1, 32, 32)


def test_images_out_of_range_or_of_another_type_are_refused_in_one_line():
    model = build_model(ModelConfig(kind="conv", hidden_features=8))
    digits = load_data("mnist5k", "test", image_size=32, limit=4).images
    with pytest.raises(GONError, match=r"must lie in \[0, 1\], got 0 to 255"):
        model.encode(digits.float())
    with pytest.raises(GONError, match=r"must lie in \[0, 1\]"):
        model(digits.float())
    with pytest.raises(GONError, match="uint8"):
        model.encode(digits.long())
    loss = model(digits)  # uint8 trains as x / 255
    assert torch.isclose(loss, model(digits.float() / 255))


def test_a_run_records_the_default_length_and_its_log_names_the_model_kind(tmp_path, caplog):
    import json
    import logging

    from gon import TrainConfig, train

    caplog.set_level(logging.INFO, logger="gon")
    # time_limit stops after the first step: the recorded length is the one asked for
    run = train(
        ModelConfig(kind="ae", hidden_features=8),
        TrainConfig(data="mnist5k", batch_size=16, limit=64, eval_limit=16, time_limit=1e-9),
        tmp_path / "ae",
        progress=False,
    )
    assert run.train_config.steps == 1000
    assert json.loads((tmp_path / "ae" / "config.json").read_text())["train"]["steps"] == 1000
    assert any(r.getMessage().startswith("training ae (") for r in caplog.records)


def test_steps_and_epochs_together_are_refused_in_one_line(tmp_path, capsys):
    from gon.cli import main

    assert main(["train", "--steps", "5", "--epochs", "1", "--out", str(tmp_path / "x")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "gon: error: give --steps or --epochs, not both: each sets the length of training"
    )
    assert not (tmp_path / "x").exists()


def test_a_model_loaded_under_inference_mode_encodes_and_one_built_there_says_why_not(tmp_path):
    saved = build_model(ModelConfig(kind="conv", hidden_features=8)).eval()
    saved.save_pretrained(tmp_path / "conv")
    x = load_data("mnist5k", "test", image_size=32, limit=4).batch(slice(0, 4))
    with torch.inference_mode():
        loaded = gon.GON.from_pretrained(tmp_path / "conv")  # its weights are still autograd's
        assert torch.equal(loaded.encode(x), saved.encode(x))
        built = build_model(ModelConfig(kind="conv", hidden_features=8)).eval()
        with pytest.raises(GONError, match=r"made under torch.inference_mode\(\).*build or load the model outside"):
            built.encode(x)
        # used outside inference mode, the same model gives the same one line, not torch's error
    with pytest.raises(GONError, match=r"made under torch.inference_mode\(\)"):
        built.encode(x)


@pytest.mark.parametrize("kind", ["conv", "variational", "implicit", "ae"])
def test_float16_bfloat16_and_float64_images_are_converted_to_the_weights_dtype(kind):
    model = build_model(ModelConfig(**KINDS[kind])).eval()
    size = model.image_shape[-1]
    x = load_data("mnist5k", "test", image_size=size, limit=4).batch(slice(0, 4))
    reference = model.reconstruct(x)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        out = model.reconstruct(x.to(dtype))
        assert out.dtype == torch.float32 and out.shape == reference.shape
        assert torch.allclose(out, reference, atol=0.05), dtype  # bfloat16 keeps 8 bits of the pixels


def test_a_config_is_made_in_a_fresh_interpreter_from_the_package_alone():
    """`import gon` loads its names lazily; a config still knows every kind (they register as
    gon.models loads, which the kind table loads on first use)."""
    import subprocess
    import sys

    code = (
        "from gon import ModelConfig, OriginStep; "
        "c = ModelConfig(kind='conv', latent_dim=8, origin=OriginStep(steps=2)); print(c.kind, c.latent_dim)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["conv", "8"]
