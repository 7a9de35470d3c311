"""When does a GON beat an autoencoder with the same decoder? The map.

    from benchmarks.map import gon_vs_ae
    result = gon_vs_ae("runs/bench/map", quick=True)
    print(result.markdown)

The GON and the autoencoder (and the variational GON and the VAE) are compared over
latent size, training budget and normalisation, each at its own best learning rate:

1. selection: for every (method, latent size, normalisation), one run per rate of the
   preset's `rates` for its `selection_steps` steps on its selection data's training split
   less a validation part carved from its end (an eighth); the rate with the lowest
   validation error wins. The test split is never looked at here.
2. grid: every budget and seed at the selected rate, on the whole training split,
   evaluated on the held-out test split and on training images (the generalisation gap),
   with held-out curves along training (which method reaches an error first, in steps
   and in seconds).

The same protocol runs on sound (`preset="sound"`): the conv GON, the autoencoder with its
decoder and the implicit GON (`igon`) on clips of the recorded sounds set, selected on
the sounds' training split (docs/capabilities.md); and on video (`preset="video"`): the conv GON
on 3-D transposed convolutions, its autoencoder and the modulated implicit GON on the real
clips, at the same latent values a clip (a tiled model shares them among its tiles).

GON rows carry the inner-loss scale rule they were trained with (`inner_scale`: "paper"
for rows made before it was recorded, when the paper's factor was the default; "calibrated"
since); a calibrated row also records the scale the rule chose (`calibrated_scale`; the
rows committed before this field existed lack it). The summaries compare the baselines
with the GON at the rule asked for, and the two rules with each other where both were run.

BatchNorm models are evaluated as the paper's scripts do, with the statistics of each
test batch of 64 (`heldout_sse`; a validation part of fewer than 64 is one batch), and
also with their running statistics (`heldout_sse_running`), which does not look at other
test images.

Runs are independent, so `workers` processes train them side by side, one thread each
(measured in docs/results.md: two single-threaded runs on 2 cores each keep their solo
speed). Every finished run is appended to runs.jsonl at once, and a rerun into the same
directory skips the runs it already holds, so a long map can be stopped and continued.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gon.config import ModelConfig, TrainConfig
from gon.data import Data
from gon.decoders import ConvOptions
from gon.errors import Diverged, GONError
from gon.evaluate import evaluate
from gon.files import append_jsonl, read_jsonl, write_atomically, write_text
from gon.kinds import kind_spec
from gon.origin import DEFAULT_INNER_SCALE, PAPER, OriginStep
from gon.tiling import Tiling
from gon.training import data_for_model, fit, prepare_run
from gon.training.rundir import held

from .map_plots import save_map_curves, save_ratio_map
from .tables import mean_std, to_csv

logger = logging.getLogger("gon")

# method -> model kind, per kind of data; the GON and the autoencoder (and the variational GON
# and the VAE) share their decoder (gon/baselines.py, gon/models/sound.py); the implicit GON
# (igon) is compared with the same autoencoder
IMAGE_KINDS = {"gon": "conv", "ae": "ae", "vgon": "variational", "vae": "vae"}
SOUND_KINDS = {"gon": "audio-conv", "ae": "audio-ae", "igon": "audio-implicit"}
# video's implicit GON is the modulated one, its latent values spread over its tiles (`model_config`)
VIDEO_KINDS = {"gon": "video-conv", "ae": "video-ae", "igon": "modulated"}
METHODS = tuple(dict.fromkeys([*IMAGE_KINDS, *SOUND_KINDS, *VIDEO_KINDS]))
PAIRS = {"gon": "ae", "vgon": "vae", "igon": "ae"}  # GON method -> its baseline
METRICS = {"gon": "sse", "ae": "sse", "vgon": "bits_per_dim", "vae": "bits_per_dim", "igon": "sse"}
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)
SELECTION_STEPS = 3000
SELECTION_DATA = "mnist5k"  # the image presets choose rates here, for every image data set
VALIDATION_FRACTION = 0.125  # of the training split: 500 of mnist5k's 4,000
TRAIN_EVAL_IMAGES = 1000  # training images evaluated for the generalisation gap
CURVE_POINTS = 20  # held-out evaluations along each grid run
CURVE_IMAGES = 500  # test images evaluated at each of them
PAPER_BATCH = 64
# the CSV columns the map promises, in this order; every other field of a record follows them
RUN_COLUMNS = ("data", "method", "latent_dim", "norm", "lr", "steps", "seed", "heldout_sse", "train_sse", "seconds")


def pairs_of(method: str) -> list[tuple[str, str]]:
    """Every (GON, baseline) pair `method` belongs to (the autoencoder is in two)."""
    return [(g, b) for g, b in PAIRS.items() if method in (g, b)]


def scale_of(record: dict[str, Any]) -> str | None:
    """The inner-scale rule a record's run used: None for a baseline, "paper" for GON rows
    written before the rule was recorded (the paper's factor was the default then)."""
    if record["method"] not in PAIRS:
        return None
    return record.get("inner_scale", PAPER)


def metric_of(method: str) -> str:
    """The record field `method` is judged by: `heldout_sse`, or `heldout_bits_per_dim`."""
    return f"heldout_{METRICS[method]}"


@dataclass(frozen=True)
class Cell:
    """One training run of the map."""

    stage: str  # "selection" or "grid"
    data: str
    method: str
    latent_dim: int
    norm: str
    lr: float
    steps: int
    seed: int
    inner_scale: str | None = None  # the GON's inner-scale rule; None for a method without the step
    # the preset whose kinds, model fields and batch size it trains with (carried whole, so a
    # worker process needs no lookup; not part of the key)
    preset: MapPreset = field(default_factory=lambda: MAP_PRESETS["full"], compare=False, repr=False)

    def key(self) -> tuple[Any, ...]:
        return (
            self.stage,
            self.data,
            self.method,
            self.latent_dim,
            self.norm,
            float(self.lr),
            self.steps,
            self.seed,
            self.inner_scale,
        )


@dataclass(frozen=True)
class Budget:
    """Training budgets of one data set, and the latent sizes and seeds each is run with; `methods`:
    the preset's methods that run at this budget (None: all of them)."""

    steps: int
    latent_dims: tuple[int, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MapPreset:
    latent_dims: tuple[int, ...]
    norms: tuple[str, ...]
    budgets: dict[str, tuple[Budget, ...]]  # per data set
    methods: tuple[str, ...] = ("gon", "ae")
    # mnist5k budgets of the variational pair (vgon against vae)
    variational: tuple[Budget, ...] = ()
    select_rates: bool = True
    fixed_lr: float = 1e-3  # when select_rates is False
    kinds: dict[str, str] = field(default_factory=lambda: dict(IMAGE_KINDS))  # method -> model kind
    selection_data: str = SELECTION_DATA
    selection_steps: int = SELECTION_STEPS
    rates: tuple[float, ...] = LEARNING_RATES
    batch_size: int = PAPER_BATCH
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields of every run
    method_model: dict[str, dict[str, Any]] = field(default_factory=dict)  # and of one method's runs

    def __post_init__(self) -> None:
        for budgets in self.budgets.values():
            for budget in budgets:
                unknown = set(budget.methods or ()) - set(self.methods)
                if unknown:
                    raise GONError(f"the {budget.steps}-step budget names {sorted(unknown)}, not methods of its map")


PAPER_STEPS = 31250  # 500 epochs of mnist5k's 4,000 training images at batch 64
FASHION_STEPS = 18740  # 20 epochs of Fashion-MNIST's 60,000 at batch 64
MAP_PRESETS = {
    # the paper's question at full scale; a GPU or a long CPU night (docs/results.md says which rows ran where)
    "full": MapPreset(
        latent_dims=(32, 128, 256, 512),
        norms=("group", "batch"),
        budgets={
            "mnist5k": (
                Budget(500, (32, 128, 256, 512)),
                Budget(3000, (32, 128, 256, 512)),
                Budget(PAPER_STEPS, (32, 256)),
            ),
            "fashion-mnist": (
                Budget(500, (32, 256)),
                Budget(3000, (32, 256)),
                Budget(FASHION_STEPS, (32, 256), seeds=(0,)),
            ),
        },
        variational=(Budget(PAPER_STEPS, (32, 256)),),
    ),
    # minutes on 2 cores: both normalisations at latent 32 and 256, 1,000 steps, the
    # library's default rate (no selection), 3 seeds; holds the check cell
    # mnist5k / 256 / 1,000 steps / group / 1e-3
    "quick": MapPreset(
        latent_dims=(32, 256),
        norms=("group", "batch"),
        budgets={"mnist5k": (Budget(1000, (32, 256)),)},
        select_rates=False,
    ),
    # the recorded sounds (181 training clips, 26 held out) at 8 kHz, half a second each: the
    # conv GON, its autoencoder and the implicit GON; rates chosen by 500-step runs, batches
    # of 32 clips, the implicit GON fitting 1,024 random time positions a step (about 0.3 s a
    # step on one core, hence 1,000 steps)
    "sound": MapPreset(
        latent_dims=(32,),
        norms=("group",),
        budgets={"sounds": (Budget(1000, (32,)),)},
        methods=("gon", "ae", "igon"),
        kinds=dict(SOUND_KINDS),
        selection_data="sounds",
        selection_steps=500,
        batch_size=32,
        model={"sample_rate": 8000, "clip_seconds": 0.5},
        method_model={"igon": {"coordinate_samples": 1024}},
    ),
    # the three real clips (45 training windows of 8 frames at 12 fps, 32 px, 5 held out): the
    # conv GON on 3-D transposed convolutions, its autoencoder and the modulated implicit GON
    # with one latent per tile of 8 frames x 16 x 16 (four a clip), all at 256 latent values a
    # clip; rates chosen by 300-step runs on the training windows less their last eighth. The
    # implicit GON's step costs several times the conv GON's, hence 300 steps for all, and 3,000
    # for the conv GON and the autoencoder: about the implicit GON's time at 300 (docs/results.md).
    "video": MapPreset(
        latent_dims=(256,),
        norms=("group",),
        budgets={"videos": (Budget(300, (256,)), Budget(3000, (256,), methods=("gon", "ae")))},
        methods=("gon", "ae", "igon"),
        kinds=dict(VIDEO_KINDS),
        selection_data="videos",
        selection_steps=300,
        batch_size=8,
        rates=(3e-4, 1e-3, 3e-3),
        model={"signal": "video", "channels": 3, "frames": 8, "fps": 12, "frame_size": 32},
        method_model={"igon": {"tile": 16}},
    ),
}


def model_fields(preset: MapPreset, method: str) -> dict[str, Any]:
    """The ModelConfig fields `preset` gives `method`'s runs (beyond kind, latent size and norm)."""
    return {**preset.model, **preset.method_model.get(method, {})}


def model_config(preset: MapPreset, method: str, **fields: Any) -> ModelConfig:
    """The ModelConfig of `method`'s runs under `preset` (a latent_dim given is the values per
    example, shared among the tiles of a method whose model has them: latent_dim / tiles a tile)."""
    values = {"kind": preset.kinds[method], **model_fields(preset, method), **fields}
    if "latent_dim" in fields and values.get("tile") is not None:
        shape = ModelConfig.from_dict({**values, "latent_dim": 1}).data_shape
        tiles = Tiling.of(shape[1:], values["tile"]).count
        if fields["latent_dim"] % tiles:
            raise GONError(f"{fields['latent_dim']} latent values cannot be shared among {tiles} tiles")
        values["latent_dim"] = fields["latent_dim"] // tiles
    return ModelConfig.from_dict(values)


def takes_norm(preset: MapPreset, method: str, norm: str) -> bool:
    """Whether `method`'s kind can be built with `norm` (an implicit GON has none: it runs at
    the default's name only)."""
    return norm == ConvOptions().norm or "conv" in kind_spec(preset.kinds[method]).options


@dataclass
class MapResult:
    records: list[dict[str, Any]]
    markdown: str
    directory: Path


# one run

_DATA: dict[tuple[str, str, str], Data] = {}


def cached_split(spec: str, split: str, config: ModelConfig) -> Data:
    """A split fitted to `config`'s size (a sound model's rate and clip length), cached per
    process (workers load each once)."""
    key = (spec, split, repr(config))
    if key not in _DATA:
        _DATA[key] = data_for_model(spec, split, config)
    return _DATA[key]


def split_for_selection(train: Data) -> tuple[Data, Data]:
    """The training split less its last VALIDATION_FRACTION, and that last part (the splits
    are in a fixed order that does not follow their classes, so the part is a sample of the split)."""
    held = max(1, round(len(train) * VALIDATION_FRACTION))
    if len(train) - held < 1:
        raise GONError(f"{train.name}: {len(train)} items cannot be split into training and validation parts")
    cut = len(train) - held
    return (
        train.subset(slice(0, cut), f"{train.name} (selection)"),
        train.subset(slice(cut, None), f"{train.name} (validation)"),
    )


def held_out_scores(model: torch.nn.Module, data: Data, norm: str, seed: int, prefix: str) -> dict[str, float]:
    """Held-out metrics the way each normalisation is evaluated (module docstring)."""
    if norm == "batch":
        metrics = evaluate(model, data, batch_size=PAPER_BATCH, seed=seed, batch_statistics=True)
        running = evaluate(model, data, seed=seed)
        out = {f"{prefix}_sse_running": running["sse_per_image"]}
        if "elbo_bits_per_dim" in running:
            out[f"{prefix}_bits_per_dim_running"] = running["elbo_bits_per_dim"]
    else:
        metrics, out = evaluate(model, data, seed=seed), {}
    out[f"{prefix}_sse"] = metrics["sse_per_image"]
    for name in ("snr_db", "psnr_db"):  # sound's and video's
        if name in metrics:
            out[f"{prefix}_{name}"] = metrics[name]
    if "elbo_bits_per_dim" in metrics:
        out[f"{prefix}_bits_per_dim"] = metrics["elbo_bits_per_dim"]
    return out


def run_cell(cell: Cell) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train and evaluate one cell; returns its record and its curve (grid runs only).

    A run whose loss diverges is a result, not an error: it is recorded with
    `diverged` true and infinite errors (a rate that diverges is never selected).
    """
    preset = cell.preset
    kind = preset.kinds[cell.method]
    base = model_config(preset, cell.method)
    train, test = cached_split(cell.data, "train", base), cached_split(cell.data, "test", base)
    if cell.stage == "selection":
        train, test = split_for_selection(train)
    model, _, config = prepare_run(
        model_config(
            preset,
            cell.method,
            latent_dim=cell.latent_dim,
            norm=cell.norm,
            **({"origin": OriginStep(inner_scale=cell.inner_scale)} if cell.inner_scale else {}),
        ),
        TrainConfig(
            data=cell.data,
            steps=cell.steps,
            lr=cell.lr,
            seed=cell.seed,
            batch_size=preset.batch_size,
            log_every=max(1, cell.steps),
        ),
        train,
    )
    curve: list[dict[str, Any]] = []
    every = max(1, cell.steps // CURVE_POINTS)
    probe = test.subset(slice(0, min(CURVE_IMAGES, len(test))), f"{test.name} (curve)")
    clock = {"paused": 0.0, "start": time.perf_counter()}

    def on_step(step: int) -> None:
        if cell.stage != "grid" or (step % every and step != cell.steps):
            return
        paused = time.perf_counter()
        scores = held_out_scores(model, probe, cell.norm, cell.seed, "heldout")
        curve.append(
            {**_identity(cell), "step": step, "train_seconds": paused - clock["start"] - clock["paused"], **scores}
        )
        model.train()
        clock["paused"] += time.perf_counter() - paused

    load = os.getloadavg()[0]
    diverged = False
    try:
        fit(model, train, config, progress=False, on_step=on_step)
    except Diverged:
        diverged = True
    seconds = time.perf_counter() - clock["start"] - clock["paused"]
    record: dict[str, Any] = {
        **_identity(cell),
        "stage": cell.stage,
        "kind": kind,
        "batch_size": preset.batch_size,
        **model_fields(preset, cell.method),
        "diverged": diverged,
        "seconds": seconds,
        "threads": torch.get_num_threads(),
        "load_at_start": round(load, 2),
        "test_images": len(test),
        "latent_per_tile": model.config.latent_dim,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    calibrated = getattr(model, "calibrated_scale", None)  # the scale the calibrated rule chose, to read rows by
    if isinstance(calibrated, torch.Tensor) and math.isfinite(float(calibrated)):
        record["calibrated_scale"] = float(calibrated)
    if diverged:
        record.update({"heldout_sse": math.inf, "train_sse": math.inf, metric_of(cell.method): math.inf})
        return record, curve
    record.update(held_out_scores(model, test, cell.norm, cell.seed, "heldout"))
    if cell.stage == "grid":
        seen = train.subset(slice(0, min(TRAIN_EVAL_IMAGES, len(train))), f"{train.name} (seen)")
        record.update(held_out_scores(model, seen, cell.norm, cell.seed, "train"))
    return record, curve


def _identity(cell: Cell) -> dict[str, Any]:
    scale = {"inner_scale": cell.inner_scale} if cell.inner_scale else {}
    return {
        "data": cell.data,
        "method": cell.method,
        "latent_dim": cell.latent_dim,
        "norm": cell.norm,
        "lr": cell.lr,
        "steps": cell.steps,
        "seed": cell.seed,
        **scale,
    }


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_all(cells: list[Cell], workers: int, threads: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each cell's result as it finishes: in this process with one worker, else in a pool."""
    if workers == 1 or len(cells) <= 1:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for cell in cells:
                yield run_cell(cell)
        finally:
            torch.set_num_threads(previous)
        return
    import multiprocessing

    # spawn: a fresh interpreter per worker, never a fork of a process holding torch's thread pools
    with multiprocessing.get_context("spawn").Pool(
        min(workers, len(cells)), initializer=_worker_init, initargs=(threads,)
    ) as pool:
        yield from pool.imap_unordered(run_cell, cells)


# planning


def _scale_for(method: str, inner_scale: str) -> str | None:
    return inner_scale if method in PAIRS else None


def selection_cells(
    preset: MapPreset,
    methods: Iterable[str],
    latent_dims: Iterable[int],
    norms: Iterable[str],
    inner_scale: str = DEFAULT_INNER_SCALE,
) -> list[Cell]:
    """The selection runs of `preset`: every rate, on its selection data (each method at the
    normalisations its kind takes)."""
    return [
        Cell(
            "selection",
            preset.selection_data,
            method,
            k,
            norm,
            lr,
            preset.selection_steps,
            0,
            _scale_for(method, inner_scale),
            preset,
        )
        for k in latent_dims
        for norm in norms
        for method in methods
        if takes_norm(preset, method, norm)
        for lr in preset.rates
    ]


def best_rates(
    records: list[dict[str, Any]], inner_scale: str | None = None, data: str | None = None
) -> dict[tuple[str, int, str], float]:
    """(method, latent_dim, norm) -> the rate with the lowest validation error (ties: the lower
    rate); with `inner_scale`, GON rates from the selection runs of that scale rule only; with
    `data`, from the selection runs on that data set only."""
    best: dict[tuple[str, int, str], tuple[float, float]] = {}
    for r in records:
        if r["stage"] != "selection" or (data is not None and r["data"] != data):
            continue
        if inner_scale is not None and scale_of(r) not in (None, inner_scale):
            continue
        metric = r[metric_of(r["method"])]
        key = (r["method"], r["latent_dim"], r["norm"])
        if key not in best or (metric, r["lr"]) < best[key]:
            best[key] = (metric, r["lr"])
    return {key: lr for key, (metric, lr) in best.items() if math.isfinite(metric)}


def grid_cells(
    preset: MapPreset,
    rates: dict[tuple[str, int, str], float],
    data: Iterable[str],
    methods: Iterable[str],
    latent_dims: Iterable[int],
    norms: Iterable[str],
    budgets: Iterable[int] | None,
    seeds: Iterable[int] | None,
    inner_scale: str = DEFAULT_INNER_SCALE,
) -> list[Cell]:
    """The grid runs of `preset`, restricted to what the caller names; runs whose rate is not
    yet selected are left out (and reported by the caller)."""
    cells = []
    wanted_budgets = None if budgets is None else set(budgets)
    reconstruction = tuple(m for m in methods if METRICS[m] == "sse")
    variational = tuple(m for m in methods if METRICS[m] == "bits_per_dim")
    plan = [(spec, b, reconstruction) for spec in data for b in preset.budgets.get(spec, ())]
    plan += [(preset.selection_data, b, variational) for b in preset.variational if preset.selection_data in data]
    for spec, budget, budget_methods in plan:
        if wanted_budgets is not None and budget.steps not in wanted_budgets:
            continue
        for k in (k for k in budget.latent_dims if k in set(latent_dims)):
            for norm in norms:
                for method in budget_methods:
                    if not takes_norm(preset, method, norm) or method not in (budget.methods or (method,)):
                        continue
                    lr = rates.get((method, k, norm)) if preset.select_rates else preset.fixed_lr
                    if lr is None:
                        continue
                    for seed in budget.seeds if seeds is None else tuple(seeds):
                        cells.append(
                            Cell(
                                "grid",
                                spec,
                                method,
                                k,
                                norm,
                                lr,
                                budget.steps,
                                seed,
                                _scale_for(method, inner_scale),
                                preset,
                            )
                        )
    return cells


# the whole map


def gon_vs_ae(
    out: str | Path,
    quick: bool | None = None,
    data: tuple[str, ...] | None = None,
    methods: tuple[str, ...] | None = None,
    latent_dims: tuple[int, ...] | None = None,
    norms: tuple[str, ...] | None = None,
    budgets: tuple[int, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    workers: int = 2,
    threads: int = 1,
    stages: tuple[str, ...] = ("selection", "grid"),
    inner_scale: str = DEFAULT_INNER_SCALE,
    rates_from: str | None = None,
    preset: str | None = None,
) -> MapResult:
    """Run (or continue) the map of `preset` (a name of MAP_PRESETS: "full", "quick", "sound", "video"; `quick=True` is
    "quick", `quick=False` "full"; neither given: "quick") in `out`; write runs.jsonl,
    runs.csv, selection.csv, curves.csv, map.md, ratio.png and curves.png. Arguments left None take the preset's
    values; given ones restrict it (a long map can be run a slice at a time). One call at a
    time may write `out`: a second gets a GONError (slices side by side need folders of their own).
    GON runs use the inner-scale rule `inner_scale`, at the rates selected for the rule
    `rates_from` (default: the same rule; "paper" reuses the selection made with the paper's
    scale, which the GON's grid records then name in their `rates_from`)."""
    named = None if quick is None else ("quick" if quick else "full")
    if preset is not None and named not in (None, preset):
        raise GONError(f"quick={quick} asks for the {named} map, preset for the {preset} map: give one")
    name = preset or named or "quick"
    if name not in MAP_PRESETS:
        raise GONError(f"unknown map preset {name!r}: choose from {', '.join(MAP_PRESETS)}")
    chosen = MAP_PRESETS[name]
    methods = tuple(methods or chosen.methods)
    unknown = [m for m in methods if m not in chosen.kinds]
    if unknown:
        raise GONError(f"method {unknown[0]!r} is not in the {name} map: choose from {', '.join(chosen.kinds)}")
    data = tuple(data or chosen.budgets)
    foreign = [spec for spec in data if spec not in chosen.budgets]
    if foreign:
        raise GONError(f"the {name} map has budgets for {', '.join(chosen.budgets)}, not {foreign[0]!r}")
    latent_dims = tuple(latent_dims or chosen.latent_dims)
    norms = tuple(norms or chosen.norms)
    if workers < 1 or threads < 1:
        raise GONError("workers and threads must be positive integers")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with held(out):  # one writer: two calls on one folder would run the same cells twice
        log, curves_log = out / "runs.jsonl", out / "curves.jsonl"
        records = read_jsonl(log)
        curves = read_jsonl(curves_log)
        done = {_key(r) for r in records}
        started = time.perf_counter()

        def run(cells: list[Cell]) -> None:
            todo = [c for c in cells if c.key() not in done]
            logger.info("%d runs to do (%d already in %s)", len(todo), len(cells) - len(todo), log)
            for record, curve in _run_all(todo, workers, threads):
                if record["method"] in PAIRS and record["stage"] == "grid" and rates_from != inner_scale:
                    record["rates_from"] = rates_from
                append_jsonl(log, [record])
                append_jsonl(curves_log, curve)
                records.append(record)
                curves.extend(curve)
                done.add(_key(record))
                logger.info(
                    "%s | %s k=%d %s lr=%g %d steps seed %d: held-out SSE %.4f (%.0f s)",
                    record["stage"],
                    record["method"],
                    record["latent_dim"],
                    record["norm"],
                    record["lr"],
                    record["steps"],
                    record["seed"],
                    record["heldout_sse"],
                    record["seconds"],
                )

        rates_from = rates_from or inner_scale
        if chosen.select_rates and "selection" in stages:
            run(selection_cells(chosen, methods, latent_dims, norms, rates_from))
        rates = best_rates(records, rates_from, chosen.selection_data)
        if "grid" in stages:
            cells = grid_cells(chosen, rates, data, methods, latent_dims, norms, budgets, seeds, inner_scale)
            missing = sorted(
                {
                    (m, k, n)
                    for m in methods
                    for k in latent_dims
                    for n in norms
                    if chosen.select_rates and takes_norm(chosen, m, n) and (m, k, n) not in rates
                }
            )
            if missing:
                logger.warning(
                    "no selected rate yet for %s: their grid runs wait for the selection stage",
                    ", ".join(f"{m} k={k} {n}" for m, k, n in missing),
                )
            run(cells)
        markdown = _write_outputs(
            out, records, curves, best_rates(records, inner_scale, chosen.selection_data) or rates, chosen, inner_scale
        )
        logger.info("map: %.1f minutes in this call", (time.perf_counter() - started) / 60)
        return MapResult(records, markdown, out)


def _write_outputs(
    out: Path,
    records: list[dict[str, Any]],
    curves: list[dict[str, Any]],
    rates: dict[tuple[str, int, str], float],
    preset: MapPreset,
    inner_scale: str = DEFAULT_INNER_SCALE,
) -> str:
    """Rebuild every summary file of `out` from the raw rows; returns map.md's text. The CSVs
    hold every row (column inner_scale); the figures compare the baselines with the GON rows
    of `inner_scale` where any exist (the paper's otherwise)."""
    markdown = summarise(records, curves, rates, preset, inner_scale)
    write_text(out / "map.md", markdown)
    grid = _with_scale([r for r in records if r["stage"] == "grid"])
    write_text(out / "runs.csv", to_csv(grid, RUN_COLUMNS + ("inner_scale",)))
    write_text(
        out / "selection.csv",
        to_csv(
            _with_scale([r for r in records if r["stage"] == "selection"]),
            RUN_COLUMNS[:7] + ("heldout_sse", "inner_scale"),
        ),
    )
    curve_columns = (
        "data",
        "method",
        "latent_dim",
        "norm",
        "lr",
        "steps",
        "seed",
        "step",
        "train_seconds",
        "inner_scale",
    )
    write_text(out / "curves.csv", to_csv(_with_scale(curves), curve_columns))
    shown = shown_scale(records, inner_scale)
    grid = [r for r in grid if scale_of(r) in (None, shown)]
    if grid:
        write_atomically(out / "ratio.png", lambda tmp: save_ratio_map(ratio_table(grid), tmp))
        paired = paired_curves([c for c in curves if scale_of(c) in (None, shown)], grid)
        write_atomically(out / "curves.png", lambda tmp: save_map_curves(paired, tmp))
    return markdown


def paired_curves(curves: list[dict[str, Any]], grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Curve points labelled with their pair (`gon`, `baseline`) and `metric`: a GON's own pair,
    and a baseline's every pair whose GON was run in the same (data, latent size, norm)."""
    ran = {(r["data"], r["method"], r["latent_dim"], r["norm"]) for r in grid}
    return [
        {**c, "gon": gon, "baseline": base, "metric": metric_of(c["method"])}
        for c in curves
        for gon, base in pairs_of(c["method"])
        if c["method"] == gon or (c["data"], gon, c["latent_dim"], c["norm"]) in ran
    ]


def shown_scale(records: list[dict[str, Any]], inner_scale: str) -> str:
    """The GON rule the tables show: `inner_scale` if any grid row has it, else the paper's."""
    return inner_scale if any(r["stage"] == "grid" and scale_of(r) == inner_scale for r in records) else PAPER


def _with_scale(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "inner_scale": scale_of(r) or ""} for r in rows]


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record["stage"],
        record["data"],
        record["method"],
        record["latent_dim"],
        record["norm"],
        float(record["lr"]),
        record["steps"],
        record["seed"],
        scale_of(record),
    )


# summaries


def _mean(values: list[float]) -> float:
    return statistics.mean(values) if values else math.nan


def ratio_table(grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row per (data, pair, latent_dim, norm, steps) holding both methods: the baseline's
    error over the GON's (above 1: the GON is better), from the means over seeds."""
    rows = []
    groups: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    for r in grid:
        groups.setdefault((r["data"], r["latent_dim"], r["norm"], r["steps"]), {}).setdefault(r["method"], []).append(r)
    for (spec, k, norm, steps), by_method in groups.items():
        for gon, base in PAIRS.items():
            if gon not in by_method or base not in by_method:
                continue
            metric = metric_of(gon)
            g, b = _mean([r[metric] for r in by_method[gon]]), _mean([r[metric] for r in by_method[base]])
            rows.append(
                {
                    "data": spec,
                    "gon": gon,
                    "baseline": base,
                    "latent_dim": k,
                    "norm": norm,
                    "steps": steps,
                    "metric": metric,
                    "gon_value": g,
                    "baseline_value": b,
                    "ratio": b / g,
                }
            )
    return sorted(rows, key=lambda r: (r["data"], r["gon"], r["latent_dim"], r["norm"], r["steps"]))


def _curve_mean(curves: list[dict[str, Any]], match: dict[str, Any], key: str) -> list[tuple[int, float, float]]:
    """(step, mean train seconds, mean `key`) over seeds of the matching curve points."""
    mine = [c for c in curves if all(c.get(k) == v for k, v in match.items()) and key in c]
    out = []
    for step in sorted({c["step"] for c in mine}):
        at = [c for c in mine if c["step"] == step]
        out.append((step, _mean([c["train_seconds"] for c in at]), _mean([c[key] for c in at])))
    return out


def first_reaching(curve: list[tuple[int, float, float]], target: float) -> tuple[int, float] | None:
    """(step, seconds) of the first curve point at or below `target`."""
    return next(((step, seconds) for step, seconds, value in curve if value <= target), None)


def summarise(
    records: list[dict[str, Any]],
    curves: list[dict[str, Any]],
    rates: dict[tuple[str, int, str], float],
    preset: MapPreset,
    inner_scale: str = DEFAULT_INNER_SCALE,
) -> str:
    """map.md: the rates, the tables for the GON rows of `inner_scale` (the paper's where it
    has none), and where both rules were run, each cell's GON under both."""
    shown = shown_scale(records, inner_scale)
    mine = [r for r in records if scale_of(r) in (None, shown)]
    text = _summary(mine, [c for c in curves if scale_of(c) in (None, shown)], rates, preset, shown)
    return text + scale_comparison(records)


def scale_comparison(records: list[dict[str, Any]]) -> str:
    """A table of every grid cell run with the GON under the paper's scale and another rule:
    both GON errors, the baseline's, and both ratios (baseline / GON)."""
    grid = [r for r in records if r["stage"] == "grid"]
    rules = sorted({scale_of(r) for r in grid if scale_of(r) not in (None, PAPER)})
    if not rules:
        return ""
    lines = [
        "## What the inner-loss scale changed",
        "",
        "Cells run with the GON under both scale rules (mean ± std over the seeds each has; GON rows of the "
        "paper's scale were made when it was the default). Ratio: the baseline's error over the GON's "
        "(above 1: the GON is better); BatchNorm rows use test-batch statistics.",
        "",
        "| data | pair | latent | norm | steps | rule | GON (paper) | GON (rule) | baseline | ratio (paper) | "
        "ratio (rule) |",
        "|" + "---|" * 11,
    ]
    for rule in rules:
        cells = sorted(
            {(r["data"], r["method"], r["latent_dim"], r["norm"], r["steps"]) for r in grid if scale_of(r) == rule}
        )
        for spec, gon, k, norm, steps in cells:
            at = [r for r in grid if (r["data"], r["latent_dim"], r["norm"], r["steps"]) == (spec, k, norm, steps)]
            metric = metric_of(gon)
            old = [r[metric] for r in at if r["method"] == gon and scale_of(r) == PAPER]
            new = [r[metric] for r in at if r["method"] == gon and scale_of(r) == rule]
            base = [r[metric] for r in at if r["method"] == PAIRS[gon]]
            if not old or not base:
                continue
            b = _mean(base)
            lines.append(
                f"| {spec} | {gon}/{PAIRS[gon]} | {k} | {norm} | {steps} | {rule} | {mean_std(old)} | "
                f"{mean_std(new)} | {mean_std(base)} | {b / _mean(old):.2f} | {b / _mean(new):.2f} |"
            )
    lines.append("")
    return "\n".join(lines)


def _summary(
    records: list[dict[str, Any]],
    curves: list[dict[str, Any]],
    rates: dict[tuple[str, int, str], float],
    preset: MapPreset,
    shown: str,
) -> str:
    grid = [r for r in records if r["stage"] == "grid"]
    lines = [
        "# GON against the autoencoder with the same decoder",
        "",
        f"GON inner-loss scale in these tables: {shown}.",
        "",
    ]
    if any(r["method"] == "igon" for r in records):
        lines += [
            "igon is the implicit GON: a SIREN of its own, compared with the same autoencoder as the conv GON.",
            "",
        ]
    if preset.select_rates:
        lines += [
            "## Learning rates selected on the validation split",
            "",
            f"{preset.selection_steps} steps on {preset.selection_data}'s training split less its last "
            f"{VALIDATION_FRACTION:.1%}, evaluated on that part; rates {', '.join(map(str, preset.rates))}.",
            "",
            "| method | latent | norm | validation error per rate | selected |",
            "|---|---|---|---|---|",
        ]
        for (method, k, norm), lr in sorted(rates.items()):
            tried = sorted(
                (r["lr"], r[metric_of(method)])
                for r in records
                if r["stage"] == "selection" and (r["method"], r["latent_dim"], r["norm"]) == (method, k, norm)
            )
            lines.append(
                f"| {method} | {k} | {norm} | " + ", ".join(f"{a:g}: {v:.3f}" for a, v in tried) + f" | {lr:g} |"
            )
        lines.append("")
    lines += [
        "## Held-out error at equal steps",
        "",
        "Mean ± std over seeds; ratio = baseline / GON (above 1: the GON is better). Training error on the "
        f"first {TRAIN_EVAL_IMAGES:,} training items; BatchNorm rows give the paper's test-batch statistics and, in "
        "brackets, running statistics. Equal time: the baseline's held-out error on its curve when it has "
        "trained as long as the GON did (blank when its runs are shorter than that).",
        "",
        "| data | pair | latent | norm | steps | GON lr | GON held-out | GON train | baseline lr | "
        "baseline held-out | baseline train | ratio | baseline at GON's time | GON s | baseline s |",
        "|" + "---|" * 15,
    ]
    for row in ratio_table(grid):
        spec, gon, base, k, norm, steps = (
            row[key] for key in ("data", "gon", "baseline", "latent_dim", "norm", "steps")
        )
        metric = row["metric"]
        mine = {
            m: [
                r
                for r in grid
                if (r["data"], r["method"], r["latent_dim"], r["norm"], r["steps"]) == (spec, m, k, norm, steps)
            ]
            for m in (gon, base)
        }

        def held(rs: list[dict[str, Any]], metric: str = metric, norm: str = norm) -> str:
            text = mean_std([r[metric] for r in rs])
            running = metric + "_running"
            if norm == "batch" and all(running in r for r in rs):
                text += f" ({_mean([r[running] for r in rs]):.3f})"
            return text

        trained = metric.replace("heldout", "train")
        gon_seconds = _mean([r["seconds"] for r in mine[gon]])
        longest = max(
            (r["steps"] for r in grid if (r["data"], r["method"], r["latent_dim"], r["norm"]) == (spec, base, k, norm)),
            default=steps,
        )
        curve = _curve_mean(
            curves, {"data": spec, "method": base, "latent_dim": k, "norm": norm, "steps": longest}, metric
        )
        at_time = next((value for _, seconds, value in curve if seconds >= gon_seconds), None)
        lines.append(
            f"| {spec} | {gon}/{base} | {k} | {norm} | {steps} | {mine[gon][0]['lr']:g} | "
            f"{held(mine[gon])} | {mean_std([r[trained] for r in mine[gon] if trained in r])} | "
            f"{mine[base][0]['lr']:g} | {held(mine[base])} | "
            f"{mean_std([r[trained] for r in mine[base] if trained in r])} | {row['ratio']:.2f} | "
            f"{'' if at_time is None else f'{at_time:.3f}'} | {gon_seconds:.0f} | "
            f"{_mean([r['seconds'] for r in mine[base]]):.0f} |"
        )
    lines += [
        "",
        "## Which reaches an error first",
        "",
        f"On the curves (first {CURVE_IMAGES} test images, {CURVE_POINTS} points a run, mean over seeds): the "
        "worse of the two final errors is the target, and each method's first step (and training seconds) "
        "at or below it.",
        "",
        "| data | pair | latent | norm | steps | target | GON reaches it | baseline reaches it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in ratio_table(grid):
        spec, gon, base, k, norm, steps = (
            row[key] for key in ("data", "gon", "baseline", "latent_dim", "norm", "steps")
        )
        match = {"data": spec, "latent_dim": k, "norm": norm, "steps": steps}
        g = _curve_mean(curves, {**match, "method": gon}, row["metric"])
        b = _curve_mean(curves, {**match, "method": base}, row["metric"])
        if not g or not b:
            continue
        target = max(g[-1][2], b[-1][2])
        cells = [first_reaching(c, target) for c in (g, b)]
        lines.append(
            f"| {spec} | {gon}/{base} | {k} | {norm} | {steps} | {target:.3f} | "
            + " | ".join("-" if c is None else f"step {c[0]} ({c[1]:.0f} s)" for c in cells)
            + " |"
        )
    runs = len(grid) + sum(r["stage"] == "selection" for r in records)
    seconds = sum(r["seconds"] for r in records)
    threads = sorted({r.get("threads") for r in records})
    lines += [
        "",
        f"{runs} runs, {seconds / 3600:.1f} hours of training in all, threads per run: "
        f"{', '.join(map(str, threads))}; diverged: {sum(bool(r['diverged']) for r in records)}.",
        "",
    ]
    return "\n".join(lines)


def describe_presets() -> str:
    """The presets in a sentence each (for --help)."""
    return "; ".join(
        f"{name}: latent {list(p.latent_dims)}, norms {list(p.norms)}, "
        + ", ".join(
            f"{spec} budgets "
            + ", ".join(f"{b.steps}" + (f" ({' '.join(b.methods)} only)" if b.methods else "") for b in bs)
            for spec, bs in p.budgets.items()
        )
        for name, p in MAP_PRESETS.items()
    )
