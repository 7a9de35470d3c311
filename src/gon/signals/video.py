"""Video: clips (C, T, H, W) of intensities in [0, 1], `frames` frames at `fps` of `size` x `size`
pixels (`VideoSettings`, nested in ModelConfig as `video`); PSNR per clip; written as a PNG strip of
frames (one clip a row) and an animated GIF beside it; an implicit model renders at any size and
frame rate (`--resolution`, `--fps`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..data.video import DEFAULT_FPS, DEFAULT_FRAMES, DEFAULT_SIZE, MAX_FPS, MAX_FRAMES, MAX_SIZE
from ..errors import GONError
from ..fields import check_fields, option
from ..files import check_outputs, write_atomically
from ..layout import RunLayout
from ..viz import image_grid, save_gif
from .base import NATIVE, PICTURE_BYTES_PER_VALUE, Rendering, Signal, register_signal


@dataclass(frozen=True)
class VideoSettings:
    """The clips of a video model (ModelConfig.video; each field's flag and flat key is its `flat` name)."""

    frames: int = option(DEFAULT_FRAMES, "video: frames per clip", minimum=1, maximum=MAX_FRAMES, flat="frames")
    fps: float = option(
        float(DEFAULT_FPS), "video: frames per second clips are sampled at", positive=True, maximum=MAX_FPS, flat="fps"
    )
    size: int = option(
        DEFAULT_SIZE,
        "video: pixels per side of a frame (centred square crops)",
        minimum=1,
        maximum=MAX_SIZE,
        flat="frame_size",
    )

    def __post_init__(self) -> None:
        check_fields(self)


# a clip's mean squared error below this counts as this, so that its PSNR stays finite
MSE_FLOOR = 1e-10


def frame_strip(clips: Tensor) -> Tensor:
    """Clips (N, C, T, H, W) as N rows of T frames, images (N * T, C, H, W) row-major."""
    return clips.transpose(1, 2).reshape(-1, clips.shape[1], *clips.shape[3:])


class VideoSignal(Signal):
    name = "video"
    settings = VideoSettings
    coordinate_dim = 3
    item, one, position = "clips", "clip", "value"
    axes = ("channels", "frames", "height", "width")
    render_flags = ("resolution", "fps")
    shown, samples, sample_columns, pairs, steps = 4, 4, 4, 2, 5
    # a strip and a GIF of the same frames: twice a picture's
    bytes_per_value = 2 * PICTURE_BYTES_PER_VALUE
    row_metrics = ("psnr_db",)
    size_options = "frames, frame_size"
    captions = {
        RunLayout.RECONSTRUCTIONS: "test clips (odd rows) and their reconstructions (even rows), one frame a column; "
        "the animation plays each original beside its reconstruction",
        RunLayout.SAMPLES: "decoded latents drawn from the run's sampler, one clip a row",
        RunLayout.INTERPOLATIONS: "spherical interpolation between two encoded test clips, one step a row",
    }

    def shape(self, config: Any) -> tuple[int, ...]:
        v = config.video
        return (config.channels, v.frames, v.size, v.size)

    def load_settings(self, config: Any) -> dict[str, Any]:
        v = config.video
        return {"image_size": v.size, "frames": v.frames, "fps": v.fps}

    def describe(self, config: Any) -> str:
        v = config.video
        return f"clip of {v.frames} frames of {v.size}x{v.size}"

    def metrics(self, x: Tensor, sse: Tensor, reconstruct) -> dict[str, Tensor]:
        """psnr_db: 10 log10(1 / MSE) of each clip, intensities in [0, 1]."""
        return {"psnr_db": -10 * torch.log10((sse.double() / x[0].numel()).clamp_min(MSE_FLOOR))}

    def metric_lines(self, metrics: dict[str, Any]) -> list[str]:
        return [f"  PSNR (dB):                      {metrics['psnr_db']:.2f} (mean over clips)"]

    def rendering(self, config: Any, implicit: bool, render: bool = False, **flags: Any) -> Rendering:
        """Frames of `--resolution` pixels a side at `--fps` frames per second over the training clip's
        duration (temporal super-resolution above the training rate); the training size and rate
        for those not given."""
        self.refuse_flags(flags)
        v = config.video
        size, fps = flags.get("resolution") or v.size, flags.get("fps") or v.fps
        label = f"{size}px-{fps:g}fps"
        if (size, fps) == (v.size, v.fps):
            return Rendering(None, fps, label)
        if not implicit:
            raise GONError(
                f"--resolution and --fps render an implicit model at another size or frame rate; this one "
                f"is {config.kind!r}, fixed at {v.size}x{v.size} and {v.fps:g} fps"
            )
        frames = v.frames * fps / v.fps
        if not 1 <= round(frames) <= MAX_FRAMES:
            raise GONError(
                f"a clip of {v.frames} frames at {v.fps:g} fps rendered at {fps:g} fps has "
                f"{frames:,.0f} frames; a clip has 1 to {MAX_FRAMES}: change --fps"
            )
        if size > MAX_SIZE:
            raise GONError(f"--resolution {size} is over the largest frame, {MAX_SIZE} pixels a side")
        return Rendering((round(frames), size, size), fps, label)

    def files(self, path: str | Path) -> list[Path]:
        path = Path(path)
        return [path.with_suffix(".png"), path] if path.suffix.lower() == ".gif" else [path, path.with_suffix(".gif")]

    def _write(self, strip_rows: Tensor, animated: Tensor, columns: int, path: str | Path, fps: float) -> list[Path]:
        """`strip_rows` (N, C, T, H, W) as a PNG of one clip a row, and `animated` (M, C, T, H, W) as a
        GIF of `columns` clips a row playing at `fps`."""
        strip, gif = self.files(path)
        check_outputs(strip, gif)
        write_atomically(
            strip, lambda tmp: image_grid(frame_strip(strip_rows), strip_rows.shape[2]).save(tmp, format="PNG")
        )
        frames = [animated[:, :, t] for t in range(animated.shape[2])]
        write_atomically(
            gif, lambda tmp: save_gif(frames, tmp, columns, frame_ms=max(20, round(1000 / fps)), bounce=False)
        )
        return [strip, gif]

    def write_pairs(self, originals: Tensor, reconstructions: Tensor, path: str | Path, config: Any) -> list[Path]:
        pairs = torch.stack([originals, reconstructions], 1).flatten(0, 1)  # original, reconstruction, ...
        return self._write(pairs, pairs, 2, path, config.video.fps)

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
        columns = columns or math.ceil(math.sqrt(len(examples)))
        return self._write(examples, examples, columns, path, rendering.rate or config.video.fps)

    def write_render(
        self, originals: Tensor, rendered: Tensor, path: str | Path, config: Any, rendering: Rendering
    ) -> list[Path]:
        return self.write_examples(rendered, path, config, min(4, len(rendered)), rendering)


VIDEO = register_signal(VideoSignal())
