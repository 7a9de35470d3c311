"""The shape of every parser of `gon` as data (flags.json beside this file), so that a flag no
command takes is answered at once: the real parser (parser.py) is built from the config and so
loads torch, which takes seconds.

For each parser the table holds its option strings, how many values each takes, its
positionals, and what a value must be where that can be checked here (a choice, or a type of
gon.fields). `check` runs argparse itself on a parser of that shape, so values that start with
a dash, `--`, `--flag=value`, `-n5` and positionals are read as the real parser reads them. It
answers only what it is sure the real parser would: an unrecognized argument, with no help
asked, nothing missing and every value given one the real parser takes (it names a bad value
first). Anything else it leaves to the real parser.

The table is generated from the real parser, never edited by hand (tests/test_cli.py checks it):

    python -m gon.cli.parser            # rewrite flags.json
    python -m gon.cli.parser --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..fields import number, positive_int, seed_int, thread_count
from .front import Parser

TABLE = Path(__file__).with_name("flags.json")
REGENERATE = "python -m gon.cli.parser"

# the flag types whose verdict the table can give without the real parser: by their qualified
# name; a value of any other type (a closure of parser.py, say) is left to the real parser
TYPES = {
    f"{t.__module__}:{t.__qualname__}": t for t in (int, float, str, Path, number, positive_int, seed_int, thread_count)
}
UNCHECKED = "unchecked"
# argparse's actions that only store what they are given; any other (help, version, one of
# ours) acts, and the real parser must run it
_STORING = (
    argparse._StoreAction,
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
    argparse._AppendAction,
    argparse._AppendConstAction,
    argparse._ExtendAction,
    argparse._CountAction,
    argparse.BooleanOptionalAction,
)


# the table


def describe(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The table of `parser` and its commands' parsers: prog -> settings and actions."""
    if parser.fromfile_prefix_chars or parser._mutually_exclusive_groups:
        raise ValueError(f"{parser.prog}: the flag table cannot describe argument files or exclusive groups yet")
    settings = {"prefix_chars": parser.prefix_chars, "allow_abbrev": parser.allow_abbrev}
    table = {parser.prog: {"settings": settings, "actions": []}}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands = {name: sub.prog for name, sub in action.choices.items()}
            entry = {"options": [], "nargs": action.nargs, "required": action.required, "commands": commands}
            for sub in action.choices.values():
                table.update(describe(sub))
        else:
            entry = {
                "options": list(action.option_strings),
                "nargs": action.nargs,
                "required": action.required,
                "stores": type(action) in _STORING,
                "type": _type_name(action.type),
                "choices": None if action.choices is None else list(action.choices),
            }
        table[parser.prog]["actions"].append(entry)
    return table


def _type_name(kind: Any) -> str | None:
    if kind is None:
        return None
    name = f"{getattr(kind, '__module__', '')}:{getattr(kind, '__qualname__', '')}"
    return name if TYPES.get(name) is kind else UNCHECKED


def text(table: dict[str, Any]) -> str:
    """The table as flags.json holds it: JSON, one action a line."""
    parsers = []
    for prog, entry in table.items():
        actions = ",\n".join("    " + json.dumps(action) for action in entry["actions"])
        parsers.append(
            f'  {json.dumps(prog)}: {{"settings": {json.dumps(entry["settings"])}, "actions": [\n{actions}\n  ]}}'
        )
    return "{\n" + ",\n".join(parsers) + "\n}\n"


@functools.cache
def load() -> dict[str, Any]:
    return json.loads(TABLE.read_text())


# the check


class _Unsure(Exception):
    """The table cannot tell what the real parser would answer."""


class _Shape(argparse.ArgumentParser):
    """A parser of the table's shape: it stores nothing, and leaves every error to the real parser."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise _Unsure(message)


class _Seen(argparse.Action):
    """An action of the table: it notes the values it is given, judged once the parse is done."""

    def __init__(self, option_strings: list[str], dest: str, entry: dict[str, Any], seen: list, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.entry, self.seen = entry, seen

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        self.seen.append((self.entry, values))


def _shape(
    table: dict[str, Any], prog: str, seen: list, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    if parser is None:
        parser = _Shape(prog=prog, add_help=False, **table[prog]["settings"])
    for index, action in enumerate(table[prog]["actions"]):
        dest = f"_{index}"
        if "commands" in action:
            sub = parser.add_subparsers(dest="_command", required=action["required"])
            for name, command in action["commands"].items():
                _shape(table, command, seen, sub.add_parser(name, add_help=False, **table[command]["settings"]))
        elif action["options"]:
            parser.add_argument(
                *action["options"],
                dest=dest,
                action=_Seen,
                nargs=action["nargs"],
                required=action["required"],
                entry=action,
                seen=seen,
            )
        else:
            parser.add_argument(dest, action=_Seen, nargs=action["nargs"], entry=action, seen=seen)
    return parser


def _takes(entry: dict[str, Any], value: Any) -> bool:
    """Whether the real parser takes `value` (a string, or None where none was given) for this action."""
    if value is None:  # nargs="?" with no value: the real parser checks its const against the choices
        return entry["choices"] is None
    if entry["type"] is not None:
        kind = TYPES.get(entry["type"])
        if kind is None:  # UNCHECKED
            return False
        try:
            value = kind(value)
        except Exception:
            return False
    return entry["choices"] is None or value in entry["choices"]


def check(argv: Sequence[str]) -> None:
    """Exit 2, as the real parser would, if `argv` holds an argument that no parser of `gon`
    takes and the table is sure the real parser would say just that; otherwise return."""
    table = load()
    seen: list = []
    try:
        namespace, extras = _shape(table, "gon", seen).parse_known_args(list(argv))
    except _Unsure:
        return
    if not extras:
        return
    for entry, values in seen:
        given = values if isinstance(values, list) else [values]
        if not entry["stores"] or not all(_takes(entry, value) for value in given):
            return
    refuse(namespace._command, extras)


def refuse(command: str, extras: Sequence[str]) -> NoReturn:
    """Exit 2: `extras` are arguments that no parser of `gon COMMAND` takes; with the flag of the
    command each one that looks like an option is closest to, if any."""
    table = load()
    prog = next(a["commands"][command] for a in table["gon"]["actions"] if "commands" in a)
    # compared without their dashes, which would make --bogus look like --out
    options = {option.lstrip("-"): option for action in table[prog]["actions"] for option in action["options"]}
    guesses = {}
    for extra in extras:
        name = extra.split("=", 1)[0]
        if name.startswith("-") and name not in options.values():
            close = difflib.get_close_matches(name.lstrip("-"), options, n=1)
            if close:
                guesses[name] = options[close[0]]
    hint = ""
    if len(guesses) == 1:
        hint = f"; did you mean {next(iter(guesses.values()))}?"
    elif guesses:
        hint = "; did you mean " + ", ".join(f"{guess} for {name}" for name, guess in guesses.items()) + "?"
    Parser(prog=prog).error(f"unrecognized arguments: {' '.join(extras)}{hint}")
