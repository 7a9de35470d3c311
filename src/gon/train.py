"""The training loop, and `train`, which writes a run directory.

    from gon import ModelConfig, TrainConfig, train
    run = train(ModelConfig(kind="conv"), TrainConfig(data="mnist5k", steps=300), "runs/conv")
    print(run.metrics["sse_per_image"])
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import random
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from safetensors import SafetensorError
from tqdm.auto import tqdm

from . import distributed, figures, tensorboard
from .checkpoint import (FORMAT, TrainingState, capture_rng, latest_training_state, load_model, read_json,
                         restore_rng, save_model, save_sampler, save_training_state)
from .data import ImageData, load_data
from .distributed import DEVICES, PRECISIONS
from .errors import GONError
from .files import write_atomically
from .evaluate import encode_dataset, evaluate
from .models import (BASELINE_KINDS, GON, ModelConfig, VariationalGON, build_model, check_model_size,
                     config_from_dict)
from .samplers import GaussianSampler, PriorSampler
from .viz import save_grid, save_loss_plot


logger = logging.getLogger("gon")

# with skip_nonfinite, this many non-finite losses in a row still stop training: the
# weights themselves have diverged, and skipping more batches cannot bring them back
MAX_CONSECUTIVE_SKIPS = 10

DEFAULT_LR = {"conv": 1e-3, "variational": 1e-3, "implicit": 1e-4}
# a baseline trains at the rate of the GON kind whose decoder it shares
DEFAULT_LR.update({kind: DEFAULT_LR[base] for kind, base in BASELINE_KINDS.items()})


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
    # auto: cuda if available, else mps, else cpu (gon.distributed); the saved model is on CPU
    device: str = "auto"
    # fp32, or bf16 / fp16 autocast of the forward pass (fp16 with a GradScaler, CUDA only)
    precision: str = "fp32"
    # torch.compile the decoder (baselines only: it cannot differentiate the gradient-origin step twice)
    compile: bool = False
    # under torchrun, BatchNorm statistics over the global batch (norm=batch, CUDA)
    sync_batchnorm: bool = False
    # TensorBoard scalars and image grids in RUN/tensorboard (needs the [tensorboard] extra)
    tensorboard: bool = False

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
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2 ** 32:
            raise GONError(f"seed must be an integer from 0 to 2**32 - 1 (numpy's range), got {self.seed!r}")
        if self.time_limit is not None and not (isinstance(self.time_limit, (int, float)) and self.time_limit > 0):
            raise GONError(f"time_limit must be a positive number of seconds, got {self.time_limit!r}")
        for key in ("skip_nonfinite", "stream", "compile", "sync_batchnorm", "tensorboard"):
            if not isinstance(getattr(self, key), bool):
                raise GONError(f"{key} must be true or false, got {getattr(self, key)!r}")
        if self.fit not in ("resize", "pad"):
            raise GONError(f"fit must be 'resize' or 'pad', got {self.fit!r}")
        if not isinstance(self.data, str) or not self.data:
            raise GONError(f"data must be a data spec string, got {self.data!r}")
        if self.device not in DEVICES:
            raise GONError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise GONError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    def learning_rate(self, kind: str) -> float:
        """`lr`, or when unset the default Adam rate of the model kind `kind`."""
        return self.lr if self.lr is not None else DEFAULT_LR[kind]

    def total_steps(self, train_size: int) -> int:
        """Training steps on `train_size` images: `steps`, else `epochs` full batches per epoch, else 1000."""
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return max(1, round(self.epochs * (train_size // self.batch_size)))
        return 1000

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """A config from a dict such as config.json's "train"; unknown keys raise GONError."""
        return config_from_dict(cls, values, "training")


@dataclass
class Run:
    """What `train` returns: the trained model (in eval mode), its ModelConfig, the
    TrainConfig with `lr` resolved, the held-out metrics of `evaluate` on the test split
    (plus "split" and "data"; empty without a test split), and the run directory written
    (None when `train` got no `out`)."""

    model: GON
    model_config: ModelConfig
    train_config: TrainConfig
    metrics: dict[str, Any]
    directory: Path | None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sized_for(model_config: ModelConfig, data: ImageData) -> ModelConfig:
    """`model_config` with what only the training data can tell: a GLO model's latent table
    has a row per training image (GONError if the config names another count)."""
    if model_config.kind != "glo":
        return model_config
    if model_config.train_images not in (None, len(data)):
        raise GONError(f"train_images is {model_config.train_images}, but {data.name} has {len(data)} "
                       f"training images")
    return dataclasses.replace(model_config, train_images=len(data))


def load_for_run(document: dict[str, Any], config: ModelConfig, spec: str | None = None, split: str = "test",
                 limit: int | None = None) -> ImageData:
    """Data for a saved run (its config document): `spec`, or the data set it was trained on,
    fitted to the model as its training was."""
    train = document.get("train") if isinstance(document.get("train"), dict) else {}
    return load_for_model(spec or train.get("data") or "mnist5k", split, config, train.get("fit", "resize"), limit)


def load_for_model(spec: str, split: str, config: ModelConfig, fit: str = "resize", limit: int | None = None,
                   stream: bool = False) -> ImageData:
    """Data fitted to a model's image size and channels."""
    return load_data(spec, split, image_size=config.image_size, channels=config.channels, fit=fit, limit=limit,
                     stream=stream)


def fit(model: GON | torch.nn.Module, data: ImageData, config: TrainConfig, progress: bool = True,
        resume: TrainingState | None = None,
        on_checkpoint: Callable[[TrainingState], None] | None = None,
        on_step: Callable[[int], bool | None] | None = None,
        on_log: Callable[[dict[str, float]], None] | None = None,
        on_interrupt: Callable[[TrainingState], None] | None = None) -> list[dict[str, float]]:
    """Train `model` in place on `data`; returns the logged history.

    A non-finite loss raises GONError naming the step (or, with config.skip_nonfinite,
    skips that batch). Every config.checkpoint_every steps `on_checkpoint` receives the
    full training state; `resume` continues from such a state exactly (same weights, bit
    for bit on CPU, as an uninterrupted run). `on_step(step)`, if given, runs after every
    optimiser step (e.g. to evaluate along the way); returning True stops training.
    `on_log(record)` receives each record of the history as it is logged. With
    `on_interrupt`, a first Ctrl-C (SIGINT, in the main thread) finishes the current step,
    hands the training state to `on_interrupt` and raises Interrupted; a second stops at once. An unset
    config.lr means 1e-3 (`train` resolves it per model kind).

    Trains on config.device and leaves the model where it found it. Inside a torch.distributed
    process group (torchrun; see gon.distributed) each rank trains on its share of every
    global batch of config.batch_size, through DistributedDataParallel; only rank 0 shows
    progress, logs and checkpoints.
    """
    if len(data) < config.batch_size:
        raise GONError(f"{data.name}: {len(data)} images, fewer than one batch of {config.batch_size}")
    classifier = getattr(model, "classifier", None)
    if classifier is not None and data.labels is None:
        raise GONError(f"{data.name}: a GON classifier needs labels, and this data set has none")
    ranks = distributed.current()
    device = distributed.resolve_device(config.device, ranks.local_rank)
    distributed.check_precision(device, config.precision)
    local_batch = distributed.local_batch_size(config.batch_size, ranks)
    home = next(model.parameters()).device
    model.to(device)
    if config.compile:
        distributed.compile_decoder(model)
    objective = model.loss
    if ranks.world_size > 1:
        sync = config.sync_batchnorm and distributed.check_sync_batchnorm(model, ranks, device)
        objective = distributed.data_parallel(model, ranks, device, sync)
    elif config.sync_batchnorm:
        distributed.check_sync_batchnorm(model, ranks, device)
    # disabled (a pass-through) unless fp16, whose small gradients would underflow unscaled
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    lr = config.lr if config.lr is not None else 1e-3
    # a model may ask for its own parameter groups (GLO: its latent table has its own rate)
    groups = model.parameter_groups(lr) if hasattr(model, "parameter_groups") else model.parameters()
    optimiser = torch.optim.Adam(groups, lr=lr)
    indexed = getattr(model, "indexed", False)  # GLO: a latent per training image, looked up by index
    batches_per_epoch = len(data) // config.batch_size
    total = config.total_steps(len(data))
    if resume is None:
        seed_everything(config.seed)
        order, first, history = torch.randperm(len(data)), 1, []
        running, count, last_step = 0.0, 0, 0
    else:
        optimiser.load_state_dict(resume.optimizer)
        optimiser.param_groups[0]["lr"] = lr  # lower than the checkpoint's after a divergence (`resume`)
        restore_rng(resume.rng)
        order, first, history = resume.order, resume.step + 1, list(resume.history)
        running, count, last_step = resume.running
    skipped = 0
    model.train()
    if ranks.main:
        c, h, w = data.shape
        logger.info("training %s (%s parameters) on %s: %s images of %dx%dx%d; %s, %d thread(s); steps %d to %d of "
                    "batch %d at lr %g", type(model).__name__, f"{sum(p.numel() for p in model.parameters()):,}",
                    data.name, f"{len(data):,}", c, h, w, device, torch.get_num_threads(), first, total,
                    config.batch_size, lr)
        if hasattr(model, "origin_path"):  # baselines without a gradient-origin step train here too
            logger.debug("gradient-origin path: %s", model.origin_path(local_batch))
    start = last_time = time.perf_counter()
    elapsed_before = history[-1]["elapsed_s"] if history else 0.0
    # redirected to a file, the bar updates every 10 s instead of filling the log
    interactive = getattr(sys.stderr, "isatty", lambda: False)()
    bar = tqdm(total=total, initial=first - 1, disable=not progress or not ranks.main, unit="step",
               dynamic_ncols=True, mininterval=0.1 if interactive else 10.0)
    interrupt = _InterruptAfterStep() if on_interrupt is not None and ranks.world_size == 1 else None
    with interrupt or contextlib.nullcontext():
        for step in range(first, total + 1):
            if interrupt is not None and interrupt.requested:
                bar.close()
                on_interrupt(TrainingState(step - 1, order, optimiser.state_dict(), capture_rng(), list(history),
                                           (running, count, last_step)))
                raise Interrupted(step - 1)
            position = (step - 1) % batches_per_epoch
            if position == 0 and step > 1:
                order = torch.randperm(len(data))
            index = distributed.shard(order[position * config.batch_size:(position + 1) * config.batch_size], ranks)
            x = data.batch(index).to(device, non_blocking=True)
            with distributed.autocast(device, config.precision):
                if indexed:
                    loss = objective(x, index=index)
                else:
                    loss = objective(x, data.labels[index].to(device)) if classifier is not None else objective(x)
            # the global batch's loss (this rank's, in one process): all ranks skip or stop alike
            reported = distributed.mean_over_ranks(loss.detach(), ranks)
            skipped = skipped + 1 if not torch.isfinite(reported) else 0
            if skipped:
                if not config.skip_nonfinite or skipped >= MAX_CONSECUTIVE_SKIPS:
                    bar.close()
                    raise GONError(f"training diverged: the loss is {reported.item()} at step {step}"
                                   + (f" ({skipped} steps in a row)" if skipped > 1 else "") + "; try a lower --lr"
                                   + (" (the last checkpoint is kept: continue from it at a lower rate with "
                                      "`gon train --resume RUN --lr RATE`)"
                                      if config.checkpoint_every and step > config.checkpoint_every else ""))
                logger.warning("skipping batch at step %d: the loss is %s", step, reported.item())
            else:
                optimiser.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
                running, count = running + reported.item(), count + 1
                bar.set_postfix(loss=f"{running / count:.3f}", refresh=False)
            now = time.perf_counter()
            out_of_time = config.time_limit is not None and now - start >= config.time_limit
            if (step % config.log_every == 0 or step == total or out_of_time) and count:
                record = {"step": step, "loss": running / count, "steps_per_s": (step - last_step) / (now - last_time),
                          "elapsed_s": elapsed_before + now - start}
                history.append(record)
                if on_log is not None and ranks.main:
                    on_log(record)
                running, count, last_step, last_time = 0.0, 0, step, now
            bar.update(1)
            if on_checkpoint is not None and ranks.main and config.checkpoint_every \
                    and step % config.checkpoint_every == 0 and step < total:
                on_checkpoint(TrainingState(step, order, optimiser.state_dict(), capture_rng(), list(history),
                                            (running, count, last_step)))
            stop = (on_step is not None and bool(on_step(step))) or out_of_time
            if ranks.world_size > 1 and (config.time_limit is not None or on_step is not None):
                stop = distributed.agree(stop, ranks, device)  # rank 0's clock decides for all
            if stop:
                break
    bar.close()
    model.eval()
    model.to(home)
    return history


def run_directory(out: Path, overwrite: bool = False) -> Path:
    """`out`, if a new run may be written there (see `train`); GONError where it may not.

    A folder that is not a run is never replaced (--overwrite once emptied a scratch folder
    given as `--out .`): `.`, `/`, the home directory and every parent of the working
    directory are refused outright, and any other existing folder must be a run
    (config.json and model.safetensors) or empty."""
    if str(out) in ("", "."):
        raise GONError(f"--out {str(out)!r} is the working directory: name a new folder for the run")
    resolved = out.expanduser().resolve()
    here = Path.cwd().resolve()
    if resolved in (Path(resolved.anchor), Path.home().resolve(), here) or resolved in here.parents:
        raise GONError(f"refusing to write a run over {out} (the root, home or working directory, or a parent of it)")
    if not out.exists():
        return out
    if not overwrite:
        raise GONError(f"{out} already exists: choose another output folder, or replace it with --overwrite "
                       f"(overwrite=True in Python)")
    if not out.is_dir():
        raise GONError(f"{out} is a file, not a run directory: refusing to replace it")
    if any(out.iterdir()) and not ((out / "config.json").is_file() and (out / "model.safetensors").is_file()):
        raise GONError(f"{out} is not a gon run (no config.json and model.safetensors): refusing to replace it")
    return out


@contextlib.contextmanager
def _claimed(out: Path, overwrite: bool = False, version: bool = False, resuming: bool = False) -> Iterator[Path]:
    """The run directory for `out` (see `train`), held under an exclusive lock (`.NAME.lock`
    beside it) while the block runs: one writer per run directory. With `version`, the first
    of OUT, OUT-2, OUT-3, ... that is free. Under torchrun rank 0 alone writes, and alone locks."""
    if not distributed.environment().main:
        yield out
        return
    for number in itertools.count(1):
        path = out if number == 1 else out.with_name(f"{out.name}-{number}")
        if version and (path.exists() or _work_directory(path).exists()):
            continue
        if not resuming:
            run_directory(path, overwrite)
        lock = _lock(path)
        if lock is not None and version and (path.exists() or _work_directory(path).exists()):
            _unlock(path, lock)  # written by another process between the look and the lock
            continue
        if lock is not None:
            break
        if not version:
            holder = _lock_file(path).read_text().strip() or "unknown"
            raise GONError(f"{path} is being written by another gon process (pid {holder}): wait for it to "
                           f"finish or choose another output folder")
    try:
        yield path
    finally:
        _unlock(path, lock)


def _lock_file(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _lock(out: Path) -> Any:
    """An open file holding the exclusive lock of `out`'s run directory, or None if another
    process holds it. The file is deleted on release (`_unlock`), so a lock taken on a file
    that has just been deleted is retried on the new one."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    path = _lock_file(out)
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _unlock(out: Path, handle: Any) -> None:
    _lock_file(out).unlink(missing_ok=True)  # while still held: a waiter then retries on a new file
    handle.close()


def _replace_directory(new: Path, out: Path) -> None:
    """Rename the finished `new` onto `out`, moving an old `out` aside first and deleting it
    last, so that a crash at any point leaves one of the two runs whole."""
    aside = out.parent / f".{out.name}.old"
    if out.exists():
        shutil.rmtree(aside, ignore_errors=True)
        out.rename(aside)
    new.rename(out)
    shutil.rmtree(aside, ignore_errors=True)


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after `step` steps, its state handed to fit's `on_interrupt`;
    `resume_command` says how to continue (set by `train` once a checkpoint is written)."""

    def __init__(self, step: int, resume_command: str | None = None) -> None:
        super().__init__(step)
        self.step, self.resume_command = step, resume_command


class _InterruptAfterStep:
    """While active in the main thread: a first SIGINT asks the loop to stop after its step
    (`requested`); a second raises KeyboardInterrupt at once, as Ctrl-C normally does."""

    def __enter__(self) -> "_InterruptAfterStep":
        self.requested = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("gon: finishing this step and writing a checkpoint (Ctrl-C again stops at once)", file=sys.stderr)

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _work_directory(out: Path) -> Path:
    """Where a run is built before it is renamed to `out`; also where its checkpoints live."""
    return out.parent / f".{out.name}.partial"


def train(model_config: ModelConfig, config: TrainConfig, out: str | Path | None = None,
          progress: bool = True, overwrite: bool = False, version: bool = False) -> Run:
    """Train a fresh model and, if `out` is given, write the run directory:
    config.json, model.safetensors, metrics.jsonl, loss.png, reconstructions.png,
    samples.png, interpolations.png (and sampler.safetensors for non-variational models).
    The directory appears whole at the end or not at all; with config.checkpoint_every,
    checkpoints accumulate beside it (in .OUT.partial) until then, and `resume(out)`
    continues an interrupted run.

    An existing `out` is an error, unless `version` (write to OUT-2, OUT-3, ... instead,
    as the command line does when it is given no --out) or `overwrite` (replace it, once
    the new run is complete; only a directory that is a run, or an empty one, is replaced).
    `Run.directory` says where the run went."""
    with contextlib.ExitStack() as held:
        if out is not None:
            out = held.enter_context(_claimed(Path(out), overwrite, version))
        return _train_new(model_config, config, out, progress, overwrite)


def _train_new(model_config: ModelConfig, config: TrainConfig, out: Path | None, progress: bool,
               overwrite: bool) -> Run:
    config = dataclasses.replace(config, lr=config.learning_rate(model_config.kind))
    if out is not None:
        work = _work_directory(out)
        kept = "a trained model" if (work / "model.safetensors").is_file() else "checkpoints"
        if (kept != "checkpoints" or any((work / "checkpoints").glob("step-*"))) and not overwrite:
            raise GONError(f"an interrupted run of {out} has {kept} in {work}: continue it with `gon train --resume "
                           f"{out}`, or pass --overwrite to start again")
        if distributed.environment().main:  # under torchrun, rank 0 alone touches the run's files
            shutil.rmtree(work, ignore_errors=True)
    elif config.checkpoint_every:
        raise GONError("checkpoints need a run directory (--out)")
    elif config.tensorboard:
        raise GONError("TensorBoard logs are written into the run directory: give --out")
    if config.tensorboard:
        tensorboard.require()
    check_model_size(model_config)  # before the data are fitted to its image size
    data = load_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    test = _test_split(config, model_config)
    model_config = sized_for(model_config, data)
    seed_everything(config.seed)
    model = build_model(model_config)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=None)


def resume(out: str | Path, progress: bool = True, lr: float | None = None) -> Run:
    """Continue the interrupted run that was to be written to `out`, from its newest usable
    checkpoint, with its saved configuration; `lr` may lower its learning rate (after a
    divergence) and is recorded in the run's config."""
    out = Path(out)
    with _claimed(out, resuming=True):
        return _resume(out, progress, lr)


def _resume(out: Path, progress: bool, lr: float | None = None) -> Run:
    work = _work_directory(out)
    if out.exists() and not work.exists():
        raise GONError(f"{out} is a finished run: nothing to resume")
    if _complete(work):  # stopped after the run was written, before it was moved into place
        logger.info("%s holds the finished run: moving it into place", work)
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        (work / "run.json").unlink(missing_ok=True)
        _replace_directory(work, out)
        model, model_config, document = load_model(out)
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
        metrics = records[-1] if records and "split" in records[-1] else {}
        return Run(model, model_config, TrainConfig.from_dict(document["train"]), metrics, out)
    document = read_json(work / "run.json", f"missing: no interrupted run of {out} to resume")
    model_config = ModelConfig.from_dict(document["model"])
    config = TrainConfig.from_dict(document["train"])
    if lr is not None:
        if not lr < config.lr:
            raise GONError(f"--lr on --resume may only lower the run's learning rate ({config.lr:g}), got {lr:g}")
        config = dataclasses.replace(config, lr=lr)
        document = {**document, "train": dataclasses.asdict(config)}
        write_atomically(work / "run.json", lambda tmp: tmp.write_text(json.dumps(document, indent=2) + "\n"))
    if config.tensorboard:
        tensorboard.require()
    model = build_model(model_config)
    data = load_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    state, path = latest_training_state(work, model, len(data))
    logger.info("resuming %s from %s", out, path.name)
    test = _test_split(config, model_config)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=state)


def _train_and_write(model: GON, model_config: ModelConfig, config: TrainConfig, data: ImageData,
                     test: ImageData | None, out: Path | None, progress: bool,
                     resume: TrainingState | None) -> Run:
    with distributed.process_group(config.device) as ranks:
        if not ranks.main:  # under torchrun the other ranks train, then wait while rank 0 writes
            fit(model, data, config, progress, resume=resume)
            distributed.barrier(ranks)
            return Run(model, model_config, config, {}, None)
        run = _train_and_write_main(model, model_config, config, data, test, out, progress, resume)
        distributed.barrier(ranks)
        return run


def _train_and_write_main(model: GON, model_config: ModelConfig, config: TrainConfig, data: ImageData,
                          test: ImageData | None, out: Path | None, progress: bool,
                          resume: TrainingState | None) -> Run:
    work = _work_directory(out) if out is not None else None
    on_checkpoint = on_interrupt = None
    if work is not None:
        def on_checkpoint(state: TrainingState) -> None:
            if not (work / "run.json").is_file():  # what --resume rebuilds the run from
                document = {"format": FORMAT, "model": model_config.to_dict(), "train": dataclasses.asdict(config)}
                write_atomically(work / "run.json", lambda tmp: tmp.write_text(json.dumps(document, indent=2) + "\n"))
            save_training_state(work, model, state, config.keep_checkpoints)

        def on_interrupt(state: TrainingState) -> None:
            on_checkpoint(state)
            raise Interrupted(state.step, f"gon train --resume {out}")
    board = None
    if work is not None and config.tensorboard:
        board = tensorboard.TensorBoardLog(work / "tensorboard", purge_step=resume.step + 1 if resume else None)
    try:
        history = fit(model, data, config, progress, resume=resume,
                      on_checkpoint=on_checkpoint if config.checkpoint_every else None,
                      on_log=board.log if board is not None else None, on_interrupt=on_interrupt)
        metrics = {**evaluate(model, test, seed=config.seed), "split": "test", "data": config.data} if test else {}
        if work is None:
            return Run(model, model_config, config, metrics, None)
        try:
            work.mkdir(parents=True, exist_ok=True)
            _write_run(work, model, model_config, config, data, test, history, metrics)
            if board is not None:
                board.finish(history[-1]["step"], metrics, work)
        except (OSError, SafetensorError) as error:
            raise GONError(f"could not write the run directory {out} ({str(error).splitlines()[0]})") from None
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        (work / "run.json").unlink(missing_ok=True)
        _replace_directory(work, out)
    except BaseException:
        if board is not None:
            board.close()
        # keep what can be resumed or finished; anything else is a half-written run
        if work is not None and not any((work / "checkpoints").glob("step-*")) and not _complete(work):
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
    lines = [json.dumps(r) for r in history] + ([json.dumps({"step": history[-1]["step"], **metrics})] if metrics else [])
    # written last of the essentials: a folder holding it holds a finished model (`_complete`)
    write_atomically(directory / "metrics.jsonl", lambda tmp: tmp.write_text("".join(f"{line}\n" for line in lines)))
    try:
        _write_figures(directory, model, config, data, test, history)
    except (GONError, RuntimeError, ValueError) as error:  # e.g. a sampler that cannot be fitted: the model stands
        logger.warning("the run's figures are incomplete (%s); the model is saved", str(error).splitlines()[0])


def _complete(work: Path) -> bool:
    """Whether a work folder holds a finished run (see `_write_run`), figures aside."""
    return all((work / name).is_file() for name in ("config.json", "model.safetensors", "metrics.jsonl"))


def _write_figures(directory: Path, model: GON, config: TrainConfig, data: ImageData, test: ImageData | None,
                   history: list[dict[str, float]]) -> None:
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
    if hasattr(model, "latents"):  # GLO: the training codes themselves, no optimisation needed
        return GaussianSampler.fit(model.latents.weight.detach()[:max_images])
    return GaussianSampler.fit(encode_dataset(model, data, limit=max_images))
