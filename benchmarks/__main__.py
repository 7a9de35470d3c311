"""The benchmarks' command line, run from the repository root:

    python -m benchmarks table1 --quick
    python -m benchmarks map --preset quick
    python -m benchmarks ablation activations --quick
    python -m benchmarks speed --model conv

Its flags, logging and one-line errors (exit 2) are the `gon` command line's (gon.cli.run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gon.cli import run
from gon.cli.front import Parser
from gon.cli.parser import common_flags
from gon.errors import GONError
from gon.fields import positive_int, seed_int, thread_count
from gon.files import json_line
from gon.kinds import KINDS
from gon.origin import DEFAULT_INNER_SCALE, SCALE_RULES

from . import map as paper_map
from . import tables
from .map import MAP_PRESETS, METHODS, describe_presets
from .speed import SpeedConfig, format_speed, speed
from .tables import ABLATION_NAMES, QUICK_DATA


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m benchmarks", description="The paper's benchmarks: programs that print figures.")
    bench = parser.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    q = bench.add_parser("speed", help="seconds per training step: paper's formulation, library, plain decoder")
    q.add_argument("--model", dest="kind", choices=[k for k, spec in KINDS.items() if spec.origin_step], default="conv")
    q.add_argument("--batch-size", type=positive_int, default=64, help="images per step (default %(default)s)")
    q.add_argument("--repeats", type=positive_int, default=10, help="timed steps per formulation (default %(default)s)")
    q.add_argument("--threads", type=thread_count, default=2, help="CPU threads (default %(default)s)")
    q.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    for name, what in (
        (
            "table1",
            "Table 1: held-out summed squared error of GONs, autoencoders, detached and multi-step GONs, and GLO",
        ),
        ("table2", "Table 2: held-out negative ELBO (bits/dim) of a variational GON and a VAE"),
    ):
        q = bench.add_parser(name, help=what, description=what + ". Writes NAME.md, NAME.csv and runs.jsonl.")
        q.add_argument(
            "--quick",
            action="store_true",
            help="the CPU preset (minutes; docs/results.md) instead of the paper's epoch counts",
        )
        q.add_argument("--data", nargs="+", default=list(QUICK_DATA), help="data specs (default: %(default)s)")
        q.add_argument("--seeds", type=seed_int, nargs="+", default=[0, 1, 2])
        q.add_argument("--steps", type=positive_int, help="training steps per run (overrides the preset)")
        q.add_argument("--out", type=Path, help=f"output directory (default runs/bench/{name})")
    what = (
        "When a GON beats an autoencoder with the same decoder: held-out error over latent size, budget and "
        "normalisation, each method at its best learning rate (chosen on a validation split)"
    )
    q = bench.add_parser(
        "map",
        help="the map: GON against autoencoder (variational GON against VAE; on sound, the implicit GON too)",
        description=what + ". Writes runs.jsonl, runs.csv, selection.csv, curves.csv, map.md, "
        "ratio.png and curves.png; a rerun into the same --out continues it. Presets: " + describe_presets() + ".",
    )
    q.add_argument("--preset", choices=list(MAP_PRESETS), help="which map (default: full)")
    q.add_argument("--quick", action="store_true", help="the CPU preset (minutes): --preset quick")
    q.add_argument("--data", nargs="+", help="data specs (default: the preset's)")
    q.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        help="default: the preset's ("
        + "; ".join(f"{name}: {' '.join(p.methods)}" for name, p in MAP_PRESETS.items())
        + "; igon is the implicit GON)",
    )
    q.add_argument("--latent-dims", type=positive_int, nargs="+", help="restrict the preset's latent sizes")
    q.add_argument("--norms", nargs="+", choices=["group", "batch"], help="restrict the preset's normalisations")
    q.add_argument("--budgets", type=positive_int, nargs="+", help="restrict the preset's budgets (steps)")
    q.add_argument("--seeds", type=seed_int, nargs="+", help="override the preset's seeds")
    q.add_argument(
        "--stages",
        nargs="+",
        choices=["selection", "grid", "summary"],
        default=["selection", "grid"],
        help="what to run (default: selection grid); summary alone rewrites the tables and plots "
        "from the runs held, training nothing",
    )
    q.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="runs trained side by side, each in its own process (default %(default)s)",
    )
    q.add_argument("--threads", type=thread_count, default=1, help="threads per run (default %(default)s)")
    q.add_argument(
        "--inner-scale",
        choices=SCALE_RULES,
        default=DEFAULT_INNER_SCALE,
        help="the GON's inner-scale rule (default %(default)s; rows record theirs)",
    )
    q.add_argument(
        "--rates-from",
        choices=SCALE_RULES,
        help="take the GON's rates from the selection made with this rule (default: --inner-scale's)",
    )
    q.add_argument("--out", type=Path, help="output directory (default runs/bench/map, or map-PRESET)")
    q = bench.add_parser(
        "ablation",
        help="an ablation of the paper's figures: curves as PNG and CSV",
        description="Run one ablation: " + ", ".join(ABLATION_NAMES) + ".",
    )
    q.add_argument("name", choices=ABLATION_NAMES)
    q.add_argument("--quick", action="store_true", help="the CPU preset (short runs)")
    q.add_argument("--data", default="mnist5k", help="data spec (default mnist5k)")
    q.add_argument("--seeds", type=seed_int, nargs="+", default=[0])
    q.add_argument("--steps", type=positive_int, help="training steps per curve (overrides the preset)")
    q.add_argument("--eval-images", type=positive_int, default=500, help="held-out images evaluated (default 500)")
    q.add_argument("--out", type=Path, help="output directory (default runs/bench/ablations)")
    for name, command in bench.choices.items():
        common_flags(command, threads=name not in PER_RUN_THREADS)
    return parser


# these set threads per measurement or per worker (their own --threads)
PER_RUN_THREADS = ("speed", "map")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(run_benchmark, args, set_threads=args.bench not in PER_RUN_THREADS)


def run_benchmark(args: argparse.Namespace) -> int:
    if args.bench in ("table1", "table2"):
        table = tables.table1 if args.bench == "table1" else tables.table2
        result = table(
            args.out or Path("runs/bench") / args.bench,
            quick=args.quick,
            data=tuple(args.data),
            seeds=tuple(args.seeds),
            steps=args.steps,
        )
        print(result.markdown)
        print(f"wrote {result.directory}/{args.bench}.md, {args.bench}.csv and runs.jsonl")
        return 0
    if args.bench == "map":
        if args.quick and args.preset not in (None, "quick"):
            raise GONError(f"--quick is --preset quick, not {args.preset}")
        name = args.preset or ("quick" if args.quick else "full")
        out = args.out or Path("runs/bench") / ("map" if name == "full" else f"map-{name}")
        result = paper_map.gon_vs_ae(
            out,
            preset=name,
            data=_tuple(args.data),
            methods=_tuple(args.methods),
            latent_dims=_tuple(args.latent_dims),
            norms=_tuple(args.norms),
            budgets=_tuple(args.budgets),
            seeds=_tuple(args.seeds),
            workers=args.workers,
            threads=args.threads,
            stages=tuple(args.stages),
            inner_scale=args.inner_scale,
            rates_from=args.rates_from,
        )
        print(result.markdown)
        print(f"wrote {result.directory}/map.md, runs.csv, selection.csv, curves.csv, ratio.png and curves.png")
        return 0
    if args.bench == "ablation":
        out = tables.ablation(
            args.name,
            args.out or Path("runs/bench/ablations"),
            quick=args.quick,
            data=args.data,
            seeds=tuple(args.seeds),
            steps=args.steps,
            eval_images=args.eval_images,
        )
        print(f"wrote {out}/{args.name}.png and {args.name}.csv")
        return 0
    result = speed(
        SpeedConfig(kind=args.kind, batch_size=args.batch_size, repeats=args.repeats, threads=args.threads),
        memory=not args.no_memory,
    )
    print(format_speed(result))
    if args.json:
        print(json_line(result))
    return 0


def _tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


if __name__ == "__main__":
    sys.exit(main())
