"""Streamed data sets (memory-mapped IDX, per-batch folder decoding) equal in-memory ones."""

import gzip
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

import gon.data.idx
from gon.data import LazyImages, load_data
from gon.errors import GONError

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(gon.data.idx, "IDX_CACHE", tmp_path / "cache")


def same_data(a, b):
    assert len(a) == len(b) and a.shape == b.shape
    for index in (slice(0, 64), torch.tensor([len(a) - 1, 3, 17, 3]), torch.randperm(len(a))[:50]):
        assert torch.equal(a.batch(index), b.batch(index))
    assert (a.labels is None and b.labels is None) or torch.equal(a.labels, b.labels)


@pytest.mark.parametrize("size,channels", [(None, None), (32, 1), (32, 3)])
def test_gzip_idx_stream_equals_memory(size, channels):
    memory = load_data("fashion-mnist", "test", image_size=size, channels=channels)
    streamed = load_data("fashion-mnist", "test", image_size=size, channels=channels, stream=True)
    assert isinstance(streamed.images, LazyImages)
    same_data(memory, streamed)


def test_raw_idx_is_memory_mapped_and_validated(tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((FASHION / f"{name}.gz").read_bytes()))
    same_data(
        load_data(f"idx:{tmp_path}", "test", limit=500), load_data(f"idx:{tmp_path}", "test", limit=500, stream=True)
    )
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-100])
    with pytest.raises(GONError, match="truncated"):
        load_data(f"idx:{tmp_path}", "test", stream=True)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03" + raw[4:])
    with pytest.raises(GONError, match="float32"):
        load_data(f"idx:{tmp_path}", "test", stream=True)


def test_folder_stream_equals_memory(tmp_path):
    digits = load_data("mnist5k", "test", limit=40)
    for i, (image, label) in enumerate(zip(digits.images[:, 0].numpy(), digits.labels.tolist())):
        folder = tmp_path / "set" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    spec = f"folder:{tmp_path / 'set'}"
    same_data(load_data(spec, "train", image_size=32), load_data(spec, "train", image_size=32, stream=True))


def test_streamed_training_equals_in_memory_training(tmp_path):
    from gon.config import ModelConfig, TrainConfig
    from gon.training import train

    shutil.copy(FASHION / "t10k-images-idx3-ubyte.gz", tmp_path / "train-images-idx3-ubyte.gz")
    config = ModelConfig(kind="conv", hidden_features=4, latent_dim=8)
    runs = [
        train(
            config,
            TrainConfig(data=f"idx:{tmp_path}", steps=20, batch_size=16, limit=500, stream=stream),
            progress=False,
        )
        for stream in (False, True)
    ]
    for a, b in zip(runs[0].model.parameters(), runs[1].model.parameters()):
        assert torch.equal(a, b)
