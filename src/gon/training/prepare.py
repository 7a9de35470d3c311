"""`prepare_run`: what every training run does before the loop, in one place.

    model, model_config, config = prepare_run(ModelConfig(kind="conv"), TrainConfig(steps=300), data)
    history = fit(model, data, config)

`train`, the paper's tables and map and the benchmark scripts all start here: the
config sized to the data, the weights seeded and built (with the size check), the
learning rate resolved per kind.
"""

from __future__ import annotations

import dataclasses

from ..config import ModelConfig, TrainConfig
from ..data import ImageData
from ..errors import GONError
from ..kinds import kind_spec
from ..models import LatentModel, build_model
from .loop import seed_everything


def sized_for(model_config: ModelConfig, data: ImageData) -> ModelConfig:
    """`model_config` with what only the training data can tell (`KindSpec.sized_by_data`:
    a GLO model's code table has a row per training image; GONError if the config names
    another count)."""
    field = kind_spec(model_config.kind).sized_by_data
    if field is None:
        return model_config
    given = getattr(model_config, field)
    if given not in (None, len(data)):
        raise GONError(f"{field} is {given}, but {data.name} has {len(data)} training images")
    return dataclasses.replace(model_config, **{field: len(data)})


def prepare_run(model_config: ModelConfig, config: TrainConfig,
                data: ImageData) -> tuple[LatentModel, ModelConfig, TrainConfig]:
    """A fresh model for training on `data`, its weights drawn from config.seed; with the
    model config sized to the data and the train config with its rate resolved per kind
    (what a run records)."""
    model_config = sized_for(model_config, data)
    seed_everything(config.seed)
    model = build_model(model_config)
    return model, model_config, dataclasses.replace(config, lr=config.learning_rate(model_config.kind))
