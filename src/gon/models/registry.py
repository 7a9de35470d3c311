"""`build_model`: a config -> a fresh model, through its kind's spec (gon/kinds.py). GON
kinds (gon/models/gon.py) and the paper's baselines (gon/models/baselines.py) register
their specs beside their builders; this module knows none of them by name."""

from __future__ import annotations

import dataclasses
import itertools
import math

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import GONError
from ..kinds import kind_spec

# the largest model build_model allocates: 2^28 values of weights and buffers (1 GiB as float32)
MAX_MODEL_VALUES = 1 << 28


def check_model_size(config: ModelConfig) -> int:
    """The number of values (weights and buffers) of `config`'s model, counted on the meta
    device without allocating them; GONError over MAX_MODEL_VALUES. A table whose size the
    training data will set (`KindSpec.sized_by_data`: GLO's codes) counts one row while
    unset (the data limits bound the rest)."""
    spec = kind_spec(config.kind)
    if spec.sized_by_data is not None and getattr(config, spec.sized_by_data) is None:
        config = dataclasses.replace(config, **{spec.sized_by_data: 1})
    try:
        with torch.device("meta"):
            shapes = spec.build(config)
        values = sum(t.numel() for t in itertools.chain(shapes.parameters(), shapes.buffers()))
    except RuntimeError:  # a size that overflows even torch's own count
        values = math.inf
    values += (config.classes or 0) * (config.latent_dim + 1)
    if values > MAX_MODEL_VALUES:
        raise GONError(f"this {config.kind} model would hold {values:,} values ({values * 4 / 2 ** 30:.1f} GiB); "
                       f"the limit is {MAX_MODEL_VALUES:,}: lower latent_dim, hidden_features, classes or image_size")
    return int(values)


def build_model(config: ModelConfig) -> nn.Module:
    """A fresh model for `config` (a LatentModel: gon/models/base.py), initialised as the
    paper's: a GON (kind "conv"), VariationalGON ("variational") or ImplicitGON
    ("implicit"), with a classifier head when config.classes is set, or the baseline of the
    other kinds; in training mode. GONError, before anything is allocated, for a model over
    MAX_MODEL_VALUES."""
    check_model_size(config)
    model = kind_spec(config.kind).build(config)
    if config.classes is not None:
        model.add_classifier(config.classes, float(config.reconstruction_weight))
    return model
