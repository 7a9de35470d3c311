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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from .. import figures, tensorboard
from ..config import ModelConfig, TrainConfig
from ..data import ImageData, SoundData, data_for_model
from ..errors import GONError
from ..evaluate import encode_dataset, evaluate
from ..files import FORMAT, read_json, read_jsonl, write_atomically
from ..models import LatentModel, Variational, build_model, check_model_size, load_model, save_model
from ..samplers import GaussianSampler, PriorSampler, save_sampler
from ..viz import save_grid, save_loss_plot
from . import distributed
from .loop import Interrupted, fit, seed_everything
from .rundir import claimed, replace_directory, work_directory
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


def sized_for(model_config: ModelConfig, data: ImageData) -> ModelConfig:
    """`model_config` with what only the training data can tell: a GLO model's latent table
    has a row per training image (GONError if the config names another count)."""
    if model_config.kind != "glo":
        return model_config
    if model_config.train_images not in (None, len(data)):
        raise GONError(f"train_images is {model_config.train_images}, but {data.name} has {len(data)} "
                       f"training images")
    return dataclasses.replace(model_config, train_images=len(data))


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
            out = held.enter_context(claimed(Path(out), overwrite, version))
        return _train_new(model_config, config, out, progress, overwrite)


def _train_new(model_config: ModelConfig, config: TrainConfig, out: Path | None, progress: bool,
               overwrite: bool) -> Run:
    config = dataclasses.replace(config, lr=config.learning_rate(model_config.kind))
    if out is not None:
        work = work_directory(out)
        kept = "a trained model" if (work / "model.safetensors").is_file() else "checkpoints"
        interrupted = kept != "checkpoints" or any((work / "checkpoints").glob("step-*"))
        if interrupted and not overwrite:
            raise GONError(f"an interrupted run of {out} has {kept} in {work}: continue it with `gon train --resume "
                           f"{out}`, or pass --overwrite to start again")
        if distributed.environment().main:  # under torchrun, rank 0 alone touches the run's files
            if interrupted:  # never deleted without a word
                logger.warning("--overwrite: deleting the interrupted run of %s in %s (it held %s)", out, work, kept)
            shutil.rmtree(work, ignore_errors=True)
    elif config.checkpoint_every:
        raise GONError("checkpoints need a run directory (--out)")
    elif config.tensorboard:
        raise GONError("TensorBoard logs are written into the run directory: give --out")
    if config.tensorboard:
        tensorboard.require()
    check_model_size(model_config)  # before the data are fitted to its image size
    data = data_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
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
    with claimed(out, resuming=True):
        return _resume(out, progress, lr)


def _resume(out: Path, progress: bool, lr: float | None = None) -> Run:
    work = work_directory(out)
    if out.exists() and not work.exists():
        raise GONError(f"{out} is a finished run: nothing to resume")
    if _complete(work):  # stopped after the run was written, before it was moved into place
        logger.info("%s holds the finished run: moving it into place", work)
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        (work / "run.json").unlink(missing_ok=True)
        replace_directory(work, out)
        model, model_config, document = load_model(out)
        records = read_jsonl(out / "metrics.jsonl")
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
    data = data_for_model(config.data, "train", model_config, config.fit, config.limit, config.stream)
    state, path = latest_training_state(work, model, len(data), config.total_steps(len(data)))
    logger.info("resuming %s from %s", out, path.name)
    test = _test_split(config, model_config)
    return _train_and_write(model, model_config, config, data, test, out, progress, resume=state)


def _train_and_write(model: LatentModel, model_config: ModelConfig, config: TrainConfig, data: ImageData,
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


def _train_and_write_main(model: LatentModel, model_config: ModelConfig, config: TrainConfig, data: ImageData,
                          test: ImageData | None, out: Path | None, progress: bool,
                          resume: TrainingState | None) -> Run:
    work = work_directory(out) if out is not None else None
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
        replace_directory(work, out)
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
        return data_for_model(config.data, "test", model_config, config.fit, config.eval_limit, config.stream)
    except GONError:
        return None  # a data set without a test split trains all the same


def _write_run(directory: Path, model: LatentModel, model_config: ModelConfig, config: TrainConfig, data: ImageData,
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


def _write_figures(directory: Path, model: LatentModel, config: TrainConfig, data: ImageData, test: ImageData | None,
                   history: list[dict[str, float]]) -> None:
    save_loss_plot([r["step"] for r in history], [r["loss"] for r in history], directory / "loss.png",
                   ylabel="training loss (per image)")
    shown = test if test is not None else data
    if isinstance(data, SoundData):
        _write_sound_figures(directory, model, config, data, shown)
        return
    save_grid(figures.reconstruction_pairs(model, figures.spread(shown, min(32, len(shown)))),
              directory / "reconstructions.png", columns=8)
    sampler = default_sampler(model, data)
    if isinstance(sampler, GaussianSampler):
        save_sampler(directory, sampler)
    save_grid(figures.samples(model, sampler, 64, seed=config.seed), directory / "samples.png", columns=8)
    z = model.encode(figures.spread(shown, 2 * min(8, len(shown) // 2)))
    save_grid(figures.interpolations(model, z[0::2], z[1::2], steps=10), directory / "interpolations.png", columns=10)


def _write_sound_figures(directory: Path, model: LatentModel, config: TrainConfig, data: SoundData,
                         shown: SoundData) -> None:
    """A sound run's reconstructions, samples and interpolations, each as a PNG and a WAV."""
    rate = data.sample_rate
    figures.save_sound_reconstructions(model, figures.spread(shown, min(6, len(shown))),
                                       directory / "reconstructions.png", rate)
    sampler = default_sampler(model, data)
    if isinstance(sampler, GaussianSampler):
        save_sampler(directory, sampler)
    figures.save_sound_clips(figures.samples(model, sampler, 8, seed=config.seed), directory / "samples.png", rate, 4)
    z = model.encode(figures.spread(shown, 2 * min(2, len(shown) // 2)))
    steps = 6
    figures.save_sound_clips(figures.interpolations(model, z[0::2], z[1::2], steps=steps),
                             directory / "interpolations.png", rate, steps)


def default_sampler(model: LatentModel, data: ImageData, max_images: int = 5000) -> GaussianSampler | PriorSampler:
    """N(0, I) for variational GONs; otherwise a Gaussian fitted to training latents (Appendix D)."""
    if isinstance(model, Variational):
        return PriorSampler(model.latent_dim)
    if hasattr(model, "latents"):  # GLO: the training codes themselves, no optimisation needed
        return GaussianSampler.fit(model.latents.weight.detach()[:max_images])
    return GaussianSampler.fit(encode_dataset(model, data, limit=max_images))
