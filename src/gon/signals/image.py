"""Images: (C, H, W) with H = W = `image_size`, intensities in [0, 1], written as PNG grids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ..errors import GONError
from ..files import write_atomically
from ..viz import image_grid, save_gif
from .base import NATIVE, Rendering, Signal, register_signal


def pair_rows(originals: Tensor, reconstructions: Tensor, columns: int = 8) -> Tensor:
    """Rows alternate originals and their reconstructions: (2 * ceil(N / columns) * columns) images."""
    rows = []
    for i in range(0, len(originals), columns):
        original, rebuilt = originals[i : i + columns], reconstructions[i : i + columns]
        pad = columns - len(original)
        if pad:
            blank = torch.ones(pad, *originals.shape[1:])
            original, rebuilt = torch.cat([original, blank]), torch.cat([rebuilt, blank])
        rows += [original, rebuilt]
    return torch.cat(rows)


def save_images(images: Tensor, path: str | Path, columns: int | None = None) -> Path:
    """A grid of images (N, C, H, W) in the format the suffix names, written to a temporary file then
    renamed, so a failure never leaves half an image."""
    path = Path(path)
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format not in Image.SAVE:
        raise GONError(
            f"{path}: cannot write images as {path.suffix or 'a file without a suffix'}: "
            f"name a .png, .jpg, .webp, .bmp or .tif file"
        )
    return write_atomically(path, lambda tmp: image_grid(images, columns).save(tmp, format=image_format))


class ImageSignal(Signal):
    name = "image"
    image_sized = True
    render_flags = ("resolution",)
    captions = {
        "reconstructions.png": "test images (odd rows) and their reconstructions (even rows)",
        "samples.png": "decoded latents drawn from the run's sampler",
        "interpolations.png": "spherical interpolations between encoded test images, one pair per row",
    }

    def shape(self, config: Any) -> tuple[int, ...]:
        return (config.channels, config.image_size, config.image_size)

    def side(self, config: Any) -> int:
        return config.image_size

    def describe(self, config: Any) -> str:
        return f"{config.image_size}x{config.image_size} image"

    def check_batch(self, x: Tensor, shape: tuple[int, ...]) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            c, h, w = shape
            raise GONError(
                f"this model takes images of {c} channel(s) at {h}x{w}, a batch of shape (B, {c}, {h}, "
                f"{w}); got {tuple(x.shape)} (load_data(..., image_size={h}, channels={c}) fits data to it)"
            )

    def range_error(self, low: float, high: float) -> str:
        return (
            f"image values must lie in [0, 1], got {low:g} to {high:g} "
            f"(divide 8-bit values by 255, or pass the uint8 tensor itself)"
        )

    def rendering(self, config: Any, implicit: bool, render: bool = False, **flags: Any) -> Rendering:
        self.refuse_flags(flags)
        resolution = flags.get("resolution")
        if resolution is None and render:
            resolution = 256
        if resolution is None:
            return Rendering()
        if not implicit:
            raise GONError("--resolution needs an implicit model")
        return Rendering((resolution, resolution), label=str(resolution))

    def write_pairs(self, originals: Tensor, reconstructions: Tensor, path: str | Path, config: Any) -> list[Path]:
        return [save_images(pair_rows(originals, reconstructions), path, 8)]

    def write_examples(
        self,
        examples: Tensor,
        path: str | Path,
        config: Any,
        columns: int | None = None,
        rendering: Rendering = NATIVE,
        titles: list[str] | None = None,
        labels: list[str] | None = None,
    ) -> list[Path]:
        return [save_images(examples, path, columns)]

    def write_render(
        self, originals: Tensor, rendered: Tensor, path: str | Path, config: Any, rendering: Rendering
    ) -> list[Path]:
        return [save_images(rendered, path)]

    def check_steps_gif(self) -> None:
        pass

    def write_steps_gif(self, examples: Tensor, pairs: int, steps: int, path: Path) -> None:
        by_pair = examples.reshape(pairs, steps, *examples.shape[1:])
        write_atomically(path, lambda tmp: save_gif([by_pair[:, t] for t in range(steps)], tmp, columns=pairs))


IMAGE = register_signal(ImageSignal())
