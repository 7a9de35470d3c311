"""Hostile bytes: every loader answers random and truncated input with a data set or the
library's own GONError, never another exception (property-based, hypothesis)."""

import functools
import gzip
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gon.config import MODEL_KINDS, ModelConfig, TrainConfig
from gon.data import load_data
from gon.errors import GONError
from gon.models import build_model, load_model, save_model

FASHION = Path("/usr/share/datasets/fashion-mnist")
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


IDX_BYTES = 16 + 20 * 28 * 28  # header + 20 images


@functools.cache
def real_idx() -> bytes:
    """The first 20 Fashion-MNIST test images as an IDX file, read when a test needs them
    (not at import: collection must not depend on the data set)."""
    path = FASHION / "t10k-images-idx3-ubyte.gz"
    if not path.is_file():
        pytest.skip(f"{path} is not installed (scripts/setup.sh)")
    raw = bytearray(gzip.decompress(path.read_bytes())[:IDX_BYTES])
    raw[4:8] = (20).to_bytes(4, "big")  # the count patched to the 20 images kept
    return bytes(raw)


def loads_or_refuses(spec, split="test"):
    try:
        data = load_data(spec, split)
    except GONError as error:
        assert str(error) and "\n" not in str(error)
        return None
    assert data.images.dtype.is_floating_point is False and data.images.ndim == 4 and len(data) > 0
    return data


def mutate(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: max(0, min(cut, len(data)))])
    for position, value in flips:
        if out:
            out[position % len(out)] = value
    return bytes(out)


@CASES
@given(
    cut=st.integers(0, IDX_BYTES + 10),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    gz=st.booleans(),
)
def test_idx_files(tmp_path_factory, cut, flips, gz):
    directory = tmp_path_factory.mktemp("idx")
    payload = mutate(real_idx(), cut, flips)
    name = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
    (directory / name).write_bytes(gzip.compress(payload) if gz else payload)
    loads_or_refuses(f"idx:{directory}")
    shutil.rmtree(directory)


@CASES
@given(blob=st.binary(max_size=400), gz=st.booleans())
def test_idx_random_bytes(tmp_path_factory, blob, gz):
    directory = tmp_path_factory.mktemp("idx")
    (directory / "t10k-images-idx3-ubyte").write_bytes(gzip.compress(blob) if gz else blob)
    (directory / "t10k-labels-idx1-ubyte").write_bytes(blob[::-1])
    loads_or_refuses(f"idx:{directory}")
    shutil.rmtree(directory)


def real_png_bytes():
    digits = load_data("mnist5k", "test", limit=1).images[0, 0].numpy()
    buffer = io.BytesIO()
    Image.fromarray(digits).save(buffer, format="PNG")
    return buffer.getvalue()


REAL_PNG = real_png_bytes()


@CASES
@given(
    cut=st.integers(0, len(REAL_PNG) + 5),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
)
def test_folder_images(tmp_path_factory, cut, flips):
    directory = tmp_path_factory.mktemp("folder")
    for i in range(10):  # real images around the damaged one, which lands in the test split
        (directory / f"img_{i:02d}.png").write_bytes(REAL_PNG)
    (directory / "img_00.png").write_bytes(mutate(REAL_PNG, cut, flips))
    loads_or_refuses(f"folder:{directory}")
    shutil.rmtree(directory)


@CASES
@given(blob=st.binary(max_size=600), cut=st.integers(0, 2000))
def test_npz_files(tmp_path_factory, blob, cut):
    directory = tmp_path_factory.mktemp("npz")
    buffer = io.BytesIO()
    np.savez(buffer, images=np.frombuffer(real_idx()[16 : 16 + 12 * 784], dtype=np.uint8).reshape(12, 28, 28))
    real = buffer.getvalue()
    (directory / "random.npz").write_bytes(blob)
    (directory / "cut.npz").write_bytes(real[:cut])
    loads_or_refuses(f"npz:{directory / 'random.npz'}")
    loads_or_refuses(f"npz:{directory / 'cut.npz'}")
    shutil.rmtree(directory)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model")
    config = ModelConfig(kind="conv", hidden_features=4, latent_dim=8)
    save_model(directory, build_model(config), config)
    return directory


@CASES
@given(
    cut=st.integers(0, 40000),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
    config_cut=st.integers(0, 2000),
)
def test_checkpoints(saved_model, tmp_path_factory, cut, flips, config_cut):
    directory = tmp_path_factory.mktemp("damaged")
    weights = (saved_model / "model.safetensors").read_bytes()
    config = (saved_model / "config.json").read_bytes()
    (directory / "model.safetensors").write_bytes(mutate(weights, cut, flips))
    (directory / "config.json").write_bytes(config[:config_cut])
    try:
        model, _, _ = load_model(directory)
    except GONError as error:
        assert "\n" not in str(error)
    shutil.rmtree(directory)


@CASES
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
)
def test_config_documents(saved_model, tmp_path_factory, document):
    directory = tmp_path_factory.mktemp("config")
    shutil.copy(saved_model / "model.safetensors", directory / "model.safetensors")
    real = json.loads((saved_model / "config.json").read_text())
    for candidate in (document, {**real, "model": document}):
        (directory / "config.json").write_text(json.dumps(candidate))
        try:
            load_model(directory)
        except GONError as error:
            assert "\n" not in str(error)
    shutil.rmtree(directory)


FIELDS = [f for f in ModelConfig.__dataclass_fields__]
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(allow_nan=True)
    | st.text(max_size=6)
    | st.lists(st.integers(), max_size=2)
)


@CASES
@given(values=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6))
def test_model_config_values(values):
    # every field with every kind of JSON value: a valid config or the library's error
    try:
        config = ModelConfig.from_dict(values)
    except GONError as error:
        assert "\n" not in str(error)
        return
    assert config.kind in MODEL_KINDS


@CASES
@given(values=st.dictionaries(st.sampled_from(list(TrainConfig.__dataclass_fields__)), VALUES, max_size=6))
def test_train_config_values(values):
    try:
        config = TrainConfig.from_dict(values)
    except GONError as error:
        assert "\n" not in str(error)
        return
    assert config.batch("conv") >= 1 and config.total_steps(1000) >= 1
