"""`prepare_run`: what every training run does before the loop, in one place.

    model, model_config, config = prepare_run(ModelConfig(kind="conv"), TrainConfig(steps=300), data)
    history = fit(model, data, config)

`train`, the paper's tables and map and the benchmark scripts all start here: the data
fitted to the model (`data_for_model`, `data_for_run`), the config sized to the data, the
weights seeded and built (with the size check), the learning rate resolved per kind.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import ModelConfig, TrainConfig
from ..data import Data, ImageData, load_data
from ..data.sources import SOURCES, parse_spec
from ..errors import GONError
from ..kinds import kind_spec
from ..models import LatentModel, build_model
from ..signals import signal_named, signal_of
from .loop import seed_everything


def data_signal(kind: str, spec: str) -> str | None:
    """The signal of the data `spec` when a model of `kind` takes it, else None: what a config
    that names no signal trains on (`--model modulated --data videos` is a video model)."""
    source, _ = parse_spec(spec)
    return source.signal if kind_spec(kind).accepts(signal_named(source.signal)) else None


def config_for_data(config: ModelConfig, spec: str) -> ModelConfig:
    """`config` with the signal of its training data `spec` (`data_signal`), where the config names
    none; otherwise `config` itself, which `data_for_model` checks against the data."""
    signal = data_signal(config.kind, spec)
    if config.signal is not None or signal is None:
        return config
    return dataclasses.replace(config, signal=signal)


def data_for_model(
    spec: str, split: str, config: ModelConfig, fit: str = "resize", limit: int | None = None, stream: bool = False
) -> Data:
    """Split `split` of `spec` fitted to a model, as its signal says (gon/signals): an image
    model's image size and channels, a sound model's sample rate and clip length, a video model's
    frames, rate and size. GONError if the source yields another signal than the model's."""
    source, _ = parse_spec(spec)
    signal = signal_of(config)
    if source.signal != signal.name:
        forms = ", ".join(s.usage.split()[0] for s in SOURCES.values() if s.signal == signal.name)
        raise GONError(f"{spec!r} holds {source.signal}s, and a {config.kind} model trains on {signal.name}s ({forms})")
    return load_data(
        spec, split, channels=config.channels, fit=fit, limit=limit, stream=stream, **signal.load_settings(config)
    )


def data_for_run(
    document: dict[str, Any],
    config: ModelConfig,
    spec: str | None = None,
    split: str = "test",
    limit: int | None = None,
) -> Data:
    """Data for a saved run (its config document): `spec`, or the data set it was trained on,
    fitted to the model as its training was."""
    train = document.get("train") if isinstance(document.get("train"), dict) else {}
    return data_for_model(spec or train.get("data") or "mnist5k", split, config, train.get("fit", "resize"), limit)


def sized_for(model_config: ModelConfig, data: ImageData) -> ModelConfig:
    """`model_config` with what only the training data can tell (`KindSpec.sized_by_data`:
    a GLO model's code table has a row per training image; GONError if the config names
    another count)."""
    field = kind_spec(model_config.kind).sized_by_data
    if field is None:
        return model_config
    given = model_config.value(field)
    if given not in (None, len(data)):
        raise GONError(f"{field} is {given}, but {data.name} has {len(data)} training images")
    return model_config.replaced(**{field: len(data)})


def prepare_run(
    model_config: ModelConfig, config: TrainConfig, data: ImageData
) -> tuple[LatentModel, ModelConfig, TrainConfig]:
    """A fresh model for training on `data`, its weights drawn from config.seed; with the
    model config sized to the data and the train config with its rate resolved per kind
    (what a run records) and, when neither steps nor epochs is given, the default length as
    its steps."""
    model_config = sized_for(model_config, data)
    seed_everything(config.seed)
    model = build_model(model_config)
    config = dataclasses.replace(
        config,
        lr=config.learning_rate(model_config.kind),
        lr_schedule=config.schedule(model_config.kind),
        batch_size=config.batch(model_config.kind),
    )
    if config.steps is None and config.epochs is None:
        config = dataclasses.replace(config, steps=config.total_steps(len(data)))
    return model, model_config, config
