"""The training loop, and `train`, which writes a run directory.

    from gon import ModelConfig, TrainConfig, train
    run = train(ModelConfig(kind="conv"), TrainConfig(data="mnist5k", steps=300), "runs/conv")
    print(run.metrics["sse_per_image"])
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError
from tqdm.auto import tqdm

from . import figures
from .checkpoint import (FORMAT, TrainingState, capture_rng, latest_training_state, read_json, restore_rng,
                         save_model, save_sampler, save_training_state)
from .data import ImageData, load_data
from .errors import GONError
from .evaluate import encode_dataset, evaluate
from .models import GON, ModelConfig, VariationalGON, build_model, config_from_dict
from .samplers import GaussianSampler, PriorSampler
from .viz import save_grid, save_loss_plot


logger = logging.getLogger("gon")

# with skip_nonfinite, this many non-finite losses in a row still stop training: the
# weights themselves have diverged, and skipping more batches cannot bring them back
MAX_CONSECUTIVE_SKIPS = 10

DEFAULT_LR = {"conv": 1e-3, "variational": 1e-3, "implicit": 1e-4}


@dataclass
class TrainConfig:
    """Every knob of a training run (the model's own knobs live in ModelConfig).

    steps or epochs sets the length (steps wins when both are given; 1000 steps when
    neither is). batch_size is the paper's 64. lr (Adam) defaults per model kind: the
    paper's 1e-4 for implicit GONs, 1e-3 for convolutional and variational ones, which
    converge several times faster than at 1e-4 at CPU budgets (docs/design.md).
    """

    data: str = "mnist5k"
    steps: int | None = None
    epochs: float | None = None
    batch_size: int = 64
    lr: float | None = None
    seed: int = 0
    fit: str = "resize"
    limit: int | None = None
    eval_limit: int | None = None
    log_every: int = 25
    # stop after this many seconds of training even if steps remain (equal-time comparisons)
    time_limit: float | None = None
    # write a resumable checkpoint every N steps, keeping the newest `keep_checkpoints`
    checkpoint_every: int | None = None
    keep_checkpoints: int = 2
    # skip a batch whose loss is NaN or infinite instead of stopping
    skip_nonfinite: bool = False
    # keep IDX and folder data out of memory (memory-mapped / decoded per batch)
    stream: bool = False

    def __post_init__(self) -> None:
        optional = ("steps", "limit", "eval_limit", "checkpoint_every")
        for key in (*optional, "batch_size", "log_every", "keep_checkpoints"):
            value = getattr(self, key)
            if value is None and key in optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GONError(f"{key} must be a positive integer, got {value!r}")
        if self.epochs is not None and not (isinstance(self.epochs, (int, float)) and self.epochs > 0):
            raise GONError(f"epochs must be a positive number, got {self.epochs!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise GONError(f"lr must be a positive number, got {self.lr!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise GONError(f"seed must be an integer, got {self.seed!r}")
        if self.time_limit is not None and not (isinstance(self.time_limit, (int, float)) and self.time_limit > 0):
            raise GONError(f"time_limit must be a positive number of seconds, got {self.time_limit!r}")
        for key in ("skip_nonfinite", "stream"):
            if not isinstance(getattr(self, key), bool):
                raise GONError(f"{key} must be true or false, got {getattr(self, key)!r}")
        if self.fit not in ("resize", "pad"):
            raise GONError(f"fit must be 'resize' or 'pad', got {self.fit!r}")
        if not isinstance(self.data, str) or not self.data:
            raise GONError(f"data must be a data spec string, got {self.data!r}")

    def learning_rate(self, kind: str) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[kind]

    def total_steps(self, train_size: int) -> int:
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return max(1, round(self.epochs * (train_size // self.batch_size)))
        return 1000

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        return config_from_dict(cls, values, "training")


@dataclass
class Run:
    model: GON
    model_config: ModelConfig
    train_config: TrainConfig
    metrics: dict[str, Any]
    directory: Path | None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_for_model(spec: str, split: str, config: ModelConfig, fit: str = "resize", limit: int | None = None,
                   stream: bool = False) -> ImageData:
    """Data fitted to a model's image size and channels."""
    return load_data(spec, split, image_size=config.image_size, channels=config.channels, fit=fit, limit=limit,
                     stream=stream)


def fit(model: GON | torch.nn.Module, data: ImageData, config: TrainConfig, progress: bool = True,
        resume: TrainingState | None = None,
        on_checkpoint: Callable[[TrainingState], None] | None = None) -> list[dict[str, float]]:
    """Train `model` in place on `data`; returns the logged history.

    A non-finite loss raises GONError naming the step (or, with config.skip_nonfinite,
    skips that batch). Every config.checkpoint_every steps `on_checkpoint` receives the
    full training state; `resume` continues from such a state exactly (same weights, bit
    for bit on CPU, as an uninterrupted run). An unset config.lr means 1e-3 (`train`
    resolves it per model kind).
    """
    if len(data) < config.batch_size:
        raise GONError(f"{data.name}: {len(data)} images, fewer than one batch of {config.batch_size}")
    classifier = getattr(model, "classifier", None)
    if classifier is not None and data.labels is None:
        raise GONError(f"{data.name}: a GON classifier needs labels, and this data set has none")
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr if config.lr is not None else 1e-3)
    batches_per_epoch = len(data) // config.batch_size
    total = config.total_steps(len(data))
    if resume is None:
        seed_everything(config.seed)
        order, first, history = torch.randperm(len(data)), 1, []
        running, count, last_step = 0.0, 0, 0
    else:
        optimiser.load_state_dict(resume.optimizer)
        restore_rng(resume.rng)
        order, first, history = resume.order, resume.step + 1, list(resume.history)
        running, count, last_step = resume.running
    skipped = 0
    model.train()
    if hasattr(model, "origin_path"):  # baselines without a gradient-origin step train here too
        logger.info("gradient-origin path: %s", model.origin_path(config.batch_size))
    start = last_time = time.perf_counter()
    elapsed_before = history[-1]["elapsed_s"] if history else 0.0
    # redirected to a file, the bar updates every 10 s instead of filling the log
    interactive = getattr(sys.stderr, "isatty", lambda: False)()
    bar = tqdm(total=total, initial=first - 1, disable=not progress, unit="step", dynamic_ncols=True,
               mininterval=0.1 if interactive else 10.0)
    for step in range(first, total + 1):
        position = (step - 1) % batches_per_epoch
        if position == 0 and step > 1:
            order = torch.randperm(len(data))
        index = order[position * config.batch_size:(position + 1) * config.batch_size]
        x = data.batch(index)
        loss = model.loss(x, data.labels[index]) if classifier is not None else model.loss(x)
        skipped = skipped + 1 if not torch.isfinite(loss) else 0
        if skipped:
            if not config.skip_nonfinite or skipped >= MAX_CONSECUTIVE_SKIPS:
                bar.close()
                raise GONError(f"training diverged: the loss is {loss.item()} at step {step}"
                               + (f" ({skipped} steps in a row)" if skipped > 1 else "") + "; try a lower --lr"
                               + (" (the last checkpoint is kept: --resume continues from it)"
                                  if config.checkpoint_every and step > config.checkpoint_every else ""))
            logger.warning("skipping batch at step %d: the loss is %s", step, loss.item())
        else:
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            running, count = running + loss.item(), count + 1
        now = time.perf_counter()
        out_of_time = config.time_limit is not None and now - start >= config.time_limit
        if (step % config.log_every == 0 or step == total or out_of_time) and count:
            record = {"step": step, "loss": running / count, "steps_per_s": (step - last_step) / (now - last_time),
                      "elapsed_s": elapsed_before + now - start}
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            running, count, last_step, last_time = 0.0, 0, step, now
        bar.update(1)
        if on_checkpoint is not None and config.checkpoint_every and step % config.checkpoint_every == 0 \
                and step < total:
            on_checkpoint(TrainingState(step, order, optimiser.state_dict(), capture_rng(), list(history),
                                        (running, count, last_step)))
        if out_of_time:
            break
    bar.close()
    model.eval()
    return history


def _work_directory(out: Path) -> Path:
    """Where a run is built before it is renamed to `out`; also where its checkpoints live."""
    return out.parent / f".{out.name}.partial"


def train(model_config: ModelConfig, config: TrainConfig, out: str | Path | None = None,
          progress: bool = True, overwrite: bool = False) -> Run:
    """Train a fresh model and, if `out` is given, write the run directory:
    config.json, model.safetensors, metrics.jsonl, loss.png, reconstructions.png,
    samples.png, interpolations.png (and sampler.safetensors for non-variational models).
    The directory appears whole at the end or not at all; with config.checkpoint_every,
    checkpoints accumulate beside it (in .OUT.partial) until then, and `resume(out)`
    continues an interrupted run."""
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not overwrite:
        raise GONError(f"{out} already exists: choose another --out or pass --overwrite")
    config = dataclasses.replace(config, lr=config.learning_rate(model_config.kind))
    if out is not None:
        work = _work_directory(out)
        if (work / "checkpoints").is_dir() and any((work / "checkpoints").glob("step-*")) and not overwrite:
            raise GONError(f"an interrupted run of {out} has checkpoints: continue it with `gon train --resume "
                           f"{out}`, or pass --overwrite to start again")
        shutil.rmtree(work, ignore_errors=True)
    elif config.checkpoint_every:
        raise GONError("checkpoints need a run directory (--out)")
    data = load_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    test = _test_split(config, model_config)
    seed_everything(config.seed)
    model = build_model(model_config)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=None)


def resume(out: str | Path, progress: bool = True) -> Run:
    """Continue the interrupted run that was to be written to `out`, from its newest usable checkpoint."""
    out = Path(out)
    work = _work_directory(out)
    if out.exists() and not work.exists():
        raise GONError(f"{out} is a finished run: nothing to resume")
    document = read_json(work / "run.json", f"missing: no interrupted run of {out} to resume")
    model_config = ModelConfig.from_dict(document["model"])
    config = TrainConfig.from_dict(document["train"])
    model = build_model(model_config)
    state, path = latest_training_state(work, model)
    logger.info("resuming %s from %s", out, path.name)
    data = load_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    test = _test_split(config, model_config)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=state)


def _train_and_write(model: GON, model_config: ModelConfig, config: TrainConfig, data: ImageData,
                     test: ImageData | None, out: Path | None, progress: bool,
                     resume: TrainingState | None) -> Run:
    work = _work_directory(out) if out is not None else None
    on_checkpoint = None
    if work is not None and config.checkpoint_every:
        work.mkdir(parents=True, exist_ok=True)
        (work / "run.json").write_text(json.dumps({"format": FORMAT, "model": model_config.to_dict(),
                                                   "train": dataclasses.asdict(config)}, indent=2) + "\n")

        def on_checkpoint(state: TrainingState) -> None:
            save_training_state(work, model, state, config.keep_checkpoints)
    try:
        history = fit(model, data, config, progress, resume=resume, on_checkpoint=on_checkpoint)
        metrics = {**evaluate(model, test, seed=config.seed), "split": "test", "data": config.data} if test else {}
        if work is None:
            return Run(model, model_config, config, metrics, None)
        try:
            work.mkdir(parents=True, exist_ok=True)
            _write_run(work, model, model_config, config, data, test, history, metrics)
        except (OSError, SafetensorError) as error:
            raise GONError(f"could not write the run directory {out} ({str(error).splitlines()[0]})") from None
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        (work / "run.json").unlink(missing_ok=True)
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except BaseException:
        # keep what can be resumed; anything else is a half-written run
        if work is not None and not any((work / "checkpoints").glob("step-*")):
            shutil.rmtree(work, ignore_errors=True)
        raise
    return Run(model, model_config, config, metrics, out)


def _test_split(config: TrainConfig, model_config: ModelConfig) -> ImageData | None:
    try:
        return load_for_model(config.data, "test", model_config, config.fit, config.eval_limit, config.stream)
    except GONError:
        return None  # a data set without a test split trains all the same


def _write_run(directory: Path, model: GON, model_config: ModelConfig, config: TrainConfig, data: ImageData,
               test: ImageData | None, history: list[dict[str, float]], metrics: dict[str, Any]) -> None:
    parameters = sum(p.numel() for p in model.parameters())
    save_model(directory, model, model_config,
               {"train": dataclasses.asdict(config), "data_shape": list(data.shape), "parameters": parameters})
    with open(directory / "metrics.jsonl", "w") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")
        if metrics:
            f.write(json.dumps({"step": history[-1]["step"], **metrics}) + "\n")
    save_loss_plot([r["step"] for r in history], [r["loss"] for r in history], directory / "loss.png",
                   ylabel="training loss (per image)")
    shown = test if test is not None else data
    save_grid(figures.reconstruction_pairs(model, figures.spread(shown, min(32, len(shown)))),
              directory / "reconstructions.png", columns=8)
    sampler = default_sampler(model, data)
    if isinstance(sampler, GaussianSampler):
        save_sampler(directory, sampler)
    save_grid(figures.samples(model, sampler, 64, seed=config.seed), directory / "samples.png", columns=8)
    z = model.encode(figures.spread(shown, 2 * min(8, len(shown) // 2)))
    save_grid(figures.interpolations(model, z[0::2], z[1::2], steps=10), directory / "interpolations.png", columns=10)


def default_sampler(model: GON, data: ImageData, max_images: int = 5000) -> GaussianSampler | PriorSampler:
    """N(0, I) for variational GONs; otherwise a Gaussian fitted to training latents (Appendix D)."""
    if isinstance(model, VariationalGON):
        return PriorSampler(model.latent_dim)
    return GaussianSampler.fit(encode_dataset(model, data, limit=max_images))
