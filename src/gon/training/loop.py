"""The training loop: `fit(model, data, config)` trains a model in place.

    from gon import ModelConfig, TrainConfig, build_model, fit, load_data
    model = build_model(ModelConfig(kind="conv"))
    history = fit(model, load_data("mnist5k", image_size=32), TrainConfig(steps=300))

Straight-line: Adam on the model's loss (its forward), one optimiser step per batch of
the loop's own permutation, a divergence guard, logging, checkpoints and Ctrl-C handed
to callbacks. The run directory around it is gon/training/run.py's.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import TrainConfig
from ..data import ImageData
from ..errors import GONError
from ..models import LatentModel
from . import distributed
from .state import TrainingState, capture_rng, restore_rng

logger = logging.getLogger("gon")

# with skip_nonfinite, this many non-finite losses in a row still stop training: the
# weights themselves have diverged, and skipping more batches cannot bring them back
MAX_CONSECUTIVE_SKIPS = 10


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(model: LatentModel, data: ImageData, config: TrainConfig, progress: bool = True,
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
    classifier = model.classifier
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
    objective: torch.nn.Module = model  # forward() is the training loss
    if ranks.world_size > 1:
        sync = config.sync_batchnorm and distributed.check_sync_batchnorm(model, ranks, device)
        objective = distributed.data_parallel(model, ranks, device, sync)
    elif config.sync_batchnorm:
        distributed.check_sync_batchnorm(model, ranks, device)
    # disabled (a pass-through) unless fp16, whose small gradients would underflow unscaled
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    lr = config.lr if config.lr is not None else 1e-3
    # a model may ask for its own parameter groups (GLO: its latent table has its own rate)
    optimiser = torch.optim.Adam(model.parameter_groups(lr), lr=lr)
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
        logger.info("training %s (%s parameters) on %s: %s images of %s; %s, %d thread(s); steps %d to %d of "
                    "batch %d at lr %g", type(model).__name__, f"{sum(p.numel() for p in model.parameters()):,}",
                    data.name, f"{len(data):,}", "x".join(map(str, data.shape)), device, torch.get_num_threads(), first, total,
                    config.batch_size, lr)
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
                if model.indexed:  # GLO: a latent per training image, looked up by index
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
            if (on_checkpoint is not None and ranks.main and config.checkpoint_every
                    and step % config.checkpoint_every == 0 and step < total):
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
