"""IDX (MNIST-style) directories, Fashion-MNIST among them: gzip or raw, in memory or
memory-mapped (--stream), headers checked before anything is read or decompressed."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from ..errors import GONError, NoSplit
from .images import MAX_IN_MEMORY_BYTES, ImageData, LazyImages, existing_dir, fit_chunk, fit_images, notice_fitted
from .sources import DataRequest, DataSource, register_source

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def fashion_dir(arg: str, spec: str) -> Path:
    if arg:
        return existing_dir(arg, spec)
    if not FASHION_MNIST_DIR.is_dir():
        raise GONError(
            f"{spec}: {FASHION_MNIST_DIR} does not exist; install it with 'apt-get install dataset-fashion-mnist' "
            "or give a directory of IDX files as fashion-mnist:DIR"
        )
    return FASHION_MNIST_DIR


def _idx_candidates(prefix: str, kind: str, ndim: int) -> list[str]:
    names = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
    return [name + ext for name in names for ext in ("", ".gz")]


def _idx_split_files(directory: Path, split: str, where: str) -> tuple[Path, Path | None]:
    """The images file and the labels file (if present) of one split of an IDX directory."""
    prefixes = ("train",) if split == "train" else ("t10k", "test")
    for prefix in prefixes:
        images_path = _first_file(directory, _idx_candidates(prefix, "images", 3))
        if images_path is not None:
            return images_path, _first_file(directory, _idx_candidates(prefix, "labels", 1))
    raise NoSplit(
        f"{where}: no {split} images in {directory} (expected {prefixes[0]}-images-idx3-ubyte or "
        f"{prefixes[0]}-images-idx3-ubyte.gz)"
    )


def _idx_labels(
    labels_path: Path | None, images_path: Path, count: int, limit: int | None, where: str
) -> torch.Tensor | None:
    """The first `limit` labels, checked to match the `count` images."""
    if labels_path is None:
        return None
    labels_array = _read_idx(labels_path, 1, where)
    if len(labels_array) != count:
        raise GONError(
            f"{where}: {labels_path} holds {len(labels_array)} labels but {images_path} holds {count} images"
        )
    return torch.from_numpy(labels_array[:limit].astype(np.int64))


def load_idx_dir(
    directory: Path, split: str, where: str, limit: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The images (N, 1, H, W) and labels (if present) of one split of an IDX directory."""
    images_path, labels_path = _idx_split_files(directory, split, where)
    images = _read_idx(images_path, 3, where)
    labels = _idx_labels(labels_path, images_path, len(images), limit, where)
    # frombuffer gives a read-only view of the file bytes; torch wants writable memory.
    return torch.from_numpy(images[:limit].copy()).unsqueeze(1), labels


def stream_idx_dir(
    directory: Path,
    split: str,
    where: str,
    limit: int | None,
    image_size: int | None,
    channels: int | None,
    fit: str,
    name: str,
) -> ImageData:
    """One split of an IDX directory, its images memory-mapped and fitted per batch."""
    images_path, labels_path = _idx_split_files(directory, split, where)
    fetch = _MappedIdx(images_path, where, image_size, channels, fit)
    mapped = fetch.mapped()
    labels = _idx_labels(labels_path, images_path, len(mapped), limit, where)  # small: kept in memory
    count = len(mapped) if limit is None else min(limit, len(mapped))
    shape = fetch(np.array([0])).shape[1:]
    notice_fitted(where, count, (1, *mapped.shape[1:]), image_size, channels, fit)
    return ImageData(LazyImages((count, *shape), fetch), labels, name)


class _MappedIdx:
    """Fitted images at given indices of a memory-mapped IDX file. Pickled (for DataLoader
    workers started by spawn or forkserver) as its path, not its pages: each process maps
    the file itself."""

    def __init__(self, path: Path, where: str, image_size: int | None, channels: int | None, fit: str) -> None:
        self.path, self.where, self.image_size, self.channels, self.fit = path, where, image_size, channels, fit
        self._mapped: np.ndarray | None = None

    def mapped(self) -> np.ndarray:
        if self._mapped is None:
            self._mapped = _idx_memmap(self.path, 3, self.where)
        return self._mapped

    def __call__(self, indices: np.ndarray) -> torch.Tensor:
        raw = torch.from_numpy(np.ascontiguousarray(self.mapped()[indices])).unsqueeze(1)
        return fit_chunk(raw, self.image_size, self.channels, self.fit, self.where)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_mapped": None}


IDX_CACHE = Path("~/.cache/gon/idx")


def _idx_memmap(path: Path, ndim: int, where: str) -> np.ndarray:
    """A read-only memory map of a uint8 IDX file's data, validated like _read_idx. A gzip
    file is decompressed once, in chunks and only as far as its checked header declares,
    into a cache file that is then mapped."""
    try:
        with _open_idx(path) as source:
            head = source.read(4 + 4 * ndim)
            dims, header, expected = _idx_header(head, path, ndim, where, None)
            if isinstance(source, gzip.GzipFile):  # decompressed once, after its header is checked
                cache = _cache_file(path)
                if not (cache.is_file() and cache.stat().st_size == header + expected):
                    _decompress_idx(source, head, expected, cache, dims, path, where)
                path_to_map = cache
            else:
                path_to_map = path
                _check_idx_length(path.stat().st_size - header, expected, dims, path, where)
    except (OSError, EOFError, zlib.error) as exc:
        raise GONError(f"{where}: cannot read {path}: {exc}") from exc
    return np.memmap(path_to_map, dtype=np.uint8, mode="r", offset=header, shape=dims)


def _cache_file(path: Path) -> Path:
    """Where the decompressed `path` is cached: named by a hash of the compressed bytes, so
    two files alike in name, size and time but not in pixels never share a cache file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return IDX_CACHE.expanduser() / f"{path.name}-{digest.hexdigest()[:32]}.raw"


def _remove_orphans(folder: Path) -> None:
    """Delete the partial cache files of writers that were killed: a live writer holds a lock
    on its own, so a partial file whose lock can be taken is an orphan."""
    for orphan in folder.glob("*.raw.partial-*"):
        try:
            with open(orphan, "rb") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                orphan.unlink()
        except OSError:  # still being written, or already gone
            continue


def _decompress_idx(
    source: BinaryIO, head: bytes, expected: int, cache: Path, dims: tuple[int, ...], path: Path, where: str
) -> None:
    """Copy exactly the `expected` data bytes a header declared into `cache`; nothing is
    left behind if the stream is shorter or longer."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(cache.parent)
    partial = cache.with_name(cache.name + f".partial-{os.getpid()}")
    try:
        with open(partial, "wb") as target:
            fcntl.flock(target, fcntl.LOCK_EX)  # held while it is written (see _remove_orphans)
            target.write(head)
            left = expected
            while left:
                chunk = source.read(min(left, 1 << 20))
                if not chunk:
                    break
                target.write(chunk)
                left -= len(chunk)
        _check_idx_length(expected - left + len(source.read(1)), expected, dims, path, where)
        os.replace(partial, cache)
    finally:
        partial.unlink(missing_ok=True)


def _first_file(directory: Path, names: list[str]) -> Path | None:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    return None


def _idx_header(head: bytes, path: Path, ndim: int, where: str, limit: int | None) -> tuple[tuple[int, ...], int, int]:
    """The dimensions, header length and data length of a uint8 IDX file whose first bytes
    are `head`; GONError on a bad header, or data over `limit` bytes (checked before reading:
    Python integers, so no product of dimensions can wrap around)."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise GONError(f"{where}: {path} is not an IDX file (bad magic {head[:4].hex() or 'empty'})")
    dtype, file_ndim = head[2], head[3]
    if dtype != 0x08:
        kind = IDX_TYPES.get(dtype)
        if kind is None:
            raise GONError(f"{where}: {path} is not an IDX file (bad magic {head[:4].hex()}: unknown data type)")
        raise GONError(f"{where}: {path} holds {kind} IDX data; only unsigned-byte (uint8) IDX files are supported")
    if file_ndim != ndim:
        raise GONError(f"{where}: {path} has {file_ndim} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    if len(head) < header:
        raise GONError(f"{where}: {path} is truncated: {len(head)} bytes, shorter than its {header}-byte header")
    dims = struct.unpack(f">{ndim}I", head[4:header])
    if dims[0] == 0:
        raise GONError(f"{where}: {path} holds no items")
    if 0 in dims:
        raise GONError(f"{where}: {path} declares items of {'x'.join(map(str, dims[1:]))}: an image needs pixels")
    expected = math.prod(dims)
    if limit is not None and expected > limit:
        raise GONError(
            f"{where}: {path} declares {'x'.join(map(str, dims))} = {expected:,} bytes, over the "
            f"{limit >> 30} GiB held in memory: use --stream"
        )
    return dims, header, expected


def _check_idx_length(actual: int, expected: int, dims: tuple[int, ...], path: Path, where: str) -> None:
    if actual != expected:
        problem = "truncated" if actual < expected else "too long"
        shape = "x".join(map(str, dims))
        raise GONError(
            f"{where}: {path} is {problem}: {shape} needs {expected} data bytes, found "
            f"{actual if actual < expected else 'more'}"
        )


def _open_idx(path: Path) -> BinaryIO:
    """An IDX file opened for reading, decompressed on the fly if it is gzip (by content)."""
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def _read_idx(path: Path, ndim: int, where: str) -> np.ndarray:
    """Parse a uint8 IDX file (gzip or raw, detected by content) into an array of ``ndim``
    dimensions, reading (and decompressing) no more than its header declares, plus one byte."""
    try:
        with _open_idx(path) as f:
            head = f.read(4 + 4 * ndim)
            dims, header, expected = _idx_header(head, path, ndim, where, MAX_IN_MEMORY_BYTES)
            data = f.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise GONError(f"{where}: cannot read {path}: {exc}") from exc
    _check_idx_length(len(data), expected, dims, path, where)
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _load(request: DataRequest) -> ImageData:
    if request.spec.partition(":")[0].strip().lower() == "fashion-mnist":
        directory = fashion_dir(request.argument, request.spec)
    else:
        directory = existing_dir(request.argument, request.spec)
    if request.stream:
        return stream_idx_dir(
            directory,
            request.split,
            request.spec,
            request.limit,
            request.image_size,
            request.channels,
            request.fit,
            request.name,
        )
    images, labels = load_idx_dir(directory, request.split, request.spec, request.limit)
    return ImageData(
        fit_images(images, request.image_size, request.channels, request.fit, request.spec), labels, request.name
    )


register_source(
    DataSource(
        "fashion-mnist", "image", _load, f"fashion-mnist[:DIR] (IDX files, default {FASHION_MNIST_DIR})", path=True
    )
)
register_source(DataSource("idx", "image", _load, "idx:DIR (MNIST-style IDX files)", argument="required", path=True))
