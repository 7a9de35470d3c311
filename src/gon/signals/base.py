"""`Signal`: what one kind of example is (images, sound clips, video clips, ...), as a part the
rest of the library asks instead of branching on it.

    signal = signal_of(config)              # the signal a ModelConfig's model takes
    signal.shape(config)                    # one example's shape, e.g. (C, H, W)
    signal.metrics(x, sse, reconstruct)     # its own metrics per example
    signal.write_pairs(x, recon, path, config)   # how its examples are written

A signal owns its name, its settings (a dataclass nested in ModelConfig under the signal's
name, or None), the shape and value range of its examples, how many coordinate axes an
implicit model of it takes, its checks, its metrics, how its examples are written and
rendered at another size, and what each output value costs in memory. Evaluation, the run's
figures, the report and the commands ask it; adding a signal is one module that subclasses
`Signal` and calls `register_signal` (gon/signals/image.py is the smallest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ..errors import GONError
from ..kinds import kind_spec

# the flags of the commands that render (sample, interpolate, render), each a signal may take
RENDER_FLAGS = ("resolution", "sample_rate", "fps")
# memory per output value while pictures are drawn and saved: the float32 output, the grid
# image's canvas and one image's temporary, the 8-bit copy (measured: docs/reliability.md,
# "Memory estimates")
PICTURE_BYTES_PER_VALUE = 16


@dataclass(frozen=True)
class Rendering:
    """What a command renders: `size`, the grid an implicit model renders (positions per axis, an
    int for every axis or one per axis; None: the model's own); `rate`, positions per second of a
    time axis (None: the training rate or no time axis); `label`, for a default file name."""

    size: int | tuple[int, ...] | None = None
    rate: float | None = None
    label: str = ""


NATIVE = Rendering()  # the model's own grid and rate


class Signal:
    """One signal. Subclasses set the class attributes and override what differs from images.

    name: how configs, data sources and kinds name it; settings: its settings dataclass, nested
    in ModelConfig under `name` (None: it has none); value_range: of its examples and of what a
    model outputs; coordinate_dim: the axes an implicit model of it takes; item, one: its
    examples in messages, plural and singular; position: what one value of an example is called
    ("pixel"); axes: the names of an example's axes, for files that describe their tensors;
    image_sized: whether ModelConfig.image_size sizes its examples (images only; another signal's
    model refuses it and records none);
    render_flags: which of RENDER_FLAGS it takes; integers: whether uint8
    examples are taken (as x / 255); shown, samples, sample_columns, pairs, steps: how many
    examples a run's figures show; bytes_per_value: memory per output value while examples
    are rendered and written; row_metrics: the metrics of `metrics` an evaluation lists per
    example (evaluate(..., per_clip=True)); captions: of a run's figures, by file name.
    """

    name = ""
    settings: type | None = None
    value_range = (0.0, 1.0)
    coordinate_dim = 2
    item, one, position = "images", "image", "pixel"
    axes: tuple[str, ...] = ("channels", "height", "width")
    image_sized = False
    render_flags: tuple[str, ...] = ()
    integers = True
    shown, samples, sample_columns, pairs, steps = 32, 64, 8, 8, 10
    bytes_per_value = PICTURE_BYTES_PER_VALUE
    row_metrics: tuple[str, ...] = ()
    captions: dict[str, str] = {}

    # shape and settings

    def shape(self, config: Any) -> tuple[int, ...]:
        """One example's shape for a ModelConfig."""
        raise NotImplementedError

    def side(self, config: Any) -> int:
        """The size a kind's paper-scale rule takes (gon.config): an image's side, a clip's samples."""
        return self.shape(config)[-1]

    def check_config(self, config: Any) -> None:
        """GONError for a ModelConfig this signal cannot take (its channels, its settings)."""

    def load_settings(self, config: Any) -> dict[str, Any]:
        """The keyword arguments of `load_data` that fit a data set to a ModelConfig's examples."""
        return {"image_size": config.image_size}

    def describe(self, config: Any) -> str:
        """One example of a ModelConfig in words, for messages ("32x32 image")."""
        return f"example of shape {self.shape(config)}"

    size_options = "image_size"  # what to lower when an example does not fit in memory

    # checks

    def check_batch(self, x: Tensor, shape: tuple[int, ...]) -> None:
        """GONError unless `x` is a batch of examples of `shape`."""
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise GONError(
                f"this model takes {self.item} of shape {shape}, a batch of shape (B, "
                f"{', '.join(map(str, shape))}); got {tuple(x.shape)}"
            )

    def range_error(self, low: float, high: float) -> str:
        first, last = self.value_range
        return f"{self.name} values must lie in [{first:g}, {last:g}], got {low:g} to {high:g}"

    # metrics

    def metrics(self, x: Tensor, sse: Tensor, reconstruct: Callable[[], Tensor]) -> dict[str, Tensor]:
        """This signal's metrics of a batch `x` (B, ...), one value per example, given the summed
        squared errors `sse` (B,) and `reconstruct()`, the model's reconstructions of x."""
        return {}

    def metric_lines(self, metrics: dict[str, Any]) -> list[str]:
        """Lines that say `metrics`' own values (the command line's eval)."""
        return []

    # rendering and writing

    def rendering(self, config: Any, implicit: bool, render: bool = False, **flags: Any) -> Rendering:
        """What to render for the flags given (RENDER_FLAGS, None when not given; `render`: for
        `gon render`, whose default size may be its own); GONError for a flag this signal does not
        take, or another size for a model that cannot render one (`implicit` False)."""
        self.refuse_flags(flags)
        return Rendering()

    def refuse_flags(self, flags: dict[str, Any]) -> None:
        for flag, value in flags.items():
            if value is not None and flag not in self.render_flags:
                takers = " or ".join(s.name for s in SIGNALS.values() if flag in s.render_flags) or "another"
                own = " and ".join(f"--{f.replace('_', '-')}" for f in self.render_flags) or "no size option"
                raise GONError(
                    f"--{flag.replace('_', '-')} renders {_a(takers)} model; {_a(self.name)} model takes {own}"
                )

    def files(self, path: str | Path) -> list[Path]:
        """The files an output named `path` is written as: a picture first, and what goes beside it
        (a WAV, a GIF) after it."""
        return [Path(path)]

    def write_pairs(self, originals: Tensor, reconstructions: Tensor, path: str | Path, config: Any) -> list[Path]:
        """Examples beside their reconstructions, as the files `files(path)`."""
        raise NotImplementedError

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
        """Examples row-major in `columns` (samples, interpolations), as the files `files(path)`;
        `titles` per column and `labels` per row where the signal draws them; `columns` None: the
        signal's own layout."""
        raise NotImplementedError

    def write_render(
        self, originals: Tensor, rendered: Tensor, path: str | Path, config: Any, rendering: Rendering
    ) -> list[Path]:
        """Renders at another size (`gon render`), beside the originals where the signal shows them."""
        return self.write_examples(rendered, path, config, 8, rendering)

    def check_steps_gif(self) -> None:
        """GONError unless `write_steps_gif` writes this signal's interpolations."""
        raise GONError(
            f"--gif draws images; a {self.name} model's interpolations are written as "
            f"{' and '.join(p.suffix for p in self.files('x.png'))} files"
        )

    def write_steps_gif(self, examples: Tensor, pairs: int, steps: int, path: Path) -> None:
        """An animated GIF of interpolations, one frame a step (`gon interpolate --gif`)."""
        self.check_steps_gif()


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


# name -> signal, in registration order
SIGNALS: dict[str, Signal] = {}


def register_signal(signal: Signal) -> Signal:
    """Add `signal` to those models, data sources and kinds may name; a second signal under a
    registered name is an error (two modules claiming one signal)."""
    if not signal.name or signal.name != signal.name.strip().lower():
        raise GONError(f"a signal's name is a lower-case word, got {signal.name!r}")
    if signal.name in SIGNALS and SIGNALS[signal.name] is not signal:
        raise GONError(f"signal {signal.name!r} is registered twice")
    SIGNALS[signal.name] = signal
    return signal


def signal_named(name: str) -> Signal:
    """The signal registered as `name`; GONError naming the registered ones otherwise."""
    try:
        return SIGNALS[name]
    except (KeyError, TypeError):
        raise GONError(f"unknown signal {name!r}: choose one of {', '.join(SIGNALS)}") from None


def signal_of(config: Any) -> Signal:
    """The signal a ModelConfig's model takes: its `signal`, or its kind's first."""
    name = getattr(config, "signal", None)
    return signal_named(name if name is not None else kind_spec(config.kind).signals[0])
