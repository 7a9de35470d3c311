"""The paper's evidence, rerun: Table 1, Table 2 and the ablations of Figs. 2, 3, 8 and
Appendices B, C, E, each as a function that trains, evaluates on held-out data and
writes its figures (Markdown, CSV, PNG) into a directory.

    from benchmarks.tables import table1
    result = table1("runs/table1", quick=True)      # mnist5k and Fashion-MNIST, 3 seeds
    print(result.markdown)

Every run of a table is a fresh model trained by `fit` on the same batches for the same
number of steps, then evaluated by `evaluate`: only the method differs. Wall-clock
figures are measured in this process; run one benchmark at a time.
"""

from __future__ import annotations

import csv
import io
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gon.config import ModelConfig, TrainConfig
from gon.data import ImageData
from gon.decoders import ACTIVATIONS
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.files import append_jsonl, write_atomically, write_text
from gon.gallery import spread
from gon.models import LatentModel
from gon.training import data_for_model, fit, prepare_run
from gon.viz import save_curves, save_grid

logger = logging.getLogger("gon")


@dataclass(frozen=True)
class Method:
    """A row of a table or a line of a plot: a label and the ModelConfig values that make it."""

    label: str
    model: dict[str, Any]


# Table 1: validation reconstruction error of single-step and multi-step methods. The
# 10-step variants take inner steps of 0.1, as the paper (after Nijkamp et al., 2019).
TABLE1 = (
    Method("GON (1 step)", {"kind": "conv"}),
    Method("Autoencoder", {"kind": "ae"}),
    Method("Tied autoencoder", {"kind": "tied-ae"}),
    Method("GON, 1 step, detached", {"kind": "conv", "detach": True}),
    # the paper's multi-step baseline: plain gradient descent (the library's default backtracks)
    Method(
        "GON, 10 steps, detached",
        {"kind": "conv", "inner_steps": 10, "inner_step_size": 0.1, "inner_descent": "plain", "detach": True},
    ),
    Method("GON, 10 steps", {"kind": "conv", "inner_steps": 10, "inner_step_size": 0.1, "inner_descent": "plain"}),
    Method("GLO", {"kind": "glo"}),
)
# Table 2: negative ELBO of a variational GON and a VAE with the same decoder.
TABLE2 = (
    Method("Variational GON", {"kind": "variational"}),
    Method("VAE", {"kind": "vae"}),
)

QUICK_DATA = ("mnist5k", "fashion-mnist")


@dataclass(frozen=True)
class Preset:
    """How long each data set trains and how much of its test split is evaluated."""

    steps: dict[str, int] | None = None  # per data set; None: use epochs
    epochs: float | None = None
    eval_limit: dict[str, int] = field(default_factory=dict)

    def train_config(self, data: str, seed: int, steps: int | None) -> TrainConfig:
        if steps is None and self.steps is not None:
            steps = self.steps.get(data, max(self.steps.values()))
        return TrainConfig(
            data=data,
            steps=steps,
            epochs=None if steps else self.epochs,
            seed=seed,
            eval_limit=self.eval_limit.get(data),
        )


# --quick: measured to finish Table 1 on both data sets, 3 seeds, in under 30 minutes on
# 2 CPU cores (docs/results.md); GLO's optimisation-based encoding is why Fashion-MNIST is
# evaluated on its first 2,000 test images. Full: the paper's epoch counts, for a GPU.
TABLE1_PRESETS = {
    "quick": Preset(steps={"mnist5k": 500, "fashion-mnist": 500}, eval_limit={"fashion-mnist": 2000}),
    "full": Preset(epochs=500),
}
TABLE2_PRESETS = {"quick": Preset(steps={"mnist5k": 600, "fashion-mnist": 600}), "full": Preset(epochs=1000)}


@dataclass
class TableResult:
    rows: list[dict[str, Any]]
    markdown: str
    directory: Path


def run_method(
    method: Method,
    train_data: ImageData,
    test: ImageData,
    config: TrainConfig,
    on_step: Callable[[LatentModel, int], bool | None] | None = None,
) -> tuple[LatentModel, dict[str, Any]]:
    """Train `method` from scratch on `train_data` and evaluate it on `test`; returns the
    model and a record with the metrics, parameter count and seconds spent."""
    values = {"image_size": train_data.shape[-1], **method.model, "channels": train_data.shape[0]}
    model, _, config = prepare_run(ModelConfig.from_dict(values), config, train_data)
    start = time.perf_counter()
    history = fit(
        model,
        train_data,
        config,
        progress=False,
        on_step=None if on_step is None else (lambda step: on_step(model, step)),
    )
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = evaluate(model, test, seed=config.seed)
    eval_seconds = time.perf_counter() - start
    record = {
        "method": method.label,
        "data": config.data,
        "seed": config.seed,
        "steps": history[-1]["step"],
        "parameters": model.network_parameters(),
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        **metrics,
    }
    codes = model.code_latents()
    if codes is not None:  # GLO's table of training codes is not part of the network
        record["latent_table"] = codes.numel()
    return model, record


def _load_pair(spec: str, model: dict[str, Any], eval_limit: int | None) -> tuple[ImageData, ImageData]:
    config = ModelConfig.from_dict(model)
    return data_for_model(spec, "train", config), data_for_model(spec, "test", config, limit=eval_limit)


def run_table(
    name: str,
    methods: tuple[Method, ...],
    metric: str,
    metric_label: str,
    out: str | Path,
    data: tuple[str, ...] = QUICK_DATA,
    seeds: tuple[int, ...] = (0, 1, 2),
    preset: Preset = TABLE1_PRESETS["quick"],
    steps: int | None = None,
) -> TableResult:
    """Train every method on every data set with every seed; write runs.jsonl (one record a
    run, appended as each finishes), NAME.csv and NAME.md (mean +- std over seeds)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    log = out / "runs.jsonl"
    write_text(log, "")
    started = time.perf_counter()
    for spec in data:
        train_data, test = _load_pair(spec, methods[0].model, preset.eval_limit.get(spec))
        for method in methods:
            for seed in seeds:
                _, record = run_method(method, train_data, test, preset.train_config(spec, seed, steps))
                rows.append(record)
                append_jsonl(log, [record])
                logger.info(
                    "%s | %s | seed %d: %s %.4f (%.0f s training, %.1f s evaluation)",
                    spec,
                    method.label,
                    seed,
                    metric,
                    record[metric],
                    record["train_seconds"],
                    record["eval_seconds"],
                )
    total = time.perf_counter() - started
    markdown = summarise(rows, methods, data, metric, metric_label, total)
    write_text(out / f"{name}.md", markdown)
    write_text(out / f"{name}.csv", to_csv(rows))
    return TableResult(rows, markdown, out)


def summarise(
    rows: list[dict[str, Any]],
    methods: tuple[Method, ...],
    data: tuple[str, ...],
    metric: str,
    metric_label: str,
    total_seconds: float | None = None,
) -> str:
    """The Markdown table: a row per method, mean +- std of `metric` over seeds per data set,
    parameters, and per-run training and evaluation seconds (mean over runs)."""
    header = [
        "method",
        "parameters",
        *(f"{spec}: {metric_label}" for spec in data),
        "training s / run",
        "evaluation s / run",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        mine = [r for r in rows if r["method"] == method.label]
        if not mine:
            continue
        cells = [method.label, f"{mine[0]['parameters']:,}" + (" + codes" if "latent_table" in mine[0] else "")]
        for spec in data:
            values = [r[metric] for r in mine if r["data"] == spec]
            cells.append(mean_std(values))
        cells.append(
            " / ".join(
                f"{statistics.mean(r['train_seconds'] for r in mine if r['data'] == s):.1f}"
                for s in data
                if any(r["data"] == s for r in mine)
            )
        )
        cells.append(
            " / ".join(
                f"{statistics.mean(r['eval_seconds'] for r in mine if r['data'] == s):.1f}"
                for s in data
                if any(r["data"] == s for r in mine)
            )
        )
        lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted({r["seed"] for r in rows})
    detail = [f"Mean +- standard deviation over seeds {', '.join(map(str, seeds))}."]
    for spec in data:
        example = next((r for r in rows if r["data"] == spec), None)
        if example is not None:
            detail.append(
                f"{spec}: {example['steps']} training steps of batch 64, evaluated on {example['images']} test images."
            )
    detail.append("Seconds are per run, one value per data set in the order of the columns.")
    if total_seconds is not None:
        detail.append(f"All runs took {total_seconds / 60:.1f} minutes.")
    return "\n".join(lines) + "\n\n" + " ".join(detail) + "\n"


def mean_std(values: list[float]) -> str:
    """'mean ± std' to 3 decimals ('-' for none, the value alone for one)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def to_csv(rows: list[dict[str, Any]], first: tuple[str, ...] = ()) -> str:
    """Records as CSV text: the `first` columns in that order, then every other key in the
    order met; a record without a key leaves its cell empty."""
    keys = list(first)
    for row in rows:
        keys += [k for k in row if k not in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def table1(
    out: str | Path,
    quick: bool = True,
    data: tuple[str, ...] = QUICK_DATA,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int | None = None,
) -> TableResult:
    """Table 1: held-out summed squared error per image of every single- and multi-step method."""
    preset = TABLE1_PRESETS["quick" if quick else "full"]
    return run_table("table1", TABLE1, "sse_per_image", "SSE per image", out, data, seeds, preset, steps)


def table2(
    out: str | Path,
    quick: bool = True,
    data: tuple[str, ...] = QUICK_DATA,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int | None = None,
) -> TableResult:
    """Table 2: held-out negative ELBO in bits per dimension, variational GON against VAE."""
    preset = TABLE2_PRESETS["quick" if quick else "full"]
    return run_table("table2", TABLE2, "elbo_bits_per_dim", "bits/dim", out, data, seeds, preset, steps)


# ablations


@dataclass(frozen=True)
class Curve:
    """A line of an ablation plot: a method, in a panel, evaluated along training."""

    panel: str
    method: Method


def _activation_curves() -> list[Curve]:
    return [
        Curve(f"latent_dim {k}", Method(a, {"kind": "conv", "activation": a, "latent_dim": k}))
        for k in (32, 128)
        for a in ACTIVATIONS
    ]


def _capacity_curves() -> list[Curve]:
    curves = []
    for f in (8, 16, 32):
        for kind, name in (("conv", "GON"), ("ae", "AE")):
            curves.append(
                Curve("filters f (latent_dim 32)", Method(f"{name} f={f}", {"kind": kind, "hidden_features": f}))
            )
    for k in (8, 32, 128):
        for kind, name in (("conv", "GON"), ("ae", "AE")):
            curves.append(Curve("latent_dim k (filters 16)", Method(f"{name} k={k}", {"kind": kind, "latent_dim": k})))
    return curves


def _origin_curves() -> list[Curve]:
    return [
        Curve(
            f"z = {'-grad' if form == 'negative_gradient' else 'z0 - grad'}",
            Method(f"sigma={sigma:g}", {"kind": "conv", "origin_std": sigma, "latent_form": form}),
        )
        for form in ("negative_gradient", "descent")
        for sigma in (0.0, 0.01, 0.1, 1.0)
    ]


def _step_curves() -> list[Curve]:
    # multi-step variants take plain inner steps of 0.1, as Table 1's 10-step baselines
    variants = [
        ("1 step", 1, 1.0, False),
        ("1 step, detached", 1, 1.0, True),
        ("2 steps", 2, 0.1, False),
        ("4 steps", 4, 0.1, False),
        ("10 steps, detached", 10, 0.1, True),
    ]
    return [
        Curve(
            "inner steps",
            Method(
                label,
                {
                    "kind": "conv",
                    "inner_steps": n,
                    "inner_step_size": size,
                    "inner_descent": "plain",
                    "detach": detached,
                },
            ),
        )
        for label, n, size, detached in variants
    ]


def _generalisation_curves() -> list[Curve]:
    return [Curve("GON", Method("GON", {"kind": "conv"})), Curve("Autoencoder", Method("Autoencoder", {"kind": "ae"}))]


@dataclass(frozen=True)
class Ablation:
    curves: Callable[[], list[Curve]]
    figure: str
    quick_steps: int
    full_steps: int
    every: int
    train_error: bool = False  # also evaluate a fixed set of training images (generalisation)


ABLATIONS: dict[str, Ablation] = {
    "activations": Ablation(_activation_curves, "Fig. 3", 300, 3000, 50),
    "capacity": Ablation(_capacity_curves, "Fig. 2a, App. B (Fig. 10)", 300, 3000, 50),
    "origin": Ablation(_origin_curves, "App. C (Fig. 11)", 300, 3000, 50),
    "steps": Ablation(_step_curves, "Fig. 2b", 300, 3000, 50),
    "generalisation": Ablation(_generalisation_curves, "Fig. 2c, App. E (Fig. 16)", 3000, 20000, 250, True),
}
CONVERGENCE_TIMES = (1, 3, 5, 10, 20, 30, 60)  # seconds of training (Fig. 8)
ABLATION_NAMES = (*ABLATIONS, "convergence")


def ablation(
    name: str,
    out: str | Path,
    quick: bool = True,
    data: str = "mnist5k",
    seeds: tuple[int, ...] = (0,),
    steps: int | None = None,
    eval_images: int = 500,
) -> Path:
    """Run one ablation and write NAME.csv (one row per evaluation point) and NAME.png.

    Every curve trains the paper's conv setting (32 px, f 16, k 32, ELU, Adam 1e-3,
    batch 64) with one thing changed, and is evaluated every few steps on the first
    `eval_images` test images (held-out summed squared error per image).
    """
    if name == "convergence":
        return convergence(out, data=data, seed=seeds[0], eval_images=eval_images)
    if name not in ABLATIONS:
        raise GONError(f"unknown ablation {name!r}: choose one of {', '.join(ABLATION_NAMES)}")
    spec = ABLATIONS[name]
    steps = steps or (spec.quick_steps if quick else spec.full_steps)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_data, test = _load_pair(data, {"kind": "conv"}, eval_images)
    seen = None
    if spec.train_error:  # the first training images, evaluated like the test ones
        n = min(eval_images, len(train_data))
        labels = train_data.labels[:n] if train_data.labels is not None else None
        seen = ImageData(train_data.images[:n], labels, f"{train_data.name} (training images)")
    rows: list[dict[str, Any]] = []
    for curve in spec.curves():
        for seed in seeds:
            clock = {"eval": 0.0, "start": time.perf_counter()}

            def on_step(
                model: LatentModel, step: int, curve: Curve = curve, seed: int = seed, clock: dict[str, float] = clock
            ) -> None:
                if step % spec.every and step != steps:
                    return
                paused = time.perf_counter()
                model.eval()
                row = {
                    "panel": curve.panel,
                    "label": curve.method.label,
                    "seed": seed,
                    "step": step,
                    "train_seconds": paused - clock["start"] - clock["eval"],
                    "test_sse": evaluate(model, test)["sse_per_image"],
                }
                if seen is not None:
                    row["train_sse"] = evaluate(model, seen)["sse_per_image"]
                rows.append(row)
                model.train()
                clock["eval"] += time.perf_counter() - paused

            config = TrainConfig(data=data, steps=steps, seed=seed)
            run_method(curve.method, train_data, test, config, on_step=on_step)
            last = rows[-1]
            logger.info(
                "%s | %s | %s | seed %d: test SSE %.3f after %d steps",
                name,
                curve.panel,
                curve.method.label,
                seed,
                last["test_sse"],
                last["step"],
            )
    write_text(out / f"{name}.csv", to_csv(rows))
    write_atomically(
        out / f"{name}.png",
        lambda tmp: save_curves(rows, tmp, f"{name} ({spec.figure}), {data}", train=spec.train_error),
    )
    return out


def convergence(
    out: str | Path,
    data: str = "mnist5k",
    seed: int = 0,
    eval_images: int = 500,
    times: tuple[float, ...] = CONVERGENCE_TIMES,
    shown: int = 8,
) -> Path:
    """Fig. 8: reconstructions of held-out digits after 1, 3, 5, ... 60 seconds of training
    (training time only; the pauses to evaluate are not counted). Writes convergence.png
    (a row per time point, the originals on top) and convergence.csv."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_data, test = _load_pair(data, {"kind": "conv"}, eval_images)
    originals = spread(test, shown)
    rows: list[dict[str, Any]] = []
    pictures = [originals]
    pending = list(times)
    clock = {"eval": 0.0, "start": time.perf_counter()}

    def on_step(model: LatentModel, step: int) -> bool:
        trained = time.perf_counter() - clock["start"] - clock["eval"]
        if trained < pending[0]:
            return False
        paused = time.perf_counter()
        model.eval()
        pictures.append(model.reconstruct(originals))
        rows.append(
            {
                "target_seconds": pending.pop(0),
                "train_seconds": trained,
                "step": step,
                "test_sse": evaluate(model, test)["sse_per_image"],
            }
        )
        model.train()
        clock["eval"] += time.perf_counter() - paused
        return not pending

    run_method(
        Method("GON", {"kind": "conv"}),
        train_data,
        test,
        TrainConfig(data=data, steps=10**9, seed=seed),
        on_step=on_step,
    )
    write_text(out / "convergence.csv", to_csv(rows))
    write_atomically(out / "convergence.png", lambda tmp: save_grid(torch.cat(pictures), tmp, columns=shown))
    for row in rows:
        logger.info(
            "convergence | %.0f s (%d steps): test SSE %.3f", row["target_seconds"], row["step"], row["test_sse"]
        )
    return out
