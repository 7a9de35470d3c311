"""The inner-loss scale: how validation error depends on it, and the rule that sets it.

    python -m benchmarks.inner_scale --out docs/results/inner-scale --steps 1000 --workers 2

    from benchmarks.inner_scale import sweep
    result = sweep("runs/bench/inner-scale", steps=1000)
    print(result.markdown)

A GON's latent is z = -inner_scale * dL/dz0, so the scale sets the size of every latent
the decoder sees. For each model (conv GONs with group, batch and no normalisation, the
variational, implicit and classifier GONs, and two decoders that are not the library's,
wrapped as `GON(decoder, latent_dim)`), latent size and scale, one run trains on mnist5k's
training split less its last 500 digits and is scored on those 500 (the map's selection
protocol, benchmarks.map.split_for_selection; the test split is never looked at), at the
rate the map selected for that model (its kind's default where the map has none).

Scales: the paper's factor, fixed numbers 1e-4 ... 10, and the rules a default could be,
each set once from the first training batch: "calibrated" (the library's rule: a line
search along the gradient for the best single step from the origin, GON.calibrate),
"unit-rms" (latents of unit root mean square) and "learned" (a log-scale trained with the
decoder, started at the unit-RMS value).
Runs are independent and resumable, as the map's: every finished run is appended to
runs.jsonl, and a rerun skips the runs it holds. Seed 0 by default; cells may be run with
more seeds (`seeds=`), and the summaries then also compare the means over all of them.
Two single-threaded workers side by side; `--joint` adds one cell at other rates (the scale
against the rate).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gon.config import ModelConfig, TrainConfig, paper_inner_scale
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.fields import seed_int
from gon.files import append_jsonl, read_jsonl, write_atomically, write_text
from gon.models import GON, LatentModel, build_model
from gon.origin import CALIBRATED, PAPER, OriginStep
from gon.training import fit, seed_everything
from gon.training.rundir import held

from . import RESULTS
from .map import best_rates, cached_split, held_out_scores, split_for_selection
from .tables import to_csv

logger = logging.getLogger("gon")

FIXED_SCALES: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
LEARNED = "learned"
UNIT_RMS = "unit-rms"
RULES = (CALIBRATED, UNIT_RMS, LEARNED)
SCALES: tuple[float | str, ...] = (PAPER, *FIXED_SCALES, *RULES)
LATENT_DIMS = (32, 256)
# the map's committed selection: the rate each model is swept at
MAP_RUNS = RESULTS / "gon-vs-ae" / "runs.jsonl"
COLUMNS = (
    "model",
    "latent_dim",
    "scale",
    "lr",
    "steps",
    "seed",
    "metric",
    "validation",
    "scale_value",
    "diverged",
    "seconds",
)


# decoders that are not the library's, as a user would write them


class MLPDecoder(nn.Module):
    """Three linear layers with ELU: latent (B, k) -> image (B, 1, 32, 32) in [0, 1]."""

    def __init__(self, latent_dim: int, hidden: int = 512, size: int = 32) -> None:
        super().__init__()
        self.size = size
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ELU(),
            nn.Linear(hidden, hidden),
            nn.ELU(),
            nn.Linear(hidden, size * size),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, self.size, self.size)


class UpsampleConvDecoder(nn.Module):
    """A linear layer to 4x4, then three (nearest up-sampling, 3x3 convolution, ELU) blocks to 32x32."""

    def __init__(self, latent_dim: int, width: int = 16) -> None:
        super().__init__()
        self.width = width
        self.project = nn.Linear(latent_dim, 4 * width * 4 * 4)
        blocks: list[nn.Module] = []
        channels = 4 * width
        for out in (2 * width, width, width):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(channels, out, 3, padding=1), nn.ELU()]
            channels = out
        self.net = nn.Sequential(nn.ELU(), *blocks, nn.Conv2d(channels, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(-1, 4 * self.width, 4, 4))


@dataclass(frozen=True)
class SweepModel:
    """One model of the sweep: ModelConfig values (a library kind), or a decoder builder
    wrapped as GON(decoder, latent_dim). `method`/`norm` name its rate in the map's selection."""

    config: dict[str, Any] | None = None
    decoder: Callable[[int], nn.Module] | None = None
    method: str | None = None
    norm: str = "group"
    metric: str = "sse"  # sse, bits_per_dim, or error (1 - accuracy)

    def kind(self) -> str:
        return self.config["kind"] if self.config else "conv"


# in the order they are run: the decoders a user brings and the default conv GON first
MODELS = {
    "conv-group": SweepModel({"kind": "conv", "norm": "group"}, method="gon", norm="group"),
    "mlp": SweepModel(decoder=MLPDecoder),
    "upconv": SweepModel(decoder=UpsampleConvDecoder),
    # a narrower SIREN than the default (64 wide, 3 layers) on 256 random coordinates a step
    # (Monte Carlo, Eq. 12): the default's full-grid step costs about 3 s on one core
    "implicit": SweepModel({"kind": "implicit", "hidden_features": 64, "num_layers": 3, "coordinate_samples": 256}),
    "variational": SweepModel({"kind": "variational"}, method="vgon", metric="bits_per_dim"),
    "classifier": SweepModel({"kind": "conv", "classes": 10}, metric="error"),
    "conv-batch": SweepModel({"kind": "conv", "norm": "batch"}, method="gon", norm="batch"),
    "conv-none": SweepModel({"kind": "conv", "norm": "none"}),
}


@dataclass(frozen=True)
class Cell:
    model: str
    latent_dim: int
    scale: float | str
    lr: float
    steps: int
    seed: int = 0

    def key(self) -> tuple[Any, ...]:
        return (self.model, self.latent_dim, str(self.scale), float(self.lr), self.steps, self.seed)


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record["model"],
        record["latent_dim"],
        str(record["scale"]),
        float(record["lr"]),
        record["steps"],
        record["seed"],
    )


def map_rate(model: str, latent_dim: int, records: list[dict[str, Any]]) -> float:
    """The rate the map selected for `model` at `latent_dim` with the paper's inner scale (the
    selection the sweep was planned on, whatever other rules the map has since run), else its
    kind's default."""
    spec = MODELS[model]
    if spec.method is not None:
        rate = best_rates(records, PAPER).get((spec.method, latent_dim, spec.norm))
        if rate is not None:
            return rate
    return TrainConfig().learning_rate(spec.kind())


def _unit_rms(model: GON, x: torch.Tensor) -> float:
    """The scale whose latents of batch `x` have root mean square 1 (z is linear in the scale)."""
    return 1.0 / float(model.unit_latents(x).double().pow(2).mean().sqrt())


def _calibrate_to_unit_rms(model: GON) -> None:
    """The "unit-rms" candidate: calibrate to unit-RMS latents instead of by line search."""

    def calibrate(x: torch.Tensor) -> float:
        scale = _unit_rms(model, x)
        with torch.no_grad():
            model.calibrated_scale.fill_(scale)
        model._calibration_known = True
        return scale

    model.calibrate = calibrate


def _learn_scale(model: GON) -> None:
    """The "learned" candidate: the inner scale a trained log-scale, started at the unit-RMS
    value on the first batch the model encodes."""
    model.log_inner_scale = nn.Parameter(torch.tensor(math.nan))

    def inner_scale(x: torch.Tensor) -> torch.Tensor:
        if math.isnan(float(model.log_inner_scale)):
            with torch.no_grad():
                model.log_inner_scale.fill_(math.log(_unit_rms(model, x)))
        return model.log_inner_scale.exp()

    model.inner_scale = inner_scale


def build(cell: Cell) -> LatentModel:
    """The model of a cell, with the cell's scale (a number, "paper", or a rule)."""
    spec = MODELS[cell.model]
    rule = CALIBRATED if cell.scale in RULES else cell.scale
    if spec.config is not None:
        model = build_model(ModelConfig.from_dict({**spec.config, "latent_dim": cell.latent_dim, "inner_scale": rule}))
    else:
        if rule == PAPER:  # the conv GON's factor: these decoders make 32-px images too
            rule = paper_inner_scale("conv", 32, 1)
        model = GON(spec.decoder(cell.latent_dim), cell.latent_dim, OriginStep(inner_scale=rule))
    if cell.scale == LEARNED:
        _learn_scale(model)
    if cell.scale == UNIT_RMS:
        _calibrate_to_unit_rms(model)
    return model


def run_cell(cell: Cell) -> dict[str, Any]:
    """Train one cell on the selection split and score it on the validation part."""
    spec = MODELS[cell.model]
    train, validation = split_for_selection(cached_split("mnist5k", "train", ModelConfig(kind=spec.kind())))
    seed_everything(cell.seed)
    model = build(cell)
    config = TrainConfig(steps=cell.steps, lr=cell.lr, seed=cell.seed, log_every=cell.steps)
    started = time.perf_counter()
    diverged = False
    try:
        fit(model, train, config, progress=False)
    except GONError as error:
        if "diverged" not in str(error) and "not finite" not in str(error):
            raise
        diverged = True
    seconds = time.perf_counter() - started
    record: dict[str, Any] = {
        "model": cell.model,
        "latent_dim": cell.latent_dim,
        "scale": cell.scale,
        "lr": cell.lr,
        "steps": cell.steps,
        "seed": cell.seed,
        "metric": spec.metric,
        "diverged": diverged,
        "seconds": seconds,
        "threads": torch.get_num_threads(),
        "load_at_start": round(os.getloadavg()[0], 2),
        "validation_images": len(validation),
    }
    record["scale_value"] = _scale_value(model, cell)
    if diverged:
        record["validation"] = math.inf
        return record
    scores = held_out_scores(model, validation, spec.norm, cell.seed, "validation")
    record.update(scores)
    if spec.metric == "error":
        record["validation"] = 1.0 - evaluate(model, validation)["accuracy"]
    else:
        record["validation"] = scores[f"validation_{spec.metric}"]
    return record


def _scale_value(model: GON, cell: Cell) -> float:
    if cell.scale == LEARNED:
        return float(model.log_inner_scale.exp())
    if cell.scale in (CALIBRATED, UNIT_RMS):
        return float(model.calibrated_scale)
    return float(model.step.inner_scale)


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_all(cells: list[Cell], workers: int, threads: int) -> Iterator[dict[str, Any]]:
    if workers == 1 or len(cells) <= 1:
        torch.set_num_threads(threads)
        for cell in cells:
            yield run_cell(cell)
        return
    import multiprocessing

    # spawn: a fresh interpreter per worker, never a fork of a process holding torch's thread pools
    with multiprocessing.get_context("spawn").Pool(
        min(workers, len(cells)), initializer=_worker_init, initargs=(threads,)
    ) as pool:
        yield from pool.imap_unordered(run_cell, cells)


def plan(
    models: tuple[str, ...],
    latent_dims: tuple[int, ...],
    scales: tuple[float | str, ...],
    steps: int,
    map_records: list[dict[str, Any]],
    joint: tuple[str, int, tuple[float, ...]] | None = None,
    seeds: tuple[int, ...] = (0,),
) -> list[Cell]:
    """Every (model, latent size, scale, seed) at the map's rate; with `joint` = (model, latent
    size, rates), that cell again at each of those rates (the scale's interaction with the rate)."""
    cells = [
        Cell(m, k, s, map_rate(m, k, map_records), steps, seed)
        for m in models
        for k in latent_dims
        for s in scales
        for seed in seeds
    ]
    if joint is not None:
        model, k, rates = joint
        cells += [
            Cell(model, k, s, lr, steps, seed)
            for lr in rates
            for s in scales
            for seed in seeds
            if lr != map_rate(model, k, map_records)
        ]
    return cells


@dataclass
class SweepResult:
    records: list[dict[str, Any]]
    markdown: str
    directory: Path


def sweep(
    out: str | Path,
    steps: int = 1000,
    models: tuple[str, ...] | None = None,
    latent_dims: tuple[int, ...] = LATENT_DIMS,
    scales: tuple[float | str, ...] = SCALES,
    joint: tuple[str, int, tuple[float, ...]] | None = None,
    workers: int = 2,
    threads: int = 1,
    map_runs: Path = MAP_RUNS,
    seeds: tuple[int, ...] = (0,),
) -> SweepResult:
    """Run (or continue) the sweep in `out`: runs.jsonl (raw rows), runs.csv, summary.md, scale.png."""
    models = tuple(models or MODELS)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise GONError(f"unknown sweep model {unknown[0]!r}: choose from {', '.join(MODELS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    map_records = read_jsonl(map_runs) if map_runs.is_file() else []
    with held(out):
        log = out / "runs.jsonl"
        records = read_jsonl(log)
        done = {_key(r) for r in records}
        todo = [c for c in plan(models, latent_dims, scales, steps, map_records, joint, seeds) if c.key() not in done]
        logger.info("%d runs to do (%d already in %s)", len(todo), len(done), log)
        for record in _run_all(todo, workers, threads):
            append_jsonl(log, [record])
            records.append(record)
            logger.info(
                "%s k=%d scale %s (%.3g) lr %g: validation %s %.4f (%.0f s)",
                record["model"],
                record["latent_dim"],
                record["scale"],
                record["scale_value"],
                record["lr"],
                record["metric"],
                record["validation"],
                record["seconds"],
            )
        markdown = summarise(records)
        write_text(out / "summary.md", markdown)
        write_text(out / "runs.csv", to_csv(records, COLUMNS))
        if records:
            write_atomically(out / "scale.png", lambda tmp: save_scale_plot(records, tmp))
        return SweepResult(records, markdown, out)


# summaries


def _groups(records: list[dict[str, Any]]) -> dict[tuple[str, int, float, int], list[dict[str, Any]]]:
    groups: dict[tuple[str, int, float, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["model"], r["latent_dim"], r["lr"], r["steps"]), []).append(r)
    return groups


def _error(r: dict[str, Any]) -> float:
    """A run's validation error; a diverged run's is infinite (never the best)."""
    value = r["validation"]
    return math.inf if r["diverged"] or value is None or not math.isfinite(value) else value


def by_scale(rs: list[dict[str, Any]], seeds: set[int] | None = None) -> dict[float | str, float]:
    """scale -> mean validation error over the seeds run, for one group; with
    `seeds`, only scales run with all of them, over those seeds (so every scale is compared on
    the same seeds)."""
    runs: dict[float | str, dict[int, float]] = {}
    for r in rs:
        scale = r["scale"] if isinstance(r["scale"], str) else float(r["scale"])
        runs.setdefault(scale, {})[r["seed"]] = _error(r)
    out = {}
    for scale, errors in runs.items():
        if seeds is not None:
            if not seeds <= set(errors):
                continue
            errors = {seed: errors[seed] for seed in seeds}
        out[scale] = statistics.mean(errors.values())
    return out


def _ratio(error: float, best: float) -> float:
    """error / best; NaN where it means nothing (a zero best, or both infinite)."""
    return error / best if best and math.isfinite(best) else math.nan


def rule_gaps(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, latent size, rate, steps) and per seed set (its first seed, and where a group
    has more seeds, the means over all of them of the scales run with each): the best of the
    fixed scales run and its error, and each named scale's error over that best (1.0: as good)."""
    rows = []
    for (model, k, lr, steps), rs in sorted(_groups(records).items()):
        every = {r["seed"] for r in rs}
        sets = [{min(every)}] + ([every] if len(every) > 1 else [])
        for seeds in sets:
            errors = by_scale(rs, seeds)
            fixed = {s: e for s, e in errors.items() if not isinstance(s, str)}
            if not fixed:
                continue
            best_scale = min(fixed, key=lambda s: fixed[s])
            best = fixed[best_scale]
            row = {
                "model": model,
                "latent_dim": k,
                "lr": lr,
                "steps": steps,
                "metric": rs[0]["metric"],
                "seeds": sorted(seeds),
                "fixed_run": sorted(fixed),
                "best_scale": best_scale,
                "best": best,
            }
            for scale, error in errors.items():
                if isinstance(scale, str):
                    row[scale] = error
                    row[f"{scale}_ratio"] = _ratio(error, best)
            if 1.0 in fixed:
                row["fixed_1_ratio"] = _ratio(fixed[1.0], best)
            rows.append(row)
    return rows


def summarise(records: list[dict[str, Any]]) -> str:
    lines = [
        "# The inner-loss scale: validation error per scale",
        "",
        "mnist5k's training split less its last 500 digits, scored on those 500 (validation); the map's "
        "rate per model. Metric: summed squared error per image (sse), bits/dim (variational) or "
        "classification error (classifier). BatchNorm models are scored with test-batch statistics. "
        "Rules, set on the first batch: calibrated (the library's default: a line search for the best single "
        "step from the origin), unit-rms (latents of unit RMS), learned (a trained log-scale started at "
        "unit-rms). Each cell's first seed (0); bold: the best fixed scale.",
        "",
    ]
    header = [str(s) if isinstance(s, str) else f"{s:g}" for s in SCALES]
    lines += ["| model | k | lr | steps | metric | " + " | ".join(header) + " |", "|" + "---|" * (5 + len(SCALES))]
    for (model, k, lr, steps), rs in sorted(_groups(records).items()):
        errors = by_scale(rs, {min(r["seed"] for r in rs)})
        fixed = [e for scale, e in errors.items() if not isinstance(scale, str)]
        best = min(fixed) if fixed else None

        def cell(scale: float | str, errors: dict = errors, best: float | None = best) -> str:
            if scale not in errors:
                return ""
            error = errors[scale]
            text = f"{error:.3f}" if math.isfinite(error) else "diverged"
            return f"**{text}**" if error == best else text

        lines.append(
            f"| {model} | {k} | {lr:g} | {steps} | {rs[0]['metric']} | "
            + " | ".join(cell(scale) for scale in SCALES)
            + " |"
        )
    gaps = rule_gaps(records)
    if gaps:
        rules = (PAPER, CALIBRATED, UNIT_RMS, LEARNED)
        lines += [
            "",
            "## Each rule against the best fixed scale",
            "",
            "The rule's validation error over the best of the fixed scales run for the same model and seeds "
            "(1.00: as good; below 1: better than every fixed scale run); rows with several seeds compare "
            "means over those seeds, of the scales run with all of them.",
            "",
            "| model | k | lr | seeds | fixed scales run | best fixed (scale) | paper | calibrated | unit-rms | "
            "learned | fixed 1 |",
            "|" + "---|" * 11,
        ]
        for g in gaps:
            lines.append(
                f"| {g['model']} | {g['latent_dim']} | {g['lr']:g} | {', '.join(map(str, g['seeds']))} | "
                f"{', '.join(f'{s:g}' for s in g['fixed_run'])} | {g['best']:.3f} ({g['best_scale']:g}) | "
                + " | ".join(f"{g[f'{key}_ratio']:.2f}" if f"{key}_ratio" in g else "" for key in (*rules, "fixed_1"))
                + " |"
            )
        lines.append("")
        for key in (*rules, "fixed_1"):
            # per cell, the row with the most seeds that has this rule (ties: the first seed's)
            final: dict[tuple[Any, ...], dict[str, Any]] = {}
            for g in gaps:
                cell_key = (g["model"], g["latent_dim"], g["lr"], g["steps"])
                if f"{key}_ratio" in g and (cell_key not in final or len(g["seeds"]) > len(final[cell_key]["seeds"])):
                    final[cell_key] = g
            values = [v for v in (g[f"{key}_ratio"] for g in final.values()) if not math.isnan(v)]
            if values:
                lines.append(
                    f"- {key.replace('_', ' ')} (each cell over its most seeds, against the fixed scales "
                    f"run with all of them): median ratio {statistics.median(values):.3f}, worst "
                    f"{max(values):.3f}, within 10% of the best fixed scale run in "
                    f"{sum(v <= 1.10 for v in values)} of {len(values)} cells"
                )
    seconds = sum(r["seconds"] for r in records)
    lines += ["", f"{len(records)} runs, {seconds / 3600:.1f} hours of training.", ""]
    return "\n".join(lines)


def save_scale_plot(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Validation error against the fixed scale (log axis), a panel per model, a line per
    latent size (and rate); the rules as horizontal dashed lines in the line's colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in records))
    cols = min(4, len(models))
    rows = math.ceil(len(models) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), dpi=100, squeeze=False)
    for ax, model in zip(axes.flat, models):
        mine = [r for r in records if r["model"] == model]
        first = min(r["seed"] for r in mine)
        mine = [r for r in mine if r["seed"] == first]  # one run per scale: the first seed
        for i, (k, lr, steps) in enumerate(sorted({(r["latent_dim"], r["lr"], r["steps"]) for r in mine})):
            line = [r for r in mine if (r["latent_dim"], r["lr"], r["steps"]) == (k, lr, steps)]
            fixed = sorted(
                (r["scale_value"], r["validation"])
                for r in line
                if r["scale"] not in RULES and math.isfinite(r["validation"])
            )
            colour = f"C{i}"
            ax.plot([s for s, _ in fixed], [v for _, v in fixed], "o-", color=colour, label=f"k={k}, lr {lr:g}")
            for r in line:
                if r["scale"] in RULES and math.isfinite(r["validation"]):
                    marker = {CALIBRATED: "*", UNIT_RMS: "s", LEARNED: "D"}[r["scale"]]
                    ax.plot(
                        [r["scale_value"]],
                        [r["validation"]],
                        marker,
                        color=colour,
                        markersize=11 if marker == "*" else 6,
                        markeredgecolor="black",
                    )
        ax.set_xscale("log")
        ax.set_title(model)
        ax.set_xlabel("inner scale (★ calibrated, ■ unit RMS, ◆ learned)")
        ax.set_ylabel(f"validation {mine[0]['metric']}")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return Path(path)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inner_scale", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench/inner-scale")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--models", nargs="+", choices=tuple(MODELS))
    p.add_argument("--latent-dims", nargs="+", type=int, default=list(LATENT_DIMS))
    p.add_argument("--scales", nargs="+", help="restrict the scales: numbers, paper, calibrated, learned")
    p.add_argument(
        "--joint",
        nargs="+",
        metavar="MODEL K RATE",
        help="e.g. conv-group 32 0.0003 0.001: that cell at those rates too",
    )
    p.add_argument("--seeds", nargs="+", type=seed_int, default=[0], help="seeds of every cell (default 0)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    joint = None
    if args.joint:
        joint = (args.joint[0], int(args.joint[1]), tuple(float(r) for r in args.joint[2:]))
    scales = SCALES
    if args.scales:
        scales = tuple(s if s in (PAPER, *RULES) else float(s) for s in args.scales)
    result = sweep(
        args.out,
        steps=args.steps,
        models=tuple(args.models) if args.models else None,
        latent_dims=tuple(args.latent_dims),
        scales=scales,
        joint=joint,
        workers=args.workers,
        seeds=tuple(args.seeds),
    )
    print(result.markdown)


if __name__ == "__main__":
    main()
