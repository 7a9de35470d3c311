"""The `gon` argument parser. The `train` flags are the config fields themselves
(gon/config.py): one flag per field, with its type, choices and help from the field's
declaration, so a new field has its flag, its flat config key and its help at once."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import __version__
from ..config import GON_KINDS, flat_fields
from ..data import KNOWN_SPECS
from ..fields import field_type
from ..paper.map import METHODS, describe_presets
from ..paper.tables import ABLATION_NAMES, QUICK_DATA


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


class Parser(argparse.ArgumentParser):
    """argparse, with one line and a hint for a bad argument instead of the whole usage (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# CPU threads of every computing command: one, unless told. Two threads are faster only
# on an idle machine, and the weights depend on the thread count, so a fixed default gives
# the same numbers anywhere (measured in docs/design.md, "Threads").
DEFAULT_THREADS = 1


def _common_flags(q: argparse.ArgumentParser, threads: bool = True) -> None:
    if threads:
        q.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                       help="CPU threads (default %(default)s; more is faster only on an idle machine)")
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
    if meta.get("choices") is not None:
        p.add_argument(name, dest=key, type=kind if kind is not str else None, choices=meta["choices"],
                       help=help_text)
        return
    if kind is int:
        parse = _positive_int if (meta.get("minimum") or 0) >= 1 else int
    else:
        parse = _number if kind is float else str
    p.add_argument(name, dest=key, type=parse, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gon", description="Gradient Origin Networks: encoder-free latent models.")
    parser.add_argument("--version", action="version", version=f"gon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_help = "data spec: " + ", ".join(KNOWN_SPECS)

    p = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a GON. Flags override values from --config.")
    p.add_argument("--config", type=Path, help="JSON file with 'model' and 'train' sections (as a run's config.json), "
                                               "or flat keys named as these flags")
    for key, (cls, field) in flat_fields().items():
        _config_flag(p, key, cls, field, data_help)
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the interrupted run that was to be written to DIR, from its newest checkpoint")
    p.add_argument("--out", type=Path,
                   help="run directory to create (default runs/<model>, or runs/<model>-2, ... if taken)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run directory (a gon run or an empty folder) once the new run is complete")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def run_command(name: str, help_text: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text, description=help_text)
        q.add_argument("run", type=Path, help="run directory written by `gon train`")
        return q

    def with_data(q: argparse.ArgumentParser) -> None:
        q.add_argument("--data", help=data_help + " (default: the run's training data)")
        q.add_argument("--split", choices=("train", "test"), default="test")

    q = run_command("eval", "evaluate a trained model on held-out data")
    with_data(q)
    q.add_argument("--batch-size", type=_positive_int, default=256, help="images per batch (default %(default)s)")
    q.add_argument("--limit", type=_positive_int, help="evaluate on the first N images only")
    q.add_argument("--seed", type=int, default=0,
                   help="seed of the posterior samples (variational ELBO; default %(default)s)")
    q.add_argument("--batch-statistics", action="store_true",
                   help="normalise BatchNorm with batch statistics, as the paper's scripts (use --batch-size 64)")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    q = run_command("reconstruct", "write a grid of images (odd rows) and their reconstructions (even rows)")
    with_data(q)
    q.add_argument("-n", type=_positive_int, default=32, help="number of images (default %(default)s)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/reconstructions.png)")

    q = run_command("sample", "write a grid of samples")
    q.add_argument("-n", type=_positive_int, default=64, help="number of samples (default %(default)s)")
    q.add_argument("--sampler", choices=("auto", "prior", "gaussian", "gmm"), default="auto",
                   help="prior N(0, I) (variational); gaussian or gmm (a Gaussian mixture whose size is chosen by "
                        "held-out likelihood) fitted to training latents; auto: prior or gaussian")
    q.add_argument("--seed", type=int, default=0, help="seed of the samples (default %(default)s)")
    q.add_argument("--resolution", type=_positive_int,
                   help="render resolution (implicit models; default: the training resolution)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/samples.png)")

    q = run_command("interpolate", "write spherical interpolations between encoded images")
    with_data(q)
    q.add_argument("--pairs", type=_positive_int, default=8, help="image pairs (default %(default)s)")
    q.add_argument("--steps", type=_positive_int, default=10, help="images per interpolation (default %(default)s)")
    q.add_argument("--linear", action="store_true", help="linear instead of spherical interpolation")
    q.add_argument("--resolution", type=_positive_int,
                   help="render resolution (implicit models; default: the training resolution)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/interpolations.png)")
    q.add_argument("--gif", type=Path, help="also write an animated GIF: one frame per step, all pairs side by side")

    q = run_command("render", "render reconstructions of an implicit GON at any resolution")
    with_data(q)
    q.add_argument("--resolution", type=_positive_int, help="pixels per side (default 256)")
    q.add_argument("--sample-rate", type=_positive_int,
                   help="sound models: samples per second of the rendered clips (default: the training rate)")
    q.add_argument("-n", type=_positive_int, default=16, help="number of images (default %(default)s)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/render-<resolution>.png; sound: "
                                            "RUN/render-<rate>hz.png and .wav)")
    q = run_command("inspect", "latent statistics: how normal a model's latents are, with a histogram (Figs. 13-14)")
    with_data(q)
    q.add_argument("--limit", type=_positive_int, default=5000, help="encode at most N images")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/latents.png)")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    q = run_command("export-encoder", "write the affine encoder of a trained model as a matrix and offset")
    with_data(q)
    q.add_argument("--out", type=Path, help="safetensors file (default RUN/encoder.safetensors)")

    q = run_command("report", "write a run's config, loss curve, figures and evaluation as one self-contained HTML page")
    q.add_argument("--out", type=Path, help="HTML file (default RUN/report.html)")

    q = run_command("export-onnx", "export a trained model's decoder, and its affine encoder, to ONNX "
                                   "(checked in onnxruntime against PyTorch on real images)")
    with_data(q)
    q.add_argument("--out", type=Path, help="ONNX file of the decoder (default RUN/decoder.onnx)")
    q.add_argument("--encoder", action="store_true", help="also export the affine encoder z = W x + b")
    q.add_argument("--encoder-out", type=Path,
                   help="ONNX file of the encoder (default encoder.onnx beside the decoder; implies --encoder)")

    bench = sub.add_parser("bench", help="benchmarks that print figures").add_subparsers(
        dest="bench", required=True, metavar="BENCHMARK")
    q = bench.add_parser("speed", help="seconds per training step: paper's formulation, library, plain decoder")
    q.add_argument("--model", dest="kind", choices=GON_KINDS, default="conv")
    q.add_argument("--batch-size", type=_positive_int, default=64, help="images per step (default %(default)s)")
    q.add_argument("--repeats", type=_positive_int, default=10, help="timed steps per formulation (default %(default)s)")
    q.add_argument("--threads", type=_positive_int, default=2, help="CPU threads (default %(default)s)")
    q.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    for name, what in (("table1", "Table 1: held-out summed squared error of GONs, autoencoders, detached and "
                                  "multi-step GONs, and GLO"),
                       ("table2", "Table 2: held-out negative ELBO (bits/dim) of a variational GON and a VAE")):
        q = bench.add_parser(name, help=what, description=what + ". Writes NAME.md, NAME.csv and runs.jsonl.")
        q.add_argument("--quick", action="store_true",
                       help="the CPU preset (minutes; docs/results.md) instead of the paper's epoch counts")
        q.add_argument("--data", nargs="+", default=list(QUICK_DATA), help="data specs (default: %(default)s)")
        q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        q.add_argument("--steps", type=_positive_int, help="training steps per run (overrides the preset)")
        q.add_argument("--out", type=Path, help=f"output directory (default runs/bench/{name})")
    what = ("When a GON beats an autoencoder with the same decoder: held-out error over latent size, budget and "
            "normalisation, each method at its best learning rate (chosen on a validation split)")
    q = bench.add_parser("map", help="the map: GON against autoencoder (and variational GON against VAE)",
                         description=what + ". Writes runs.jsonl, runs.csv, selection.csv, curves.csv, map.md, "
                         "ratio.png and curves.png; a rerun into the same --out continues it. Presets: "
                         + describe_presets() + ".")
    q.add_argument("--quick", action="store_true", help="the CPU preset (minutes) instead of the full map")
    q.add_argument("--data", nargs="+", help="data specs (default: the preset's)")
    q.add_argument("--methods", nargs="+", choices=list(METHODS), help="default: gon ae")
    q.add_argument("--latent-dims", type=_positive_int, nargs="+", help="restrict the preset's latent sizes")
    q.add_argument("--norms", nargs="+", choices=["group", "batch"], help="restrict the preset's normalisations")
    q.add_argument("--budgets", type=_positive_int, nargs="+", help="restrict the preset's budgets (steps)")
    q.add_argument("--seeds", type=int, nargs="+", help="override the preset's seeds")
    q.add_argument("--stages", nargs="+", choices=["selection", "grid", "summary"], default=["selection", "grid"],
                   help="what to run (default: selection grid); summary alone rewrites the tables and plots "
                        "from the runs held, training nothing")
    q.add_argument("--workers", type=_positive_int, default=2,
                   help="runs trained side by side, each in its own process (default %(default)s)")
    q.add_argument("--threads", type=_positive_int, default=1, help="threads per run (default %(default)s)")
    q.add_argument("--out", type=Path, help="output directory (default runs/bench/map, or map-quick)")
    q = bench.add_parser("ablation", help="an ablation of the paper's figures: curves as PNG and CSV",
                         description="Run one ablation: " + ", ".join(ABLATION_NAMES) + ".")
    q.add_argument("name", choices=ABLATION_NAMES)
    q.add_argument("--quick", action="store_true", help="the CPU preset (short runs)")
    q.add_argument("--data", default="mnist5k", help="data spec (default mnist5k)")
    q.add_argument("--seeds", type=int, nargs="+", default=[0])
    q.add_argument("--steps", type=_positive_int, help="training steps per curve (overrides the preset)")
    q.add_argument("--eval-images", type=_positive_int, default=500, help="held-out images evaluated (default 500)")
    q.add_argument("--out", type=Path, help="output directory (default runs/bench/ablations)")
    for name, command in sub.choices.items():
        if name != "bench":
            _common_flags(command)
    for name, command in bench.choices.items():  # speed and map set threads per measurement or per worker
        _common_flags(command, threads=name not in ("speed", "map"))
    return parser
