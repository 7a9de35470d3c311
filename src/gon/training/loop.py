"""The training loop: `fit(model, data, config)` trains a model in place.

    from gon import ModelConfig, TrainConfig, build_model, fit, load_data
    model = build_model(ModelConfig(kind="conv"))
    history = fit(model, load_data("mnist5k", image_size=32), TrainConfig(steps=300))

Straight-line: Adam on the model's loss (its forward), one optimizer step per batch of
the loop's own permutation, a divergence guard, logging, checkpoints and Ctrl-C handed
to callbacks. `fit` reads in one screen: prepare (`_Loop`), then per step `step` and
`after_step`; nothing in it asks which model it trains (the model's `loss_inputs` say
what its loss needs). The run directory around it is gon/training/run.py's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import ModelConfig, TrainConfig
from ..data import Data, ImageData
from ..errors import Diverged, GONError
from ..models import LatentModel
from . import distributed
from .state import TrainingState, capture_rng, restore_rng

logger = logging.getLogger("gon")

# Adam's rate for a config whose `lr` was never resolved per kind (`prepare_run` resolves it)
FIT_DEFAULT_LR = 1e-3

# with skip_nonfinite, this many non-finite losses in a row still stop training: the
# weights themselves have diverged, and skipping more batches cannot bring them back
MAX_CONSECUTIVE_SKIPS = 10


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(
    model: LatentModel,
    data: ImageData,
    config: TrainConfig,
    progress: bool = True,
    resume: TrainingState | None = None,
    on_checkpoint: Callable[[TrainingState], None] | None = None,
    on_step: Callable[[int], bool | None] | None = None,
    on_log: Callable[[dict[str, float]], None] | None = None,
    on_interrupt: Callable[[TrainingState], None] | None = None,
) -> list[dict[str, float]]:
    """Train `model` in place on `data`; returns the logged history.

    A non-finite loss raises GONError naming the step (or, with config.skip_nonfinite,
    skips that batch). Every config.checkpoint_every steps `on_checkpoint` receives the
    full training state; `resume` continues from such a state exactly (same weights, bit
    for bit on CPU, as an uninterrupted run). `on_step(step)`, if given, runs after every
    optimizer step (e.g. to evaluate along the way); returning True stops training.
    `on_log(record)` receives each record of the history as it is logged. With
    `on_interrupt`, a first Ctrl-C (SIGINT, in the main thread) finishes the current step,
    hands the training state to `on_interrupt` and raises Interrupted; a second stops at once.
    An unset config.lr means FIT_DEFAULT_LR and an unset config.lr_schedule a constant rate
    (`prepare_run` and `train` resolve both per model kind); an unset config.batch_size is the
    kind's for a library model, else 64.

    Any LatentModel trains here, a GON around a decoder of your own included (data: an
    ImageData, e.g. `ImageData(uint8_images, labels_or_None, "mine")`). Checkpoints to a folder
    of your own: `on_checkpoint=lambda s: save_training_state(folder, model, s, keep=2)`, and
    `resume=latest_training_state(folder, model, len(data))[0]` (gon.training.state);
    TensorBoard: `on_log=TensorBoardLog(folder).log` (gon.tensorboard). It computes on torch's
    current thread count (`torch.set_num_threads`; the command line sets 1).

    Trains on config.device and leaves the model where it found it. Inside a torch.distributed
    process group (torchrun; see gon.distributed) each rank trains on its share of every
    global batch of config.batch_size, through DistributedDataParallel; only rank 0 shows
    progress, logs and checkpoints.
    """
    home = next(model.parameters()).device
    loop = _Loop(model, data, config, progress, resume)
    interrupt = _InterruptAfterStep() if on_interrupt is not None and loop.ranks.world_size == 1 else None
    try:
        with interrupt or contextlib.nullcontext():
            for step in range(loop.first, loop.total + 1):
                if interrupt is not None and interrupt.requested:
                    loop.bar.close()
                    on_interrupt(loop.state(step - 1))
                    raise Interrupted(step - 1)
                loop.step(step)
                if loop.after_step(step, on_checkpoint, on_step, on_log):
                    break
    finally:
        loop.bar.close()
    model.eval()
    model.to(home)
    return loop.history


class _Loop:
    """One run of `fit`: what it prepares (device, optimizer, data order, counters), one
    optimizer step, and the work after it (logging, checkpoints, stopping)."""

    def __init__(
        self, model: LatentModel, data: ImageData, config: TrainConfig, progress: bool, resume: TrainingState | None
    ) -> None:
        if not isinstance(data, Data):
            raise GONError(
                f"fit takes an ImageData (load_data(...), or ImageData(uint8 images (N, C, H, W), labels "
                f"or None, name)) or another source's Data, got {type(data).__name__}"
            )
        kind = model.config.kind if isinstance(model.config, ModelConfig) else None
        config = dataclasses.replace(config, batch_size=config.batch(kind))
        if len(data) < config.batch_size:
            raise GONError(f"{data.name}: {len(data)} {data.item}, fewer than one batch of {config.batch_size}")
        if model.classifier is not None and data.labels is None:
            raise GONError(f"{data.name}: a GON classifier needs labels, and this data set has none")
        self.model, self.data, self.config = model, data, config
        self.ranks, self.device, self.objective = _place(model, config)
        ranks, device = self.ranks, self.device
        # disabled (a pass-through) unless fp16, whose small gradients would underflow unscaled
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
        lr = config.lr if config.lr is not None else FIT_DEFAULT_LR
        # a model may ask for its own parameter groups (GLO: its latent table has its own rate)
        self.optimizer = torch.optim.Adam(model.parameter_groups(lr), lr=lr)
        # each group's rate at the start; a schedule scales them all alike, from the step alone, so a
        # resumed run follows the same rates with no scheduler state to save
        self.base_rates = [group["lr"] for group in self.optimizer.param_groups]
        self.batches_per_epoch = len(data) // config.batch_size
        self.total = config.total_steps(len(data))
        if resume is None:
            seed_everything(config.seed)  # the loop's randomness: data order, noise, coordinates
            self.order, self.first, self.history = torch.randperm(len(data)), 1, []
            self.running, self.count, self.last_step = 0.0, 0, 0
        else:
            self.optimizer.load_state_dict(resume.optimizer)
            for group, rate in zip(self.optimizer.param_groups, self.base_rates):
                group["lr"] = rate  # lower than the checkpoint's after a divergence (`resume`), in every group
            restore_rng(resume.rng)
            self.order, self.first, self.history = resume.order, resume.step + 1, list(resume.history)
            self.running, self.count, self.last_step = resume.running
        self.skipped = 0
        model.train()
        # before the first step, on the first global batch (the same on every rank): a GON whose
        # inner scale is calibrated sets it here, so every rank trains with one scale
        model.prepare_training(data.batch(self.order[: config.batch_size]).to(self.device))
        if ranks.main:
            # the kind (ae, conv, ...) where the model has a library config, else its class (a GON of one's own)
            name = model.config.kind if model.config is not None else type(model).__name__
            logger.info(
                "training %s (%s parameters) on %s: %s %s of %s; %s, %d thread(s); steps %d to "
                "%d of batch %d at lr %g%s",
                name,
                f"{sum(p.numel() for p in model.parameters()):,}",
                data.name,
                f"{len(data):,}",
                data.item,
                "x".join(map(str, data.shape)),
                device,
                torch.get_num_threads(),
                self.first,
                self.total,
                config.batch_size,
                lr,
                _describe_step(model.step_settings()),
            )
            logger.debug(
                "gradient-origin path: %s", model.origin_path(distributed.local_batch_size(config.batch_size, ranks))
            )
        self.start = self.last_time = time.perf_counter()
        self.elapsed_before = self.history[-1]["elapsed_s"] if self.history else 0.0
        # redirected to a file, the bar updates every 10 s instead of filling the log
        interactive = getattr(sys.stderr, "isatty", lambda: False)()
        self.bar = tqdm(
            total=self.total,
            initial=self.first - 1,
            disable=not progress or not ranks.main,
            unit="step",
            dynamic_ncols=True,
            mininterval=0.1 if interactive else 10.0,
        )

    def _divergence_hint(self, step: int) -> str:
        """What to change after a non-finite loss at `step`: the model's own cause if it names one
        (a huge inner scale), else the rate, unless no update has been made yet."""
        cause = self.model.divergence_cause()
        if cause is not None:
            return cause
        if step == 1:
            return (
                "no update was made yet, so the learning rate is not the cause: check the data and the model's options"
            )
        return "try a lower --lr"

    def state(self, step: int) -> TrainingState:
        """Everything needed to continue after `step` steps."""
        return TrainingState(
            step,
            self.order,
            self.optimizer.state_dict(),
            capture_rng(),
            list(self.history),
            (self.running, self.count, self.last_step),
        )

    def step(self, step: int) -> None:
        """One optimizer step on the step's batch, or a skipped batch (config.skip_nonfinite)."""
        config, data, device = self.config, self.data, self.device
        position = (step - 1) % self.batches_per_epoch
        if position == 0 and step > 1:
            self.order = torch.randperm(len(data))
        index = distributed.shard(
            self.order[position * config.batch_size : (position + 1) * config.batch_size], self.ranks
        )
        x = data.batch(index).to(device, non_blocking=True)
        inputs = {name: value.to(device) for name, value in self.model.loss_inputs(index, data.labels).items()}
        with distributed.autocast(device, config.precision):
            loss = self.objective(x, **inputs)
        # the global batch's loss (this rank's, in one process): all ranks skip or stop alike
        reported = distributed.mean_over_ranks(loss.detach(), self.ranks)
        self.skipped = self.skipped + 1 if not torch.isfinite(reported) else 0
        if self.skipped:
            if not config.skip_nonfinite or self.skipped >= MAX_CONSECUTIVE_SKIPS:
                raise Diverged(
                    f"training diverged: the loss is {reported.item()} at step {step}"
                    + (f" ({self.skipped} steps in a row)" if self.skipped > 1 else "")
                    + f"; {self._divergence_hint(step)}"
                    + (
                        " (the last checkpoint is kept: continue from it at a lower rate with "
                        "`gon train --resume RUN --lr RATE`)"
                        if config.checkpoint_every and step > config.checkpoint_every
                        else ""
                    )
                )
            logger.warning("skipping batch at step %d: the loss is %s", step, reported.item())
            return
        if config.lr_schedule == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * (step - 1) / self.total))
            for group, rate in zip(self.optimizer.param_groups, self.base_rates):
                group["lr"] = rate * factor
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.running, self.count = self.running + reported.item(), self.count + 1
        self.bar.set_postfix(loss=f"{self.running / self.count:.3f}", refresh=False)

    def after_step(
        self,
        step: int,
        on_checkpoint: Callable[[TrainingState], None] | None,
        on_step: Callable[[int], bool | None] | None,
        on_log: Callable[[dict[str, float]], None] | None,
    ) -> bool:
        """Log, checkpoint and ask whether to stop; True stops training."""
        config, ranks = self.config, self.ranks
        now = time.perf_counter()
        out_of_time = config.time_limit is not None and now - self.start >= config.time_limit
        if (step % config.log_every == 0 or step == self.total or out_of_time) and self.count:
            record = {
                "step": step,
                "loss": self.running / self.count,
                "steps_per_s": (step - self.last_step) / (now - self.last_time),
                "elapsed_s": self.elapsed_before + now - self.start,
            }
            self.history.append(record)
            if on_log is not None and ranks.main:
                on_log(record)
            self.running, self.count, self.last_step, self.last_time = 0.0, 0, step, now
        self.bar.update(1)
        if (
            on_checkpoint is not None
            and ranks.main
            and config.checkpoint_every
            and step % config.checkpoint_every == 0
            and step < self.total
        ):
            on_checkpoint(self.state(step))
        stop = (on_step is not None and bool(on_step(step))) or out_of_time
        if ranks.world_size > 1 and (config.time_limit is not None or on_step is not None):
            stop = distributed.agree(stop, ranks, self.device)  # rank 0's clock decides for all
        return stop


def _describe_step(settings: dict[str, Any]) -> str:
    """The start-up line's words for a model's gradient-origin step (LatentModel.step_settings)."""
    if not settings:
        return ""
    scale, rule = settings["inner_scale"], settings.get("inner_scale_rule")
    descent = f" {settings['inner_descent']}" if "inner_descent" in settings else ""
    return (
        f"; {settings['inner_steps']}{descent} inner step(s), inner scale "
        f"{'unset' if scale is None else f'{scale:.4g}'}{f' ({rule})' if rule else ''}"
    )


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after `step` steps, its state handed to fit's `on_interrupt`;
    `resume_command` says how to continue (set by `train` once a checkpoint is written)."""

    def __init__(self, step: int, resume_command: str | None = None) -> None:
        super().__init__(step)
        self.step, self.resume_command = step, resume_command


def _place(model: LatentModel, config: TrainConfig) -> tuple[distributed.Ranks, torch.device, torch.nn.Module]:
    """The model on its device (compiled if asked), and what the loop calls for the loss:
    the model itself (its forward() is the training loss), or its DistributedDataParallel
    wrapper under torchrun."""
    ranks = distributed.current()
    device = distributed.resolve_device(config.device, ranks.local_rank)
    distributed.check_precision(device, config.precision)
    model.to(device)
    if config.compile:
        distributed.compile_decoder(model)
    objective: torch.nn.Module = model
    if ranks.world_size > 1:
        sync = config.sync_batchnorm and distributed.check_sync_batchnorm(model, ranks, device)
        objective = distributed.data_parallel(model, ranks, device, sync)
    elif config.sync_batchnorm:
        distributed.check_sync_batchnorm(model, ranks, device)
    return ranks, device, objective


class _InterruptAfterStep:
    """While active in the main thread: a first SIGINT asks the loop to stop after its step
    (`requested`); a second raises KeyboardInterrupt at once, as Ctrl-C normally does."""

    def __enter__(self) -> _InterruptAfterStep:
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
