"""Training checkpoints: everything needed to continue a run exactly (weights, optimizer,
step, data order, the RNG states of torch, numpy and Python), as safetensors + JSON.

Each checkpoint is a folder checkpoints/step-NNNNNNNN written whole or not at all; a
damaged newest one falls back to the one before (`latest_training_state`).
"""

from __future__ import annotations

import logging
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import GONError
from ..files import FORMAT, read_json, read_tensors, save_tensors, write_directory_atomically, write_json
from ..layout import RunLayout
from ..models import LatentModel

logger = logging.getLogger("gon")

@dataclass
class TrainingState:
    step: int                                  # steps completed
    order: torch.Tensor                        # the current epoch's permutation of the data
    optimizer: dict[str, Any]                  # torch.optim state_dict
    rng: dict[str, Any]                        # see capture_rng
    history: list[dict[str, float]] = field(default_factory=list)
    running: tuple[float, int, int] = (0.0, 0, 0)  # loss sum, count and step since the last log line


def capture_rng() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
            "numpy": [kind, int(position), int(has_gauss), float(cached)],
            "python": [version, list(python_state), gauss_next]}


def restore_rng(rng: dict[str, Any]) -> None:
    torch.set_rng_state(rng["torch"])
    kind, position, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, rng["numpy_keys"].numpy().astype(np.uint32), position, has_gauss, cached))
    version, python_state, gauss_next = rng["python"]
    random.setstate((version, tuple(python_state), gauss_next))


def save_training_state(directory: Path, model: nn.Module, state: TrainingState, keep: int) -> Path:
    """Write checkpoints/step-NNNNNNNN whole or not at all (files.write_directory_atomically),
    then delete all but the newest `keep` checkpoints."""
    run = RunLayout(directory)
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    final = run.checkpoint(state.step).root
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    optimizer_tensors = {f"state.{index}.{name}": value.detach().contiguous().cpu()
                         for index, entry in state.optimizer["state"].items() for name, value in entry.items()}
    rng_tensors = {"rng.torch": state.rng["torch"], "rng.numpy_keys": state.rng["numpy_keys"], "order": state.order}
    document = {"format": FORMAT, "step": state.step, "rng": {"numpy": state.rng["numpy"], "python": state.rng["python"]},
                "param_groups": state.optimizer["param_groups"], "history": state.history,
                "running": list(state.running)}

    def save(tmp: Path) -> None:
        folder = RunLayout(tmp)
        save_tensors(weights, folder.weights, metadata={"format": FORMAT})
        save_tensors({**optimizer_tensors, **rng_tensors}, folder.optimizer, metadata={"format": FORMAT})
        write_json(folder.state, document, indent=None)

    try:
        write_directory_atomically(final, save, replace=True)
    except GONError as error:
        kept = [p.name for p in run.checkpoint_folders()]
        reason = str(error).rsplit(" (", 1)[-1].rstrip(")")
        fallback = f"{kept[-1]} is kept: --resume continues from it" if kept else "no checkpoint was kept"
        raise GONError(f"could not write the checkpoint of step {state.step} ({reason}); {fallback}") from None
    for old in run.checkpoint_folders()[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_training_state(path: Path, model: nn.Module, data_size: int | None = None,
                        total_steps: int | None = None) -> TrainingState:
    """Load one checkpoint folder into `model` and return the rest; GONError if it is
    incomplete, foreign or damaged anywhere (`check_training_state`)."""
    folder = RunLayout(path)
    document = read_json(folder.state, "missing: the checkpoint is incomplete")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GONError(f"{folder.state}: not a checkpoint of this library")
    weights, _ = read_tensors(folder.weights)
    tensors, _ = read_tensors(folder.optimizer)
    try:
        model.load_state_dict(weights)
        optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("state."):
                _, index, name = key.split(".", 2)
                optimizer_state.setdefault(int(index), {})[name] = value
        groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in document["param_groups"]]
        rng = {"torch": tensors["rng.torch"], "numpy_keys": tensors["rng.numpy_keys"],
               "numpy": document["rng"]["numpy"], "python": document["rng"]["python"]}
        state = TrainingState(int(document["step"]), tensors["order"], {"state": optimizer_state, "param_groups": groups},
                              rng, list(document["history"]), tuple(document["running"]))  # type: ignore[arg-type]
        check_training_state(state, model, data_size, total_steps)
        return state
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError, RecursionError) as error:
        raise GONError(f"{path}: checkpoint does not fit this run ({str(error).splitlines()[0]})") from None


def check_training_state(state: TrainingState, model: LatentModel, data_size: int | None,
                         total_steps: int | None = None) -> None:
    """ValueError unless every part of `state` can drive `model`'s training on `data_size`
    images: the data order is a permutation of them, the RNG states restore, the optimizer
    state has one entry per parameter of its shape, and the counters and the logged history
    fit a run of `total_steps` steps."""
    order = state.order
    if data_size is not None and (order.dtype != torch.int64 or tuple(order.shape) != (data_size,)
                                  or not torch.equal(order.sort().values, torch.arange(data_size))):
        raise ValueError(f"the data order is not a permutation of the {data_size} training images")
    if not 0 <= state.step < (total_steps if total_steps is not None else 2 ** 62) or len(state.running) != 3:
        raise ValueError(f"the step counter {state.step} does not fit this run")
    for record in state.history:  # the loop reads these fields of the last record
        if not (isinstance(record, dict) and isinstance(record.get("step"), int)
                and 0 < record["step"] <= state.step
                and all(isinstance(record.get(key), (int, float)) for key in ("loss", "steps_per_s", "elapsed_s"))):
            raise ValueError("the logged history is damaged")
    current = capture_rng()
    try:
        restore_rng(state.rng)  # raises on a state of the wrong type or shape
    finally:
        restore_rng(current)
    groups = model.parameter_groups(1.0)
    parameters = [p for group in groups for p in group["params"]]
    if len(state.optimizer["param_groups"]) != len(groups):
        raise ValueError("the optimizer state has another number of parameter groups")
    for index, entry in state.optimizer["state"].items():
        shape = tuple(parameters[index].shape)
        if any(tuple(entry[name].shape) != shape for name in ("exp_avg", "exp_avg_sq")):
            raise ValueError(f"the optimizer state of parameter {index} does not have its shape {shape}")


def latest_training_state(directory: Path, model: nn.Module, data_size: int | None = None,
                          total_steps: int | None = None) -> tuple[TrainingState, Path]:
    """The newest checkpoint under directory/checkpoints that loads (for training on
    `data_size` images); older ones stand in for a newest one that is damaged."""
    candidates = RunLayout(directory).checkpoint_folders()[::-1]
    problems = []
    for path in candidates:
        try:
            return load_training_state(path, model, data_size, total_steps), path
        except GONError as error:
            problems.append(str(error))
            logger.warning("skipping checkpoint %s: %s", path.name, error)
    detail = f" ({problems[0]})" if problems else ""
    raise GONError(f"{directory}: no usable checkpoint to resume from{detail}")
