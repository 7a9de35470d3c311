"""The ``emoji[:DIR]`` data set: 3,786 Noto colour emoji as 64x64 RGBA PNGs, with category labels.

The images come from the npm package ``emoji-datasource-google`` (version 16.0.0): its ``img/google/64/*.png``
(1,911 emoji and 1,875 skin-tone variants) and ``emoji.json``. ``bash scripts/setup.sh`` (or
``bash scripts/emoji-data.sh [DIR]``) extracts the package once into :data:`EMOJI_DIR`, which is the default DIR.
Licences, as the package states them: the Google/Noto images are under the Apache License 2.0 (README.md,
"Image Sources"), the package itself under the MIT licence (LICENSE, package.json).

This module only chooses the files and their labels; gon.data.folder decodes them as it decodes ``folder:``
images (same size limits, alpha composited onto a white background by default, same fitting and notices).

* Split: a file is a test image when the SHA-1 of its name (UTF-8), read as a big-endian integer, is divisible
  by 10 (:func:`is_test`): 10% on average, 353 of the 3,786 images (9.3%), the same on every machine and
  independent of Python's hash seed, and unchanged for a file when others are added.
* Order: within a split, images are sorted by that hash, a fixed shuffle, so that the first N of a ``limit``
  hold every category instead of 258 flags in a row (file names are code points).
* Labels: the index of the emoji's ``category`` in emoji.json (a skin-tone variant takes its emoji's) among
  all categories of emoji.json in sorted order (:func:`categories`; 10 in version 16.0.0). Without emoji.json,
  or when it does not name every image, there are no labels.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import GONError, NoSplit
from ..files import read_json
from .folder import load_files
from .images import ImageData
from .packages import is_test_name, name_key, package_dir
from .sources import DataRequest, DataSource, register_source

__all__ = ["EMOJI_DIR", "IMAGE_FOLDER", "categories", "emoji_dir", "emoji_files", "is_test"]

EMOJI_DIR = Path("~/.cache/gon/emoji-datasource-google")
IMAGE_FOLDER = Path("img/google/64")
INSTALL_HINT = "'bash scripts/setup.sh' (or 'npm pack emoji-datasource-google@16.0.0' and extract its package/ there)"


def is_test(name: str) -> bool:
    """Whether the image file ``name`` (e.g. '1f600.png') belongs to the test split (by its name's hash)."""
    return is_test_name(name)


def emoji_dir(arg: str, where: str) -> Path:
    """The package directory: ``arg``, or EMOJI_DIR when ``arg`` is empty; GONError when it is missing."""
    return package_dir(
        arg,
        EMOJI_DIR,
        IMAGE_FOLDER,
        where,
        spec="emoji",
        contents="the extracted npm package emoji-datasource-google",
        what="emoji images",
        hint=INSTALL_HINT,
    )


def _emoji_json(directory: Path, where: str) -> list[dict] | None:
    path = directory / "emoji.json"
    if not path.exists():
        return None
    try:
        entries = read_json(path, "missing")
    except GONError as error:
        raise GONError(f"{where}: {error}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise GONError(f"{where}: {path} is not a list of emoji entries")
    return entries


def _category_of(entries: list[dict]) -> dict[str, str]:
    """Image file name -> category, for every emoji and skin-tone variant that names both."""
    found: dict[str, str] = {}
    for entry in entries:
        category = entry.get("category")
        if not isinstance(category, str):
            continue
        variants = entry.get("skin_variations")
        for item in [entry, *(variants.values() if isinstance(variants, dict) else [])]:
            if isinstance(item, dict) and isinstance(item.get("image"), str):
                found[item["image"]] = category
    return found


def categories(directory: Path | str = EMOJI_DIR, where: str = "emoji") -> list[str]:
    """The category names in label order (sorted), or [] without emoji.json."""
    entries = _emoji_json(Path(directory).expanduser(), where)
    return sorted(set(_category_of(entries).values())) if entries is not None else []


def emoji_files(directory: Path, split: str, where: str) -> tuple[list[Path], torch.Tensor | None]:
    """The PNG files of ``split`` ('train' or 'test') in their fixed order, and their int64 labels (or None)."""
    names = sorted(p.name for p in (directory / IMAGE_FOLDER).glob("*.png") if not p.name.startswith("."))
    if not names:
        raise GONError(f"{where}: no PNG files in {directory / IMAGE_FOLDER}")
    chosen = sorted((n for n in names if is_test(n) == (split == "test")), key=name_key)
    if not chosen:
        raise NoSplit(f"{where}: no {split} images in {directory / IMAGE_FOLDER} ({len(names)} in total)")
    files = [directory / IMAGE_FOLDER / name for name in chosen]

    entries = _emoji_json(directory, where)
    if entries is None:
        return files, None
    category_of = _category_of(entries)
    if any(name not in category_of for name in names):
        return files, None
    index = {name: i for i, name in enumerate(sorted(set(category_of.values())))}
    return files, torch.tensor([index[category_of[name]] for name in chosen], dtype=torch.int64)


def _load(request: DataRequest) -> ImageData:
    files, labels = emoji_files(emoji_dir(request.argument, request.spec), request.split, request.spec)
    # always colour: a subset that happens to hold only the grey (LA) emoji stays RGB
    channels = 3 if request.channels is None else request.channels
    images, labels = load_files(
        files,
        labels,
        request.spec,
        request.image_size,
        channels,
        request.fit,
        request.limit,
        request.stream,
        request.background,
    )
    return ImageData(images, labels, request.name)


register_source(
    DataSource(
        "emoji",
        "image",
        _load,
        "emoji[:DIR] (3,786 64x64 colour emoji, default ~/.cache/gon/emoji-datasource-google; bash scripts/setup.sh)",
        path=True,
    )
)
