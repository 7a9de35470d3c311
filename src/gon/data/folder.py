"""Folders of image files read with Pillow: optional train/ and test/ and class sub-folders,
decoding bounded by MAX_IMAGE_PIXELS, in memory or decoded per batch (--stream)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import GONError, NoSplit
from .images import (
    GREY_MODES,
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    ImageData,
    LazyImages,
    existing_dir,
    pil_to_tensor,
    split_dirs,
    stack,
)
from .sources import SPLITS, DataRequest, DataSource, register_source


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


def folder_files(directory: Path, split: str, where: str) -> tuple[list[Path], torch.Tensor | None]:
    """The image files of one split of an image folder, and their class indices (if every image has a class)."""
    roots = split_dirs(directory, where)
    if roots is not None:
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
        raise NoSplit(f"{where}: no {split} images under {directory} ({len(every)} images in total)")

    # Labels only when every image of both splits sits in a class folder, so indices agree between splits.
    classes = [_class_of(path, base) for path, base in every]
    class_names = sorted({c for c in classes if c is not None})
    labels = None
    if None not in classes and len(class_names) > 1:
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[_class_of(path, root)] for path in files], dtype=torch.int64)
    return files, labels


def load_files(
    files: list[Path],
    labels: torch.Tensor | None,
    where: str,
    image_size: int | None,
    channels: int | None,
    fit: str,
    limit: int | None,
    stream: bool = False,
    background: str = "white",
) -> tuple[torch.Tensor | LazyImages, torch.Tensor | None]:
    """Image files decoded with Pillow (alpha composited onto ``background``) and fitted, in memory or per batch:
    the one path from image files to tensors, shared by folder: and emoji."""
    if limit is not None:
        files = files[:limit]
        labels = None if labels is None else labels[:limit]

    # Read headers first (cheap) to pick the channel count and to report mixed sizes before decoding anything.
    modes, sizes = [], []
    for path in files:
        with open_image(path, where) as image:
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
        first = stack(_decode_all(files[:1], where, background), 1, image_size, channels, fit, where)
        # a partial of a module-level function, not a closure: DataLoader workers started by
        # spawn or forkserver receive the data set pickled
        fetch = functools.partial(_fetch_files, files, where, background, image_size, channels, fit)
        return LazyImages((len(files), *first.shape[1:]), fetch), labels
    return stack(_decode_all(files, where, background), len(files), image_size, channels, fit, where), labels


def _fetch_files(
    files: list[Path],
    where: str,
    background: str,
    image_size: int | None,
    channels: int | None,
    fit: str,
    indices: np.ndarray,
) -> torch.Tensor:
    chosen = [files[i] for i in indices]
    return stack(_decode_all(chosen, where, background), len(chosen), image_size, channels, fit, where)


def open_image(path: Path, where: str) -> Image.Image:
    try:
        with warnings.catch_warnings():  # Pillow's bomb warning: the check below refuses such images in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)  # reads the header only: the size is known before decoding
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise GONError(
                f"{where}: {path} is {image.width}x{image.height}, over the {MAX_IMAGE_PIXELS:,} pixels "
                f"a data image may have (fit it to size before training)"
            )
        return image
    except GONError:
        raise
    # Pillow's plugins raise many exception types for bad files (OSError, SyntaxError, ValueError,
    # struct.error, DecompressionBombError, ...): any of them means this file cannot be used.
    except Exception as exc:
        raise GONError(f"{where}: cannot open image {path}: {exc}") from exc


def _decode_all(files: list[Path], where: str, background: str = "white") -> Iterator[tuple[str, torch.Tensor]]:
    for path in files:
        with open_image(path, where) as image:
            try:
                tensor = pil_to_tensor(image, background)
            except Exception as exc:  # see open_image: decoding fails with many exception types
                raise GONError(f"{where}: cannot decode image {path}: {exc}") from exc
        yield path.name, tensor


def _load(request: DataRequest) -> ImageData:
    files, labels = folder_files(existing_dir(request.argument, request.spec), request.split, request.spec)
    images, labels = load_files(
        files,
        labels,
        request.spec,
        request.image_size,
        request.channels,
        request.fit,
        request.limit,
        request.stream,
        request.background,
    )
    return ImageData(images, labels, request.name)


register_source(
    DataSource(
        "folder",
        "image",
        _load,
        "folder:DIR (image files; train/, test/ and class sub-folders optional)",
        argument="required",
        path=True,
    )
)
