"""`build_model`: a model kind's name -> its builder. GON kinds (gon/models/gon.py) and the
paper's baselines (gon/models/baselines.py) register here side by side."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import TYPE_CHECKING, Callable

import torch

from ..config import AUDIO_KINDS, ModelConfig
from ..errors import GONError

if TYPE_CHECKING:
    from .base import LatentModel

BUILDERS: dict[str, Callable[[ModelConfig], "LatentModel"]] = {}

# the largest model build_model allocates: 2^28 values of weights and buffers (1 GiB as float32)
MAX_MODEL_VALUES = 1 << 28


def register(kind: str) -> Callable:
    """Decorator: `builder(config) -> model` builds models of `kind` (a name of config.MODEL_KINDS)."""
    def add(builder: Callable[[ModelConfig], "LatentModel"]) -> Callable[[ModelConfig], "LatentModel"]:
        BUILDERS[kind] = builder
        return builder
    return add


def check_model_size(config: ModelConfig) -> int:
    """The number of values (weights and buffers) of `config`'s model, counted on the meta
    device without allocating them; GONError over MAX_MODEL_VALUES. A GLO table whose size
    the training data will set counts one row (the data limits bound the rest)."""
    if config.kind == "glo" and config.train_images is None:
        config = dataclasses.replace(config, train_images=1)
    try:
        with torch.device("meta"):
            shapes = BUILDERS[config.kind](config)
        values = sum(t.numel() for t in itertools.chain(shapes.parameters(), shapes.buffers()))
    except RuntimeError:  # a size that overflows even torch's own count
        values = math.inf
    values += (config.classes or 0) * (config.latent_dim + 1)
    if values > MAX_MODEL_VALUES:
        raise GONError(f"this {config.kind} model would hold {values:,} values ({values * 4 / 2 ** 30:.1f} GiB); "
                       f"the limit is {MAX_MODEL_VALUES:,}: lower latent_dim, hidden_features, classes or image_size")
    return int(values)


def build_model(config: ModelConfig) -> "LatentModel":
    """A fresh model for `config`, initialised as the paper's: a GON (kind "conv"),
    VariationalGON ("variational") or ImplicitGON ("implicit"), with a classifier head when
    config.classes is set, or the baseline of the other kinds; in training mode.
    GONError, before anything is allocated, for a model over MAX_MODEL_VALUES."""
    check_model_size(config)
    model = BUILDERS[config.kind](config)
    if config.classes is not None:
        model.add_classifier(config.classes, float(config.reconstruction_weight))
    model.config = config  # what save_pretrained writes
    model.image_shape = config.data_shape
    if config.kind in AUDIO_KINDS:
        model.value_range = (-1.0, 1.0)
    return model
