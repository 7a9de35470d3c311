"""Model kinds: one declaration each (`KindSpec`), registered beside its builder.

    register_kind(KindSpec("conv", build=_conv, lr=1e-3, origin_step=True, ...))

A kind's spec is the one place that says what the kind is: its defaults, Adam's rate,
whether it has a gradient-origin step (and the paper's inner-loss scale for it), the groups of
kind-specific options that apply to it and its builder. `ModelConfig` validates against
it and `build_model` builds from it, so adding a kind is one module that calls
`register_kind` (gon/models/gon.py, gon/models/baselines.py) and one import of that
module (gon/models/__init__.py). This module sits below the configs and the models, so
both can read the table without importing each other.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import GONError

# the paper's batch, every kind's default but where a step of it would take too long on a CPU
DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class KindSpec:
    """One model kind.

    name: the `--model` value; build: `build(config) -> model` (a LatentModel, in
    training mode, without the classifier head, which `build_model` adds); defaults: the
    values of the fields left None, by their flat keys (image_size, latent_dim, hidden_features,
    activation: the paper's scripts; first_w0, tile, ...); lr: Adam's default rate; origin_step:
    whether the model encodes by the gradient-origin step (`ModelConfig.origin` applies);
    paper_scale: `(image_size, channels) -> inner_scale` that reproduces the paper's gradients
    at its batch of 64 (gon.config has the rules), for kinds with a step; options: the groups
    of kind-specific options (ModelConfig fields declared with `per_kind=True`: "conv",
    "siren", "modulation", "monte_carlo", "variational", "classifier", "glo") that apply to
    this kind, every other one must keep its defaults (a kind that takes "classifier" may be a
    classifier, Eq. 13); image_sizes: the image sides it can be built for (None: any);
    sized_by_data: the flat key of the config field that the training data's size sets (GLO's
    code table), None if none; signals: the signals (gon/signals) it takes, the first its
    default; coordinate_dims: it also takes any signal of that many coordinate axes (an implicit
    kind that works on any grid); step_sizes: the default rule of the inner step sizes
    (OriginStep.step_sizes) for kinds with a step; lr_schedule: the default rate over a run
    (TrainConfig.lr_schedule); batch_size: the default examples per step (TrainConfig.batch_size).
    """

    name: str
    build: Callable[[Any], Any]
    defaults: dict[str, Any]
    lr: float
    origin_step: bool = False
    paper_scale: Callable[[int, int], float] | None = None
    options: tuple[str, ...] = ()
    image_sizes: tuple[int, ...] | None = None
    sized_by_data: str | None = None
    signals: tuple[str, ...] = ("image",)
    coordinate_dims: tuple[int, ...] = ()
    step_sizes: str = "fixed"
    lr_schedule: str = "constant"
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        if self.origin_step and self.paper_scale is None:
            raise GONError(f"model kind {self.name!r} has a gradient-origin step but no paper_scale rule")
        if not self.signals:
            raise GONError(f"model kind {self.name!r} takes no signal: name at least one")

    def accepts(self, signal: Any) -> bool:
        """Whether this kind takes `signal` (a gon.signals.Signal): one it names, or one of its
        coordinate dimensions."""
        return signal.name in self.signals or signal.coordinate_dim in self.coordinate_dims


# name -> spec, in registration order (the order `--model` lists them)
KINDS: dict[str, KindSpec] = {}


def register_kind(spec: KindSpec) -> KindSpec:
    """Add `spec` to the kinds `ModelConfig` accepts and `build_model` builds; a second
    spec under a registered name is an error (two modules claiming one kind)."""
    if spec.name in KINDS and KINDS[spec.name] is not spec:
        raise GONError(f"model kind {spec.name!r} is registered twice")
    KINDS[spec.name] = spec
    return spec


def kinds() -> dict[str, KindSpec]:
    """The registered kinds. The library's register beside their builders in gon.models, which
    this module sits below; that package is loaded here on first use, as a plugin is, so that a
    config can be made before anything imported a model module (`import gon` loads nothing
    eagerly, to keep `gon --help` fast)."""
    if not KINDS:
        importlib.import_module("gon.models")
    return KINDS


def kind_spec(name: str) -> KindSpec:
    """The spec of kind `name`; GONError naming the registered kinds for any other name."""
    try:
        return kinds()[name]
    except (KeyError, TypeError):
        raise GONError(f"unknown model kind {name!r}: choose one of {', '.join(KINDS)}") from None
