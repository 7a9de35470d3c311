"""Training checkpoints: everything needed to continue a run exactly (weights, optimizer,
step, data order, the RNG states of torch, numpy and Python), as safetensors + JSON.

Each checkpoint is a folder checkpoints/step-NNNNNNNN written whole or not at all; a
damaged newest one falls back to the one before (`latest_training_state`).
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import MAX_LR, MAX_STEPS
from ..errors import GONError
from ..fields import short
from ..files import FORMAT, read_json, read_tensors, save_tensors, write_directory_atomically, write_json
from ..layout import RunLayout
from ..models import LatentModel

logger = logging.getLogger("gon")


@dataclass
class TrainingState:
    step: int  # steps completed
    order: torch.Tensor  # the current epoch's permutation of the data
    optimizer: dict[str, Any]  # torch.optim state_dict
    rng: dict[str, Any]  # see capture_rng
    history: list[dict[str, float]] = field(default_factory=list)
    running: tuple[float, int, int] = (0.0, 0, 0)  # loss sum, count and step since the last log line


def capture_rng() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy": [kind, int(position), int(has_gauss), float(cached)],
        "python": [version, list(python_state), gauss_next],
    }


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
    optimizer_tensors = {
        f"state.{index}.{name}": value.detach().contiguous().cpu()
        for index, entry in state.optimizer["state"].items()
        for name, value in entry.items()
    }
    rng_tensors = {"rng.torch": state.rng["torch"], "rng.numpy_keys": state.rng["numpy_keys"], "order": state.order}
    document = {
        "format": FORMAT,
        "step": state.step,
        "rng": {"numpy": state.rng["numpy"], "python": state.rng["python"]},
        "param_groups": state.optimizer["param_groups"],
        "history": state.history,
        "running": list(state.running),
    }

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


def load_training_state(
    path: Path, model: nn.Module, data_size: int | None = None, total_steps: int | None = None
) -> TrainingState:
    """Load one checkpoint folder into `model` and return the rest; GONError if it is
    incomplete, foreign or damaged anywhere (`check_training_state`)."""
    folder = RunLayout(path)
    document = read_json(folder.state, "missing: the checkpoint is incomplete")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GONError(f"{folder.state}: not a checkpoint of this library")
    weights, _ = read_tensors(folder.weights)
    tensors, _ = read_tensors(folder.optimizer)
    try:
        check_state_document(document)
        problem = model.state_problem(weights) if isinstance(model, LatentModel) else None
        if problem is not None:
            raise ValueError(f"unusable weights: {problem}")
        model.load_state_dict(weights)
        optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("state."):
                _, index, name = key.split(".", 2)
                optimizer_state.setdefault(int(index), {})[name] = value
        groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in document["param_groups"]]
        rng = {
            "torch": tensors["rng.torch"],
            "numpy_keys": tensors["rng.numpy_keys"],
            "numpy": document["rng"]["numpy"],
            "python": document["rng"]["python"],
        }
        state = TrainingState(
            document["step"],
            tensors["order"],
            {"state": optimizer_state, "param_groups": groups},
            rng,
            list(document["history"]),
            tuple(document["running"]),
        )  # type: ignore[arg-type]
        check_training_state(state, model, data_size, total_steps)
        return state
    except (
        KeyError,
        ValueError,
        TypeError,
        RuntimeError,
        IndexError,
        AttributeError,
        RecursionError,
        OverflowError,
    ) as error:
        raise GONError(f"{path}: checkpoint does not fit this run ({str(error).splitlines()[0]})") from None


def _integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: Any, low: float, high: float) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )


def check_state_document(document: dict[str, Any]) -> None:
    """ValueError naming the first field of a checkpoint's state.json that does not hold what
    this library wrote there: each is checked for its type and range before any is used, so
    a damaged file is one line (and a fallback to the older checkpoint), never a crash later."""
    if not _integer(document.get("step"), 0, MAX_STEPS):
        raise ValueError(f"step is not a whole number of steps: {short(document.get('step'))}")
    running = document.get("running")
    if not (
        isinstance(running, list)
        and len(running) == 3
        and _number(running[0], -1e30, 1e30)
        and _integer(running[1], 0, MAX_STEPS)
        and _integer(running[2], 0, MAX_STEPS)
    ):
        raise ValueError(f"running is not [loss sum, count, step]: {short(running)}")
    if not isinstance(document.get("history"), list):
        raise ValueError("history is not a list of records")
    groups = document.get("param_groups")
    if not (isinstance(groups, list) and groups and all(isinstance(g, dict) for g in groups)):
        raise ValueError("param_groups is not a list of parameter groups")
    for number, group in enumerate(groups):
        betas = group.get("betas")
        checks = {
            "lr": _number(group.get("lr"), 0, MAX_LR),
            "betas": isinstance(betas, list) and len(betas) == 2 and all(_number(b, 0, 1) for b in betas),
            "eps": _number(group.get("eps"), 0, 1),
            "weight_decay": _number(group.get("weight_decay", 0), 0, 1e6),
            "params": isinstance(group.get("params"), list) and all(_integer(i, 0, 1 << 40) for i in group["params"]),
        }
        checks.update({key: isinstance(group[key], bool) for key in ("amsgrad", "maximize") if key in group})
        for key, good in checks.items():
            if not good:
                raise ValueError(f"param_groups[{number}].{key} is damaged: {short(group.get(key))}")
    rng = document.get("rng")
    numpy_state = rng.get("numpy") if isinstance(rng, dict) else None
    if not (
        isinstance(numpy_state, list)
        and len(numpy_state) == 4
        and numpy_state[0] == "MT19937"
        and _integer(numpy_state[1], 0, 624)
        and _integer(numpy_state[2], 0, 1)
        and _number(numpy_state[3], -1e308, 1e308)
    ):
        raise ValueError("rng.numpy is not a Mersenne Twister state")
    python_state = rng.get("python")
    if not (
        isinstance(python_state, list)
        and len(python_state) == 3
        and _integer(python_state[0], 0, 1 << 8)
        and isinstance(python_state[1], list)
        and len(python_state[1]) == 625
        and all(_integer(word, 0, 2**32 - 1) for word in python_state[1])
        and (python_state[2] is None or _number(python_state[2], -1e308, 1e308))
    ):
        raise ValueError("rng.python is not a Mersenne Twister state")


def check_training_state(
    state: TrainingState, model: LatentModel, data_size: int | None, total_steps: int | None = None
) -> None:
    """ValueError unless every part of `state` can drive `model`'s training on `data_size`
    images: the data order is a permutation of them, the RNG states restore, the optimizer
    state has one entry per parameter of its shape, and the counters and the logged history
    fit a run of `total_steps` steps."""
    order = state.order
    if data_size is not None and (
        order.dtype != torch.int64
        or tuple(order.shape) != (data_size,)
        or not torch.equal(order.sort().values, torch.arange(data_size))
    ):
        raise ValueError(f"the data order is not a permutation of the {data_size} training images")
    if not 0 <= state.step < (total_steps if total_steps is not None else 2**62) or len(state.running) != 3:
        raise ValueError(f"the step counter {state.step} does not fit this run")
    for record in state.history:  # the loop reads these fields of the last record
        if not (
            isinstance(record, dict)
            and isinstance(record.get("step"), int)
            and 0 < record["step"] <= state.step
            and all(isinstance(record.get(key), (int, float)) for key in ("loss", "steps_per_s", "elapsed_s"))
        ):
            raise ValueError("the logged history is damaged")
    current = capture_rng()
    try:
        restore_rng(state.rng)  # raises on a state of the wrong type or shape
    finally:
        restore_rng(current)
    groups = [list(group["params"]) for group in model.parameter_groups(1.0)]
    parameters = [p for group in groups for p in group]
    saved = state.optimizer["param_groups"]
    if (
        len(saved) != len(groups)
        or [len(g["params"]) for g in saved] != [len(g) for g in groups]
        or [i for g in saved for i in g["params"]] != list(range(len(parameters)))
    ):
        raise ValueError("the optimizer's parameter groups do not list this model's parameters")
    if any(not isinstance(index, int) or not 0 <= index < len(parameters) for index in state.optimizer["state"]):
        raise ValueError("the optimizer state names a parameter this model does not have")
    for index, entry in state.optimizer["state"].items():
        shape = tuple(parameters[index].shape)
        if any(tuple(entry[name].shape) != shape for name in ("exp_avg", "exp_avg_sq")):
            raise ValueError(f"the optimizer state of parameter {index} does not have its shape {shape}")


def latest_training_state(
    directory: Path, model: nn.Module, data_size: int | None = None, total_steps: int | None = None
) -> tuple[TrainingState, Path]:
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
