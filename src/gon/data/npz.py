"""numpy .npz archives: x_train/x_test, train/test or images arrays, checked against each
member's size before anything is decompressed."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import GONError, NoSplit
from .images import MAX_IN_MEMORY_BYTES, ImageData, fit_images
from .sources import DataRequest, DataSource, register_source


def load_npz(path: Path, split: str, where: str, limit: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not path.is_file():
        raise GONError(f"{where}: {path} does not exist or is not a file")
    if not zipfile.is_zipfile(path):
        raise GONError(f"{where}: {path} is not an .npz archive (save one with numpy.savez)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise GONError(f"{where}: cannot read {path}: {exc}") from exc
    with archive:
        keys = set(archive.files)
        if "x_train" in keys or "x_test" in keys:
            image_key, label_key, select = f"x_{split}", f"y_{split}", None
        elif "train" in keys or "test" in keys:
            image_key, label_key, select = split, None, None
        elif "images" in keys:
            image_key, label_key, select = "images", "labels", split
        else:
            raise GONError(
                f"{where}: {path} has keys {sorted(keys)}; expected x_train/x_test (+ y_train/y_test), "
                "train/test, or images (+ labels)"
            )
        if image_key not in keys:
            raise GONError(f"{where}: {path} has no {image_key!r} array (keys: {sorted(keys)})")
        images = _npz_array(archive, image_key, path, where)
        labels = _npz_array(archive, label_key, path, where) if label_key in keys else None

    images = _npz_layout(images, image_key, path, where)
    if labels is not None:
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or len(labels) != len(images):
            raise GONError(
                f"{where}: {path} array {label_key!r} must be {len(images)} integer labels, "
                f"got {labels.dtype} {labels.shape}"
            )
    if select is not None:
        keep = (np.arange(len(images)) % 10 == 0) == (select == "test")
        images = images[keep]
        labels = None if labels is None else labels[keep]
    if len(images) == 0:
        raise NoSplit(f"{where}: {path} has no {split} images")
    if limit is not None:
        images = images[:limit]
        labels = None if labels is None else labels[:limit]
    images = _npz_to_uint8(images, image_key, path, where)
    label_tensor = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    return torch.from_numpy(np.ascontiguousarray(images)), label_tensor


def _npz_array(archive: np.lib.npyio.NpzFile, key: str, path: Path, where: str) -> np.ndarray:
    try:
        _check_npz_member(archive.zip, key, path, where)
        return archive[key]
    # ValueError covers object arrays, which allow_pickle=False refuses; the rest are damaged archives.
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise GONError(f"{where}: {path} array {key!r} cannot be loaded: {exc}") from exc


def _check_npz_member(archive: zipfile.ZipFile, key: str, path: Path, where: str) -> None:
    """Read an array's .npy header (not its data) and refuse it before loading if it claims
    more than MAX_IN_MEMORY_BYTES or more data than the member holds (a header that lies)."""
    member = archive.getinfo(f"{key}.npy")
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)  # numpy's own parser, header only (bounded in size)
        header = f.tell()
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_IN_MEMORY_BYTES:
        raise GONError(
            f"{where}: {path} array {key!r} claims shape {shape} of {dtype}, {size:,} bytes, over the "
            f"{MAX_IN_MEMORY_BYTES >> 30} GiB held in memory"
        )
    if size > member.file_size - header:
        raise GONError(
            f"{where}: {path} array {key!r} claims shape {shape} but holds only "
            f"{member.file_size - header:,} bytes of data"
        )
    if member.file_size - header > size and not dtype.hasobject:  # a deflate bomb behind a small header
        raise GONError(
            f"{where}: {path} array {key!r} claims shape {shape} ({size:,} bytes) but holds "
            f"{member.file_size - header:,} bytes of data"
        )


def _npz_layout(images: np.ndarray, key: str, path: Path, where: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3} as (N, C, H, W)."""
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[1] not in (1, 3) and images.shape[3] in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or 0 in images.shape[2:]:
        raise GONError(
            f"{where}: {path} array {key!r} has shape {images.shape}; expected (N, H, W), (N, H, W, C) "
            "or (N, C, H, W) with C 1 or 3"
        )
    return images


def _npz_to_uint8(images: np.ndarray, key: str, path: Path, where: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating):
        if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise GONError(f"{where}: {path} array {key!r} is {images.dtype} but not within [0, 1]")
        return np.rint(images.astype(np.float32) * 255).astype(np.uint8)
    raise GONError(
        f"{where}: {path} array {key!r} has dtype {images.dtype}; expected uint8 (0..255) or float in [0, 1]"
    )


def _load(request: DataRequest) -> ImageData:
    images, labels = load_npz(Path(request.argument).expanduser(), request.split, request.spec, request.limit)
    return ImageData(
        fit_images(images, request.image_size, request.channels, request.fit, request.spec), labels, request.name
    )


register_source(
    DataSource(
        "npz", "image", _load, "npz:FILE (x_train/x_test, train/test or images arrays)", argument="required", path=True
    )
)
