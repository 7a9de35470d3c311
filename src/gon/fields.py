"""Config fields declared once: a dataclass field carries its help text, flag, allowed
values and the model kinds it applies to, and `check_fields` is the one typed check of
every config (gon/config.py, gon/origin.py)."""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import typing
from dataclasses import field
from typing import Any

from .errors import GONError


def option(default: Any = None, help: str = "", *, flag: str | None = None, choices: tuple[Any, ...] | None = None,
           minimum: float | None = None, maximum: float | None = None, positive: bool = False, kinds: tuple[str, ...] | None = None,
           factory: Any = None, flat: str | None = None) -> Any:
    """A config field: its default, help text, command-line flag (default: the field's name),
    allowed values (choices, minimum, maximum, positive), the model kinds it applies to (None: all)
    and, for a field of a nested config, its flat key (and flag) in the enclosing one."""
    metadata = {"help": help, "flag": flag or flat, "choices": choices, "minimum": minimum, "maximum": maximum,
                "positive": positive,
                "kinds": kinds, "flat": flat}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@functools.lru_cache(maxsize=None)
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


def check_fields(config: Any) -> None:
    """GONError unless every field of a config dataclass holds a value of its declared type
    within its metadata's limits (the one place configs are type-checked)."""
    for f in dataclasses.fields(config):
        if f.metadata.get("help") is None:
            continue
        value = getattr(config, f.name)
        kind, optional = field_type(type(config), f.name)
        if value is None and optional:
            continue
        name = f.name
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
        choices = f.metadata.get("choices")
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
