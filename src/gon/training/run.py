"""`train` and `resume`: a run directory from a model and a training config.

    from gon import ModelConfig, TrainConfig, train
    run = train(ModelConfig(kind="conv"), TrainConfig(data="mnist5k", steps=300), "runs/conv")
    print(run.metrics["sse_per_image"])

The loop itself is gon/training/loop.py's `fit`; where a run may be written and how it is
put in place is gon/training/rundir.py's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from torch import Tensor

from .. import gallery, tensorboard
from ..config import ModelConfig, TrainConfig
from ..data import Data, ImageData, resolved_spec
from ..errors import GONError, NoSplit, OutputError
from ..evaluate import encode_dataset, evaluate
from ..files import FORMAT, read_json, read_jsonl, write_json, write_text
from ..layout import RunLayout
from ..models import (
    LatentModel,
    Variational,
    available_memory,
    build_model,
    check_model_size,
    images_that_fit,
    load_model,
    save_model,
)
from ..models.registry import activation_bytes
from ..samplers import GaussianSampler, PriorSampler, save_sampler
from ..signals import signal_of
from ..viz import save_loss_plot
from . import distributed
from .loop import Interrupted, fit
from .prepare import config_for_data, data_for_model, prepare_run
from .rundir import claimed, open_work_folder, replace_directory
from .state import TrainingState, latest_training_state, save_training_state

logger = logging.getLogger("gon")


@dataclass
class Run:
    """What `train` returns: the trained model (in eval mode), its ModelConfig, the
    TrainConfig with `lr` resolved, the held-out metrics of `evaluate` on the test split
    (plus "split" and "data"; empty without a test split), and the run directory written
    (None when `train` got no `out`)."""

    model: LatentModel
    model_config: ModelConfig
    train_config: TrainConfig
    metrics: dict[str, Any]
    directory: Path | None


def train(
    model_config: ModelConfig,
    config: TrainConfig,
    out: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    version: bool = False,
) -> Run:
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
            out = held.enter_context(claimed(Path(out), overwrite, version))
        return _train_new(model_config, config, out, progress, overwrite)


def _train_new(
    model_config: ModelConfig, config: TrainConfig, out: Path | None, progress: bool, overwrite: bool
) -> Run:
    model_config = config_for_data(model_config, config.data)  # a kind of several signals takes the data's
    config = dataclasses.replace(config, batch_size=config.batch(model_config.kind))
    if out is not None:
        work = RunLayout(out).work
        kept = "a trained model" if work.weights.is_file() else "checkpoints"
        interrupted = kept != "checkpoints" or bool(work.checkpoint_folders())
        if interrupted and not overwrite:
            raise GONError(
                f"an interrupted run of {out} has {kept} in {work.root}: continue it with `gon train "
                f"--resume {out}`, or pass --overwrite to start again"
            )
        if distributed.environment().main:  # under torchrun, rank 0 alone touches the run's files
            if interrupted:  # never deleted without a word
                logger.warning(
                    "--overwrite: deleting the interrupted run of %s in %s (it held %s)", out, work.root, kept
                )
            shutil.rmtree(work.root, ignore_errors=True)
    elif config.checkpoint_every:
        raise GONError("checkpoints need a run directory (--out)")
    elif config.tensorboard:
        raise GONError("TensorBoard logs are written into the run directory: give --out")
    if config.tensorboard:
        tensorboard.require()
    check_model_size(model_config)  # before the data are fitted to its image size
    if images_that_fit(model_config, config.batch_size, "train") < min(config.batch_size, config.limit or math.inf):
        raise GONError(
            f"a batch of {config.batch_size} images would not fit in memory (about "
            f"{activation_bytes(model_config, config.batch_size, 'train') / 2**30:.1f} GiB of activations, "
            f"{available_memory() / 2**30:.1f} GiB available): lower batch_size"
        )
    config = dataclasses.replace(config, data=resolved_spec(config.data))  # recorded: usable from anywhere
    data = data_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    test = _test_split(config, model_config)
    model, model_config, config = prepare_run(model_config, config, data)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=None)


def resume(out: str | Path, progress: bool = True, lr: float | None = None) -> Run:
    """Continue the interrupted run that was to be written to `out`, from its newest usable
    checkpoint, with its saved configuration; `lr` may lower its learning rate (after a
    divergence) and is recorded in the run's config."""
    out = Path(out)
    with claimed(out, resuming=True):
        return _resume(out, progress, lr)


def _resume(out: Path, progress: bool, lr: float | None = None) -> Run:
    work = RunLayout(out).work
    if out.exists() and not work.root.exists():
        raise GONError(f"{out} is a finished run: nothing to resume")
    if work.is_complete():  # stopped after the run was written, before it was moved into place
        logger.info("%s holds the finished run: moving it into place", work.root)
        metrics = _finish_figures(work)
        _finish(work, out)
        model, model_config, document = load_model(out)
        return Run(model, model_config, TrainConfig.from_dict(document["train"]), metrics, out)
    document = read_json(work.marker, f"missing: no interrupted run of {out} to resume")
    model_config = ModelConfig.from_dict(document["model"], recorded=True)
    config = TrainConfig.from_dict(document["train"])
    if lr is not None:
        if not lr < config.lr:
            raise GONError(f"--lr on --resume may only lower the run's learning rate ({config.lr:g}), got {lr:g}")
        config = dataclasses.replace(config, lr=lr)
        document = {**document, "train": dataclasses.asdict(config)}
        write_json(work.marker, document)
    if config.tensorboard:
        tensorboard.require()
    model = build_model(model_config)
    data = data_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    state, path = latest_training_state(work.root, model, len(data), config.total_steps(len(data)))
    logger.info("resuming %s from %s", out, path.name)
    test = _test_split(config, model_config)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=state)


def _finish(work: RunLayout, out: Path) -> None:
    """Put the finished run in `work` in place as `out`, less what only resuming needed."""
    shutil.rmtree(work.checkpoints, ignore_errors=True)
    replace_directory(work.root, out)  # the marker stays: it tells the run from any other folder


def _train_and_write(
    model: LatentModel,
    model_config: ModelConfig,
    config: TrainConfig,
    data: ImageData,
    test: ImageData | None,
    out: Path | None,
    progress: bool,
    resume: TrainingState | None,
) -> Run:
    with distributed.process_group(config.device) as ranks:
        if not ranks.main:  # under torchrun the other ranks train, then wait while rank 0 writes
            fit(model, data, config, progress, resume=resume)
            distributed.barrier(ranks)
            return Run(model, model_config, config, {}, None)
        run = _train_and_write_main(model, model_config, config, data, test, out, progress, resume)
        distributed.barrier(ranks)
        return run


def _train_and_write_main(
    model: LatentModel,
    model_config: ModelConfig,
    config: TrainConfig,
    data: ImageData,
    test: ImageData | None,
    out: Path | None,
    progress: bool,
    resume: TrainingState | None,
) -> Run:
    work = RunLayout(out).work if out is not None else None
    on_checkpoint = on_interrupt = None
    if work is not None:
        # the run's marker, and what --resume rebuilds the run from
        document = {"format": FORMAT, "model": model_config.to_dict(), "train": dataclasses.asdict(config)}

        def on_checkpoint(state: TrainingState) -> None:
            open_work_folder(work.root, document)
            save_training_state(work.root, model, state, config.keep_checkpoints)

        def on_interrupt(state: TrainingState) -> None:
            on_checkpoint(state)
            raise Interrupted(state.step, f"gon train --resume {out}")

    board = None
    if work is not None and config.tensorboard:
        board = tensorboard.TensorBoardLog(work.tensorboard, purge_step=resume.step + 1 if resume else None)
    try:
        history = fit(
            model,
            data,
            config,
            progress,
            resume=resume,
            on_checkpoint=on_checkpoint if config.checkpoint_every else None,
            on_log=board.log if board is not None else None,
            on_interrupt=on_interrupt,
        )
        if work is None:
            return Run(model, model_config, config, _held_out(model, config, test), None)
        try:
            open_work_folder(work.root, document)
            # the model and its loss history first: whatever fails after (the held-out evaluation,
            # a figure, the disk) leaves a finished model that `--resume` completes
            _write_model(work, model, model_config, config, data, history)
            metrics = _evaluate_saved(work, model, config, test)
            _write_run_figures(work, model, config, data, test, history)
            if board is not None:
                board.finish(history[-1]["step"], metrics, work.root)
        except (OSError, SafetensorError, GONError) as error:
            reason = str(error).splitlines()[0]
            if work.is_complete():  # the model is safe: say how to finish, whatever failed after it
                raise GONError(
                    f"{reason}; the trained model is kept in {work.root}: finish the run with "
                    f"`gon train --resume {out}`"
                ) from None
            if isinstance(error, GONError) and not isinstance(error, OutputError):
                raise
            raise GONError(f"could not write the run directory {out} ({reason})") from None
        _finish(work, out)
    except BaseException:
        if board is not None:
            board.close()
        # keep what can be resumed or finished; anything else is a half-written run
        if work is not None and not work.checkpoint_folders() and not work.is_complete():
            shutil.rmtree(work.root, ignore_errors=True)
        raise
    return Run(model, model_config, config, metrics, out)


def _test_split(config: TrainConfig, model_config: ModelConfig) -> ImageData | None:
    try:
        return data_for_model(config.data, "test", model_config, config.fit, config.eval_limit, config.stream)
    except NoSplit:
        return None  # a data set without a test split trains all the same; a damaged one stops the run


def _write_model(
    run: RunLayout,
    model: LatentModel,
    model_config: ModelConfig,
    config: TrainConfig,
    data: ImageData,
    history: list[dict[str, float]],
) -> None:
    parameters = sum(p.numel() for p in model.parameters())
    step = model.step_settings()  # the inner scale a rule chose, which config.json's "model" names only by its rule
    save_model(
        run.root,
        model,
        model_config,
        {
            "train": dataclasses.asdict(config),
            "data_shape": list(data.shape),
            "parameters": parameters,
            **({"resolved_step": step} if step else {}),
        },
    )
    # written last of the essentials: a folder holding it holds a finished model (`RunLayout.is_complete`);
    # the held-out record is appended once it is measured (`_evaluate_saved`)
    write_text(run.metrics, "".join(json.dumps(r) + "\n" for r in history))


def _held_out(model: LatentModel, config: TrainConfig, test: Data | None) -> dict[str, Any]:
    """The held-out metrics (empty without a test split); any failure of the evaluation is one
    line (GONError) naming it, never an internal error after training."""
    if test is None:
        return {}
    try:
        return {**evaluate(model, test, seed=config.seed), "split": "test", "data": config.data}
    except GONError:
        raise
    except (RuntimeError, ValueError, ArithmeticError) as error:
        raise GONError(
            f"the held-out evaluation failed ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from None


def _evaluate_saved(run: RunLayout, model: LatentModel, config: TrainConfig, test: Data | None) -> dict[str, Any]:
    """The held-out metrics of the model saved in `run`, appended to its metrics.jsonl unless
    they are there already (a resumed run that stopped after its evaluation)."""
    records = read_jsonl(run.metrics)
    if records and "split" in records[-1]:
        return records[-1]
    metrics = _held_out(model, config, test)
    if metrics:
        records.append({"step": records[-1]["step"] if records else 0, **metrics})
        write_text(run.metrics, "".join(json.dumps(r) + "\n" for r in records))
    return metrics


def _finish_figures(work: RunLayout) -> dict[str, Any]:
    """Complete a finished run whose writer stopped after its model and loss history were saved:
    its held-out metrics, if missing, then its figures (and sampler), if its last figure
    (interpolations.png) is missing. Returns the held-out metrics."""
    model, model_config, document = load_model(work.root)
    config = TrainConfig.from_dict(document["train"])
    test = _test_split(config, model_config)
    metrics = _evaluate_saved(work, model, config, test)
    if (work / work.INTERPOLATIONS).is_file():
        return metrics
    data = data_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    history = [r for r in read_jsonl(work.metrics) if "split" not in r]
    if history:
        _write_run_figures(work, model, config, data, test, history)
    return metrics


def _write_run_figures(
    run: RunLayout,
    model: LatentModel,
    config: TrainConfig,
    data: ImageData,
    test: ImageData | None,
    history: list[dict[str, float]],
) -> None:
    """The figures, or OutputError if the disk refuses them (a full disk: `--resume` writes
    them once there is room); a figure that cannot be made (a sampler that cannot be
    fitted) is a warning, never a lost model."""
    try:
        _write_figures(run, model, config, data, test, history)
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(f"could not write the run's figures ({error.strerror or error})") from None
    except (GONError, RuntimeError, ValueError) as error:
        logger.warning("the run's figures are incomplete (%s); the model is saved", str(error).splitlines()[0])


def _write_figures(
    run: RunLayout,
    model: LatentModel,
    config: TrainConfig,
    data: ImageData,
    test: ImageData | None,
    history: list[dict[str, float]],
) -> None:
    save_loss_plot(
        [r["step"] for r in history],
        [r["loss"] for r in history],
        run / run.LOSS_PLOT,
        ylabel="training loss (per image)",
    )
    shown = test if test is not None else data
    signal = signal_of(model.config)
    model.eval()
    x = gallery.spread(shown, min(signal.shown, len(shown)))
    signal.write_pairs(x, model.reconstruct(x), run / run.RECONSTRUCTIONS, model.config)
    sampler = default_sampler(model, data)
    if isinstance(sampler, GaussianSampler):
        save_sampler(run.root, sampler)
    signal.write_examples(
        gallery.samples(model, sampler, signal.samples, seed=config.seed),
        run / run.SAMPLES,
        model.config,
        signal.sample_columns,
    )
    z = model.encode(_interpolation_ends(shown, data, signal.pairs))
    signal.write_examples(
        gallery.interpolations(model, z[0::2], z[1::2], steps=signal.steps),
        run / run.INTERPOLATIONS,
        model.config,
        signal.steps,
    )


def _interpolation_ends(shown: Data, data: Data, pairs: int) -> Tensor:
    """The ends of up to `pairs` interpolations, spread through the examples shown (the test set),
    or through the training set when the test set holds one: a pair needs two."""
    source = shown if len(shown) >= 2 else data
    return gallery.spread(source, 2 * min(pairs, len(source) // 2))


def default_sampler(model: LatentModel, data: ImageData, max_images: int = 5000) -> GaussianSampler | PriorSampler:
    """N(0, I) for variational GONs; otherwise a Gaussian fitted to training latents (Appendix D)."""
    if isinstance(model, Variational):
        return PriorSampler(model.latent_dim)
    codes = model.code_latents()
    if codes is not None:  # the training codes themselves (GLO), no optimisation needed
        return GaussianSampler.fit(codes[:max_images])
    return GaussianSampler.fit(encode_dataset(model, data, limit=max_images))
