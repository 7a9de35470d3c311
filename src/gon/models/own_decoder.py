"""Saving and loading a GON around a decoder of your own: the weights, the step's settings
and the model's other settings, never its code.

    model = GON(MyDecoder(64), latent_dim=64)
    model.save_pretrained("models/mine")           # config.json + model.safetensors
    model = GON.from_pretrained("models/mine", decoder=MyDecoder(64))

The decoder's code stays yours: loading builds the GON around the decoder you pass and
fills it with the saved weights (a shape that does not fit is one line, not a traceback).
What is saved is generic, so settings a GON gains later travel without a change here:
every weight and buffer (`state_dict`, plus buffers registered as None and set later, such
as a scale calibrated on the first batch), every dataclass attribute (the step,
`OriginStep`, and any config dataclass) field by field, and every other public attribute
whose value is plain JSON (numbers, strings, lists, dicts). Losses are saved by name: the
library's are restored by name, your own must be passed again (`inner_loss=...`).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from .. import losses
from ..errors import GONError
from ..files import FORMAT, read_tensors, save_tensors, write_directory_atomically, write_json
from ..origin import recorded_step
from .saving import CONFIG_FILE, OWN_DECODER, WEIGHTS_FILE, read_config

# attributes the constructor or nn.Module set, not settings of the model
_NOT_SETTINGS = frozenset({"training", "latent_dim", "decoder", "classifier", "config"})
_LOSSES = ("inner_loss", "outer_loss")


def save_own_decoder_gon(model: nn.Module, directory: str | Path) -> Path:
    """Write `model` into `directory` as config.json + model.safetensors, whole or not at all."""
    document = {"format": FORMAT, OWN_DECODER: describe(model)}
    json.dumps(document)  # a setting that is not JSON fails here, before anything is written

    def save(staging: Path) -> None:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_tensors(state, staging / WEIGHTS_FILE, metadata={"format": FORMAT, "kind": OWN_DECODER})
        write_json(staging / CONFIG_FILE, document)

    return write_directory_atomically(directory, save, merge=(WEIGHTS_FILE, CONFIG_FILE))


def describe(model: nn.Module) -> dict[str, Any]:
    """The JSON description of a GON around any decoder: its class, latent size, losses,
    dataclass settings and plain settings (see the module doc)."""
    settings: dict[str, Any] = {}
    dataclass_settings: dict[str, Any] = {}
    for name, value in vars(model).items():
        if name.startswith("_") or name in _NOT_SETTINGS:
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            dataclass_settings[name] = dataclasses.asdict(value)
        elif _is_json(value):
            settings[name] = list(value) if isinstance(value, tuple) else value
    return {
        "class": type(model).__name__,
        "decoder": type(model.decoder).__name__,
        "latent_dim": model.latent_dim,
        "losses": {name: _loss_name(getattr(model, f"_{name}", None)) for name in _LOSSES},
        "dataclasses": dataclass_settings,
        "settings": settings,
        "classes": model.classifier.out_features if model.classifier is not None else None,
    }


def load_own_decoder_gon(cls: type[nn.Module], directory: str | Path, decoder: nn.Module, **kwargs: Any) -> nn.Module:
    """The GON saved in `directory` by `save_own_decoder_gon`, built as `cls(decoder, latent_dim,
    **kwargs)` around the decoder you pass, with the saved weights and settings, in eval mode."""
    directory = Path(directory)
    document = read_config(directory, own_decoder=True)
    saved = document.get(OWN_DECODER)
    if not isinstance(saved, dict):
        raise GONError(
            f"{directory}: holds a library model: load it with {cls.__name__}.from_pretrained({str(directory)!r})"
            f" and no decoder"
        )
    if saved.get("class") != cls.__name__:
        raise GONError(
            f"{directory}: holds a {saved.get('class')}, not a {cls.__name__}: load it with "
            f"{saved.get('class')}.from_pretrained(path, decoder=...)"
        )
    saved_losses = saved.get("losses", {})
    takes = inspect.signature(cls.__init__).parameters
    for name, loss in saved_losses.items():
        if name not in takes or (name == "outer_loss" and loss == saved_losses.get("inner_loss")):
            continue  # a class with losses of its own (VariationalGON), or the default: outer = inner
        if name not in kwargs and loss is not None:
            if not hasattr(losses, loss):
                raise GONError(
                    f"{directory}: saved with the {name.replace('_', ' ')} {loss!r}, which is not one of "
                    f"gon.losses: pass it again ({cls.__name__}.from_pretrained(path, decoder=..., "
                    f"{name}=...))"
                )
            kwargs[name] = getattr(losses, loss)
    # settings the constructor takes go to it, since they may decide what it builds (a
    # VariationalGON's likelihood its parameters, a step's inner scale a calibration buffer)
    for name, value in saved.get("settings", {}).items():
        if name in takes and name not in ("self", "decoder", "latent_dim"):
            kwargs.setdefault(name, value)
    later = {}
    for name, fields in saved.get("dataclasses", {}).items():
        if name == "step" and isinstance(fields, dict):
            fields = recorded_step(fields)
        default = takes[name].default if name in takes else None
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            kwargs.setdefault(name, _rebuild(default, fields, f"{directory}: {name}"))
        else:
            later[name] = fields
    model = cls(decoder, int(saved["latent_dim"]), **kwargs)
    for name, fields in later.items():
        current = getattr(model, name, None)
        if not dataclasses.is_dataclass(current):
            raise GONError(f"{directory}: saved with a setting {name!r} that a {cls.__name__} does not have")
        setattr(model, name, _rebuild(current, fields, f"{directory}: {name}"))
    for name, value in saved.get("settings", {}).items():
        as_tuple = isinstance(value, list) and (isinstance(getattr(model, name, None), tuple) or name.endswith("shape"))
        setattr(model, name, tuple(value) if as_tuple else value)
    if saved.get("classes") is not None:
        model.add_classifier(int(saved["classes"]), model.reconstruction_weight)
    state, metadata = read_tensors(directory / WEIGHTS_FILE)
    if metadata.get("format") != FORMAT or metadata.get("kind") != OWN_DECODER:
        raise GONError(f"{directory / WEIGHTS_FILE}: not the weights of a GON around a decoder of its own")
    _fill_unset_buffers(model, state)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} into {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label}: {', '.join(keys[:3])}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise GONError(
            f"{directory / WEIGHTS_FILE}: does not fit this {type(decoder).__name__} (saved around a "
            f"{saved.get('decoder')}; {detail}): build the decoder as it was when saved"
        )
    problem = model.state_problem(state)
    if problem is not None:
        raise GONError(f"{directory / WEIGHTS_FILE}: unusable weights ({problem})")
    model.load_state_dict(state)
    return model.eval()


def _fill_unset_buffers(model: nn.Module, state: dict[str, Tensor]) -> None:
    # a buffer registered as None (set on the first batch, e.g. a calibrated scale) is not in a
    # fresh model's state_dict, so load_state_dict would call the saved one unexpected
    for name, module in model.named_modules():
        for buffer, value in module._buffers.items():
            key = f"{name}.{buffer}" if name else buffer
            if value is None and key in state:
                module._buffers[buffer] = state[key].clone()


def _rebuild(current: Any, fields: Any, where: str) -> Any:
    if not isinstance(fields, dict):
        raise GONError(f"{where}: expected a JSON object, got {type(fields).__name__}")
    known = {f.name: f for f in dataclasses.fields(current)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise GONError(f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}")
    values = {
        name: _rebuild(getattr(current, name), value, f"{where}.{name}")
        if dataclasses.is_dataclass(getattr(current, name))
        else value
        for name, value in fields.items()
    }
    try:
        return dataclasses.replace(current, **values)
    except (TypeError, ValueError) as error:
        raise GONError(f"{where}: {error}") from None


def _loss_name(loss: Any) -> str | None:
    name = getattr(loss, "__name__", None)
    if name is not None and getattr(losses, name, None) is loss:
        return name
    return None if loss is None else f"{getattr(loss, '__module__', '?')}.{getattr(loss, '__qualname__', name)}"


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple, dict)):
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return False
        return True
    return False
