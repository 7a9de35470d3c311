"""Config fields declared once: a dataclass field carries its help text, flag, allowed
values and whether it is a group of options of some model kinds only (each kind's spec,
gon/kinds.py, names the groups it takes), and `check_fields` is the one typed check of every
config (gon/config.py, gon/origin.py, the groups of options)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import sys
import typing
from dataclasses import field
from typing import Any

from .errors import GONError


def option(
    default: Any = None,
    help: str = "",
    *,
    flag: str | None = None,
    choices: tuple[Any, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    per_kind: bool = False,
    factory: Any = None,
    flat: str | None = None,
    names: tuple[str, ...] | None = None,
) -> Any:
    """A config field: its default, help text, command-line flag (default: the field's name),
    allowed values (choices, a tuple or a function giving one; minimum, maximum, positive), whether it applies only to the model kinds
    that list it among their options (`per_kind`; otherwise to all), for a field of a
    nested config its flat key (and flag) in the enclosing one when that is not its own name
    (`flat_name`), and for a number that may also be a rule by name, those names (e.g.
    inner_scale's "calibrated")."""
    metadata = {
        "help": help,
        "flag": flag or flat,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "positive": positive,
        "per_kind": per_kind,
        "flat": flat,
        "names": names,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_type(cls: type, name: str) -> tuple[type, bool]:
    """(the value type of field `name` of `cls`, whether None is allowed), from its annotation."""
    hint = _hints(cls)[name]
    args = typing.get_args(hint)
    if args:
        kinds = [a for a in args if a is not type(None)]
        return kinds[0], type(None) in args
    return hint, False


def choices_of(f: dataclasses.Field) -> tuple[Any, ...] | None:
    """A field's allowed values; `choices` may be a function, for a list that grows at run time (the model kinds)."""
    choices = f.metadata.get("choices")
    return choices() if callable(choices) else choices


def default_of(f: dataclasses.Field) -> Any:
    """The value a field holds when it is not given."""
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def flat_name(f: dataclasses.Field) -> str:
    """The flat config key (and flag) of a field of a nested config (`OriginStep.steps` is
    inner_steps); a field of no nested config, or one flat under its own name, is its name."""
    return f.metadata.get("flat") or f.name


def changed_fields(config: Any, default: Any) -> list[tuple[str, Any]]:
    """(flat key, value) of each field in which a nested config differs from `default`."""
    return [
        (flat_name(f), getattr(config, f.name))
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(default, f.name)
    ]


def check_fields(config: Any, model_kind: str | None = None, options: tuple[str, ...] = ()) -> None:
    """GONError unless every field of a config dataclass holds a value of its declared type
    within its metadata's limits (the one place configs are type-checked) and, given the
    `model_kind` and the per-kind `options` it takes, unless every other per-kind field
    holds its default: an option that does not apply is refused, not recorded."""
    for f in dataclasses.fields(config):
        if f.metadata.get("help") is None:
            continue
        value = getattr(config, f.name)
        if model_kind is not None and f.metadata.get("per_kind") and f.name not in options and value != default_of(f):
            # a group of options (a nested config) is named by the flag of the first one given
            name, given = (
                changed_fields(value, default_of(f))[0] if dataclasses.is_dataclass(value) else (f.name, value)
            )
            raise GONError(f"{name} does not apply to {model_kind} models (got {short(given)})")
        kind, optional = field_type(type(config), f.name)
        if value is None and optional:
            continue
        name = flat_name(f)  # a nested field is known by its flag (inner_steps, not steps)
        names = f.metadata.get("names")
        if names and isinstance(value, str):
            if value not in names:
                raise GONError(f"{name} must be a number or one of {', '.join(names)}, got {short(value)}")
            continue
        if kind is bool:
            if not isinstance(value, bool):
                raise GONError(f"{name} must be true or false, got {value!r}")
            continue
        minimum = f.metadata.get("minimum")
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                what = "a positive integer" if minimum == 1 else "an integer"
                raise GONError(f"{name} must be {what}, got {short(value)}")
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GONError(f"{name} must be a finite number, got {short(value)}")
        elif kind is str:
            if not isinstance(value, str):
                raise GONError(f"{name} must be a string, got {short(value)}")
        elif dataclasses.is_dataclass(kind):
            if not isinstance(value, kind):
                raise GONError(f"{name} must be a {kind.__name__}, got {short(value)}")
            continue
        choices = choices_of(f)
        if choices is not None and value not in choices:
            raise GONError(f"{name} must be one of {', '.join(map(str, choices))}, got {short(value)}")
        if minimum is not None and value < minimum:
            what = "a positive integer" if kind is int and minimum == 1 else f"at least {minimum:g}"
            raise GONError(f"{name} must be {what}, got {short(value)}")
        if f.metadata.get("positive") and not value > 0:
            raise GONError(f"{name} must be a positive number, got {short(value)}")
        maximum = f.metadata.get("maximum")
        if maximum is not None and value > maximum:
            raise GONError(f"{name} must be at most {maximum:g}, got {short(value)}")


def short(value: Any) -> str:
    """A value for an error message, cut short (a 5,000-digit integer stays one short line)."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit for str()
        return f"an integer of over {sys.get_int_max_str_digits()} digits"
    return text if len(text) <= 60 else text[:40] + f"... ({len(text)} characters)"


def positive_int(text: str) -> int:
    """argparse type of a flag that takes a positive integer (a field's, `minimum=1`, and others)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def number(text: str) -> float:
    """argparse type of a flag that takes a number (a float field's, and others)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


# numpy's seed range, and so every seed's (config, eval, sample, bench)
MAX_SEED = 2**32 - 1
# the most CPU threads a command takes: 100,000 asked PyTorch for a MemoryError; no machine
# this library runs on has more cores than this
MAX_THREADS = 1024


def thread_count(text: str) -> int:
    """argparse type of a --threads flag: a positive integer up to MAX_THREADS."""
    value = positive_int(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_THREADS} threads, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse type of a --seed flag: a seed in the range every seed of this library has
    (TrainConfig.seed's, 0 to MAX_SEED)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**32 - 1, got {short(value)}")
    return value
