"""Images in memory or streamed (ImageData, LazyImages), and fitting them to a model's size
and channels: resizing, padding, grey and RGB conversion, with a line saying so."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import GONError
from .base import Data, Index
from .sources import SPLITS

logger = logging.getLogger("gon")


FITS = ("resize", "pad")
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Pillow modes holding one intensity channel; everything else is read as RGB.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
# Pillow modes with an alpha channel. These, and images with a transparent colour (palette or tRNS),
# are composited onto a plain background by `composite`, the same way for every loader.
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
BACKGROUNDS = {"white": 255, "black": 0}
# the largest data set held in memory as uint8 (Fashion-MNIST at 64 px in colour is 0.7 GiB);
# larger IDX and folder sets train with --stream
MAX_IN_MEMORY_BYTES = 4 << 30
# a data image's pixels (4096 x 4096): a larger one is decoded whole before it is shrunk to the
# model's size, gigabytes for a 28 px model (docs/reliability.md)
MAX_IMAGE_PIXELS = 1 << 24
# Bound the float32 working set of resizing to about 64 MiB per chunk.
_CHUNK_VALUES = 1 << 24


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
class ImageData(Data):
    """A split of an image data set: uint8 images (N, C, H, W), optional int64 labels (N,).

    ``images`` is a tensor in memory, or a LazyImages for streamed data sets. The Dataset
    contract is `Data`'s (gon/data/base.py): ``data[i]`` is one image as float32 (C, H, W) in
    [0, 1], or ``(image, label)`` where the source has labels; ``batch(index)`` is the fast
    path the library's own loop uses: one indexing of the uint8 tensor per batch.
    """

    item = "images"

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

    def batch(self, index: Index) -> torch.Tensor:
        """Images ``index`` as float32 in [0, 1]."""
        return self.images[index].to(torch.float32) / 255.0

    def subset(self, rows: slice | torch.Tensor | list[int], name: str) -> ImageData:
        """Images ``rows`` (read now if streamed) with their labels, named ``name``."""
        labels = self.labels[rows] if self.labels is not None else None
        return ImageData(self.images[rows], labels, name)


def fit_images(
    images: torch.Tensor, image_size: int | None, channels: int | None, fit: str, where: str
) -> torch.Tensor:
    """Fit uint8 (N, C, H, W) images to size and channels, chunk by chunk so that large sets stay in memory."""
    n, c, h, w = images.shape
    if (image_size is None or (h, w) == (image_size, image_size)) and channels in (None, c):
        return images
    notice_fitted(where, n, (c, h, w), image_size, channels, fit)
    out_c = c if channels is None else channels
    out_h, out_w = (h, w) if image_size is None else (image_size, image_size)
    check_in_memory(where, n, out_c, out_h, out_w)
    out = torch.empty((n, out_c, out_h, out_w), dtype=torch.uint8)
    step = max(1, _CHUNK_VALUES // max(c * h * w, out_c * out_h * out_w))
    for start in range(0, n, step):
        out[start : start + step] = fit_chunk(images[start : start + step], image_size, channels, fit, where)
    return out


def check_in_memory(where: str, count: int, channels: int, height: int, width: int) -> None:
    """GONError before allocating a data set over MAX_IN_MEMORY_BYTES."""
    size = count * channels * height * width
    if size > MAX_IN_MEMORY_BYTES:
        raise GONError(
            f"{where}: {count:,} images of {channels}x{height}x{width} would take {size / 2**30:.1f} GiB "
            f"in memory (limit {MAX_IN_MEMORY_BYTES >> 30} GiB): use a smaller image size or --stream"
        )


def notice_fitted(
    where: str, count: int | str, shape: tuple[int, int, int], image_size: int | None, channels: int | None, fit: str
) -> None:
    """Say in one line how data are changed to fit a model: silent conversions hid mistakes."""
    c, h, w = shape
    changes = []
    if image_size is not None and (h, w) != (image_size, image_size):
        changes.append(f"{'resized' if fit == 'resize' else 'padded'} from {h}x{w} to {image_size}x{image_size}")
    if channels is not None and channels != c:
        changes.append("RGB converted to grey" if channels == 1 else "grey repeated to RGB")
    if changes:
        logger.info("%s: %s images %s to fit the model", where, count, " and ".join(changes))


def fit_chunk(x: torch.Tensor, image_size: int | None, channels: int | None, fit: str, where: str) -> torch.Tensor:
    # Reduce to grey before resizing and expand to RGB after it, so resizing touches as few values as possible.
    if channels == 1 and x.shape[1] == 3:
        x = _luma(x)
    if image_size is not None and tuple(x.shape[-2:]) != (image_size, image_size):
        x = _resize(x, image_size) if fit == "resize" else _pad(x, image_size, where)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


# ITU-R 601 luma: grey from red, green and blue
LUMA = (0.299, 0.587, 0.114)


def _luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of uint8 RGB (N, 3, H, W) as uint8 (N, 1, H, W)."""
    weights = torch.tensor(LUMA, dtype=torch.float32).view(1, 3, 1, 1)
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


def stack(
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
        fitted = fit_chunk(image.unsqueeze(0), image_size, channels, fit, where)[0]
        if out is None:
            check_in_memory(where, count, *fitted.shape)
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
        notice_fitted(where, number, native, image_size, channels, fit)
    return out


def pil_to_tensor(image: Image.Image, background: str = "white") -> torch.Tensor:
    """A Pillow image as uint8 (C, H, W): C=1 for grey modes, else 3 (palettes expanded). Transparent
    images are composited onto ``background`` by `composite`."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}")
    if image.mode.startswith("I;16"):
        # Pillow's own conversion to 'L' clips 16-bit values to 255; scale the full 16-bit range instead.
        wide = np.array(image, dtype=np.float32)
        return torch.from_numpy((wide / 257.0).round().clip(0, 255).astype(np.uint8)).unsqueeze(0)
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        return composite(image, background)
    if image.mode in GREY_MODES:
        return torch.from_numpy(np.array(image.convert("L"), dtype=np.uint8)).unsqueeze(0)
    rgb = np.array(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def composite(image: Image.Image, background: str = "white") -> torch.Tensor:
    """A transparent Pillow image (RGBA, LA, P or L/RGB with a transparent colour, premultiplied modes) over a
    plain ``background`` ('white' or 'black') as uint8 (C, H, W), C=1 for grey modes, else 3.

    Each value is round((colour * alpha + background * (255 - alpha)) / 255) in integers: alpha 255 keeps the
    colour exactly, alpha 0 gives the background exactly. The one place alpha is handled, so that a file gives
    the same pixels through every spec (folder:, emoji, torchvision:)."""
    if background not in BACKGROUNDS:
        raise GONError(f"unknown background {background!r}: use 'white' or 'black'")
    # Pillow un-premultiplies La/RGBa and turns palette or tRNS transparency into alpha here.
    pixels = np.asarray(image.convert("LA" if image.mode in GREY_MODES else "RGBA"), dtype=np.uint16)
    colour, alpha = pixels[..., :-1], pixels[..., -1:]
    # at most 255 * 255 + 127, so uint16 holds the sum (half the memory of int32 on large images)
    mixed = (colour * alpha + BACKGROUNDS[background] * (255 - alpha) + 127) // 255
    return torch.from_numpy(np.ascontiguousarray(mixed.astype(np.uint8).transpose(2, 0, 1)))


def existing_dir(arg: str, spec: str) -> Path:
    path = Path(arg).expanduser()
    if not path.is_dir():
        raise GONError(f"{spec}: {path} is not a directory")
    return path


def split_dirs(directory: Path, where: str) -> dict[str, Path] | None:
    """{"train": DIR/train, "test": DIR/test} when `directory` has both folders (None otherwise);
    GONError when they are one folder (two links to one place): the test set would be the
    training set without a word."""
    dirs = {name: directory / name for name in SPLITS}
    if not all(path.is_dir() for path in dirs.values()):
        return None
    if dirs["train"].resolve() == dirs["test"].resolve():
        raise GONError(
            f"{where}: {dirs['train']} and {dirs['test']} are the same folder: the test set must be "
            f"held out from training"
        )
    return dirs
