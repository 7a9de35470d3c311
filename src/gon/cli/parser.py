"""The `gon` argument parser. The `train` flags are the config fields themselves
(gon/config.py): one flag per field, with its type, choices and help from the field's
declaration, so a new field has its flag, its flat config key and its help at once."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ..config import flat_fields
from ..data import known_specs
from ..data.sources import SOURCES
from ..fields import choices_of, field_type, number, positive_int, seed_int, thread_count
from ..files import write_text
from ..pretrained import available
from .flags import REGENERATE, TABLE, describe, text
from .front import COMMANDS, top_parser


def _at_most(maximum: float, unit: str, kind: type = int):
    """argparse type of a rendering rate: a positive number up to the bound its training setting has."""

    def parse(text: str) -> float:
        value = positive_int(text) if kind is int else number(text)
        if not 0 < value:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected at most {maximum:g} {unit}, the training limit, got {text!r}")
        return value

    return parse


def _maximum(key: str) -> float:
    """The largest value of the config field whose flat key is `key`."""
    return flat_fields()[key][1].metadata["maximum"]


def rate_options(q: argparse.ArgumentParser) -> None:
    """The rendering flags of a signal with a time axis (gon/signals: RENDER_FLAGS)."""
    q.add_argument(
        "--sample-rate",
        type=_at_most(_maximum("sample_rate"), "Hz"),
        help="implicit audio models: samples per second of the rendered clips (default: the training rate)",
    )
    q.add_argument(
        "--fps",
        type=_at_most(_maximum("fps"), "fps", float),
        help="implicit video models: frames per second of the rendered clips, over the training clip's "
        "duration (default: the training rate)",
    )


def _splits() -> tuple[str, ...]:
    """Every split name a registered source reads (train, test, and an audio folder's all)."""
    return tuple(dict.fromkeys(split for source in SOURCES.values() for split in source.splits))


def _number_or_name(names: tuple[str, ...]):
    """A number, or one of `names` (a rule such as inner_scale's "calibrated")."""

    def parse(text: str) -> float | str:
        if text in names:
            return text
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number or one of {', '.join(names)}, got {text!r}") from None

    return parse


# CPU threads of every computing command: one, unless told. Two threads are faster only
# on an idle machine, and the weights depend on the thread count, so a fixed default gives
# the same numbers anywhere (measured in docs/design.md, "Threads").
DEFAULT_THREADS = 1


def common_flags(q: argparse.ArgumentParser, threads: bool = True) -> None:
    """--verbose, and --threads unless the command sets threads per measurement or per worker."""
    if threads:
        q.add_argument(
            "--threads",
            type=thread_count,
            default=DEFAULT_THREADS,
            help="CPU threads (default %(default)s; more is faster only on an idle machine)",
        )
    q.add_argument("--verbose", action="store_true", help="also log details (which gradient-origin path runs)")


def _config_flag(p: argparse.ArgumentParser, key: str, cls: type, field: dataclasses.Field, data_help: str) -> None:
    """The flag of one config field: --KEY (or the field's own `flag`), typed by the field."""
    meta = field.metadata
    kind, _ = field_type(cls, field.name)
    help_text = data_help if key == "data" else meta["help"]
    default = field.default
    if default not in (None, dataclasses.MISSING) and "default" not in help_text and kind is not bool:
        help_text += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
    name = "--" + (meta.get("flag") or key).replace("_", "-")
    if kind is bool:
        p.add_argument(name, dest=key, action="store_true", default=None, help=help_text)
        return
    choices = choices_of(field)
    if choices is not None:
        p.add_argument(name, dest=key, type=kind if kind is not str else None, choices=choices, help=help_text)
        return
    if kind is int:
        parse = positive_int if (meta.get("minimum") or 0) >= 1 else int
    elif meta.get("names"):
        parse = _number_or_name(meta["names"])
    else:
        parse = number if kind is float else str
    p.add_argument(name, dest=key, type=parse, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    """The `gon` parser."""
    parser, sub = top_parser()
    data_help = "data spec: " + ", ".join(known_specs())

    p = sub.add_parser("train", help=COMMANDS["train"], description="Train a GON. Flags override values from --config.")
    p.add_argument(
        "--config",
        type=Path,
        help="JSON file with 'model' and 'train' sections (as a run's config.json), or flat keys named as these flags",
    )
    for key, (cls, field) in flat_fields().items():
        _config_flag(p, key, cls, field, data_help)
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the interrupted run that was to be written to DIR, from its newest checkpoint",
    )
    p.add_argument(
        "--out", type=Path, help="run directory to create (default runs/<model>, or runs/<model>-2, ... if taken)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing run directory (a gon run or an empty folder) once the new run is complete",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def run_command(name: str, pretrained: bool = False) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        if not pretrained:
            q.add_argument("run", type=Path, help="run directory written by `gon train`")
            return q
        q.add_argument("run", type=Path, nargs="?", help="run directory written by `gon train` (or --pretrained)")
        q.add_argument(
            "--pretrained",
            metavar="NAME",
            choices=available(),
            help=f"a model shipped with the package instead of a run: {', '.join(available())} "
            f"(pictures go into the working directory)",
        )
        return q

    def with_data(q: argparse.ArgumentParser) -> None:
        q.add_argument("--data", help=data_help + " (default: the run's training data)")
        q.add_argument(
            "--split",
            choices=_splits(),
            default="test",
            help="which split (default %(default)s); all: every file of an audio folder, for one too "
            "small to hold test files",
        )

    q = run_command("eval", pretrained=True)
    with_data(q)
    q.add_argument("--batch-size", type=positive_int, default=256, help="images per batch (default %(default)s)")
    q.add_argument("--limit", type=positive_int, help="evaluate on the first N images only")
    q.add_argument(
        "--seed", type=seed_int, default=0, help="seed of the posterior samples (variational ELBO; default %(default)s)"
    )
    q.add_argument(
        "--batch-statistics",
        action="store_true",
        help="normalise BatchNorm with batch statistics, as the paper's scripts (use --batch-size 64)",
    )
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    q = run_command("reconstruct", pretrained=True)
    with_data(q)
    q.add_argument("-n", type=positive_int, default=32, help="number of images (default %(default)s)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/reconstructions.png)")

    q = run_command("sample", pretrained=True)
    q.add_argument("-n", type=positive_int, default=64, help="number of samples (default %(default)s)")
    q.add_argument(
        "--sampler",
        choices=("auto", "prior", "gaussian", "gmm"),
        default="auto",
        help="prior N(0, I) (variational); gaussian or gmm (a Gaussian mixture whose size is chosen by "
        "held-out likelihood) fitted to training latents; auto: prior or gaussian",
    )
    q.add_argument("--seed", type=seed_int, default=0, help="seed of the samples (default %(default)s)")
    q.add_argument(
        "--resolution", type=positive_int, help="render resolution (implicit models; default: the training resolution)"
    )
    rate_options(q)
    q.add_argument("--out", type=Path, help="PNG file (default RUN/samples.png)")

    q = run_command("interpolate", pretrained=True)
    with_data(q)
    q.add_argument("--pairs", type=positive_int, default=8, help="image pairs (default %(default)s)")
    q.add_argument("--steps", type=positive_int, default=10, help="images per interpolation (default %(default)s)")
    q.add_argument("--linear", action="store_true", help="linear instead of spherical interpolation")
    q.add_argument(
        "--resolution", type=positive_int, help="render resolution (implicit models; default: the training resolution)"
    )
    rate_options(q)
    q.add_argument("--out", type=Path, help="PNG file (default RUN/interpolations.png)")
    q.add_argument("--gif", type=Path, help="also write an animated GIF: one frame per step, all pairs side by side")

    q = run_command("render", pretrained=True)
    with_data(q)
    q.add_argument(
        "--resolution",
        type=positive_int,
        help="pixels per side (images: default 256; video: default the training size)",
    )
    rate_options(q)
    q.add_argument("-n", type=positive_int, default=16, help="number of images (default %(default)s)")
    q.add_argument(
        "--out",
        type=Path,
        help="PNG file (default RUN/render-<resolution>.png; audio: "
        "RUN/render-<rate>hz.png and .wav; video: RUN/render-<size>px-<fps>fps.png "
        "and .gif)",
    )
    q = run_command("inspect")
    with_data(q)
    q.add_argument("--limit", type=positive_int, default=5000, help="encode at most N images")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/latents.png)")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    q = run_command("export-encoder")
    with_data(q)
    q.add_argument("--out", type=Path, help="safetensors file (default RUN/encoder.safetensors)")

    q = run_command("report")
    q.add_argument("--out", type=Path, help="HTML file (default RUN/report.html)")

    q = run_command("export-onnx")
    with_data(q)
    q.add_argument("--out", type=Path, help="ONNX file of the decoder (default RUN/decoder.onnx)")
    q.add_argument("--encoder", action="store_true", help="also export the affine encoder z = W x + b")
    q.add_argument(
        "--encoder-out",
        type=Path,
        help="ONNX file of the encoder (default encoder.onnx beside the decoder; implies --encoder)",
    )

    for command in sub.choices.values():
        common_flags(command)
    return parser


def regenerate(check: bool = False) -> int:
    """Write the parser's flag table to gon/cli/flags.json (atomically, as every file the library
    writes), or with `check` only say whether it is stale (exit code 1)."""
    fresh = text(describe(build_parser()))
    if check:
        stale = not TABLE.is_file() or TABLE.read_text() != fresh
        print(f"{TABLE} is stale: run `{REGENERATE}`" if stale else f"{TABLE} is up to date")
        return int(stale)
    write_text(TABLE, fresh)
    print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":  # the flag table, gon/cli/flags.json: rewrite it, or with --check say if it is stale
    sys.exit(regenerate(check="--check" in sys.argv[1:]))
