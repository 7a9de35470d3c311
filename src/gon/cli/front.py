"""The front of `gon`: the commands' names and one-line help, and the parser that answers
`gon --help`, `gon --version`, no command or a mistyped one before torch and the library
are imported (they take seconds to load; these answers should not wait for them). The
parser of a command itself (gon/cli/parser.py) is built only when that command is named."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import __version__

DESCRIPTION = "Gradient Origin Networks: encoder-free latent models."

# name -> one line of help, in the order `gon --help` lists them
COMMANDS = {
    "train": "train a model and write a run directory",
    "eval": "evaluate a trained model on held-out data",
    "reconstruct": "write a grid of images (odd rows) and their reconstructions (even rows)",
    "sample": "write a grid of samples",
    "interpolate": "write spherical interpolations between encoded images",
    "render": "render reconstructions of an implicit GON at any resolution",
    "inspect": "latent statistics: how normal a model's latents are, with a histogram (Figs. 13-14)",
    "export-encoder": "write the affine encoder of a trained model as a matrix and offset",
    "report": "write a run's config, loss curve, figures and evaluation as one self-contained HTML page",
    "export-onnx": "export a trained model's decoder, and its affine encoder, to ONNX "
    "(checked in onnxruntime against PyTorch on real images)",
}


class Parser(argparse.ArgumentParser):
    """argparse, with one line and a hint for a bad argument instead of the whole usage (exit 2),
    and no abbreviated flags: `--step 10` is an error, not `--steps 10`."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def top_parser() -> tuple[Parser, argparse._SubParsersAction]:
    """`gon` with --version and no commands yet: (the parser, its subcommands to add them to)."""
    parser = Parser(prog="gon", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"gon {__version__}")
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def front_parser() -> Parser:
    """`gon` with every command named but none of their flags: enough for --help, --version
    and the error for an unknown command."""
    parser, sub = top_parser()
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` names: its first argument that is not an option (`gon` itself takes
    no option with a value)."""
    return next((a for a in argv if not a.startswith("-")), None)
