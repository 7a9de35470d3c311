"""torchvision:NAME[:ROOT]: any torchvision data set, downloaded on first use (the
[torchvision] extra)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..errors import GONError, NoSplit
from .images import ImageData, pil_to_tensor, stack
from .sources import DataRequest, DataSource, register_source

TORCHVISION_ROOT = Path("~/.cache/gon/torchvision")


def load_torchvision(
    arg: str,
    split: str,
    where: str,
    image_size: int | None,
    channels: int | None,
    fit: str,
    limit: int | None,
    background: str = "white",
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
        raise NoSplit(f"{where}: torchvision {name} has no {split} images")

    targets: list[int | None] = []

    def items() -> Iterator[tuple[str, torch.Tensor]]:
        for i in range(count):
            try:
                image, target = dataset[i]
                tensor = pil_to_tensor(image, background)
            except Exception as exc:  # a corrupt file inside the data set, in any of Pillow's error types
                raise GONError(f"{where}: cannot read item {i} of torchvision {name}: {exc}") from exc
            is_int = isinstance(target, (int, np.integer)) or (isinstance(target, torch.Tensor) and target.ndim == 0)
            targets.append(int(target) if is_int else None)
            yield f"item {i}", tensor

    images = stack(items(), count, image_size, channels, fit, where)
    labels = None if None in targets else torch.tensor(targets, dtype=torch.int64)
    return images, labels


def _load(request: DataRequest) -> ImageData:
    images, labels = load_torchvision(
        request.argument,
        request.split,
        request.spec,
        request.image_size,
        request.channels,
        request.fit,
        request.limit,
        request.background,
    )
    return ImageData(images, labels, request.name)


register_source(
    DataSource(
        "torchvision",
        "image",
        _load,
        "torchvision:NAME[:ROOT] (e.g. torchvision:CIFAR10; downloads)",
        argument="required",
    )
)
