"""Saved models: weights in safetensors, configuration in JSON. No pickle is ever loaded."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError

from .errors import GONError
from .files import read_tensors, save_tensors, write_atomically
from .models import GON, ModelConfig, build_model
from .samplers import GaussianSampler, MixtureSampler

logger = logging.getLogger("gon")

FORMAT = "gradient-origin-networks/v1"
CONFIG_FILE, WEIGHTS_FILE, SAMPLER_FILE = "config.json", "model.safetensors", "sampler.safetensors"


def save_model(directory: str | Path, model: GON, config: ModelConfig, extra: dict[str, Any] | None = None) -> None:
    """Write config.json and model.safetensors into `directory` (which must exist)."""
    directory = Path(directory)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_tensors(state, directory / WEIGHTS_FILE, metadata={"format": FORMAT, "kind": config.kind})
    document = {"format": FORMAT, "model": config.to_dict(), **(extra or {})}
    write_atomically(directory / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(document, indent=2) + "\n"))


# config.json, state.json and run.json are a few kB; anything far larger is not ours
MAX_JSON_BYTES = 16 << 20


def read_json(path: Path, missing: str) -> Any:
    """The JSON document in `path`; GONError ("PATH: missing") if absent, and one line for
    anything else: not a regular file (/dev/zero), over MAX_JSON_BYTES, not JSON, nested too
    deeply or holding an integer too long to convert."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: a FIFO would block, /dev/zero never ends
            raise GONError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            text = f.read(MAX_JSON_BYTES + 1)
        if len(text) > MAX_JSON_BYTES:
            raise GONError(f"{path}: larger than {MAX_JSON_BYTES >> 20} MiB, not a config or state file of this library")
        return json.loads(text)
    except FileNotFoundError:
        raise GONError(f"{path}: {missing}") from None
    except RecursionError:
        raise GONError(f"{path}: not a readable JSON file (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:  # JSONDecodeError and over-long integers
        raise GONError(f"{path}: not a readable JSON file ({str(error).splitlines()[0]})") from None


def read_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise GONError(f"{directory}: no such run directory")
    document = read_json(path, f"missing; is {directory} a directory written by `gon train`?")
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("model"), dict):
        raise GONError(f"{path}: not a config of this library (expected format {FORMAT!r})")
    return document


def load_model(directory: str | Path) -> tuple[GON, ModelConfig, dict[str, Any]]:
    """The model saved in `directory`, in eval mode, with its config and the whole config document."""
    directory = Path(directory)
    document = read_config(directory)
    config = ModelConfig.from_dict(document["model"])
    state, metadata = read_tensors(directory / WEIGHTS_FILE)
    if metadata.get("format") != FORMAT:
        raise GONError(f"{directory / WEIGHTS_FILE}: not a checkpoint of this library")
    if metadata.get("kind") != config.kind:
        raise GONError(f"{directory / WEIGHTS_FILE}: weights of a {metadata.get('kind')!r} model, "
                       f"but config.json describes a {config.kind!r} model")
    model = build_model(config)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label}: {', '.join(keys[:3])}" for label, keys in
                           (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys)
        raise GONError(f"{directory / WEIGHTS_FILE}: does not fit a {config.kind} model with this config ({detail})")
    model.load_state_dict(state)
    model.eval()
    return model, config, document


# name -> (class, its tensors in constructor order)
SAMPLERS = {GaussianSampler.name: (GaussianSampler, ("mean", "covariance")),
            MixtureSampler.name: (MixtureSampler, ("weights", "means", "covariances"))}


def sampler_file(directory: str | Path, name: str) -> Path:
    """sampler.safetensors for the Gaussian (the default written by `gon train`), sampler-NAME.safetensors otherwise."""
    return Path(directory) / (SAMPLER_FILE if name == GaussianSampler.name else f"sampler-{name}.safetensors")


def save_sampler(directory: str | Path, sampler: GaussianSampler | MixtureSampler) -> Path:
    path = sampler_file(directory, sampler.name)
    return write_atomically(path, lambda tmp: save_tensors(sampler.state_dict(), tmp,
                                                          metadata={"format": FORMAT, "sampler": sampler.name}))


def load_sampler(directory: str | Path, name: str = GaussianSampler.name) -> GaussianSampler | MixtureSampler:
    path = sampler_file(directory, name)
    state, metadata = read_tensors(path)
    cls, keys = SAMPLERS[name]
    if metadata.get("sampler") != name or set(state) != set(keys):
        raise GONError(f"{path}: not a {name} latent sampler of this library")
    try:
        return cls(*(state[k] for k in keys))
    except RuntimeError as error:  # e.g. a covariance that is not positive definite
        raise GONError(f"{path}: unusable sampler ({str(error).splitlines()[0]})") from None


# training checkpoints: everything needed to continue a run exactly (weights, optimiser,
# step, data order, the RNG states of torch, numpy and Python), as safetensors + JSON

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


def _fsync_write(path: Path, write) -> None:  # noqa: ANN001 - write(path) saves the file
    write(path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def save_training_state(directory: Path, model: GON, state: TrainingState, keep: int) -> Path:
    """Write checkpoints/step-NNNNNNNN atomically (temporary folder, fsync, rename), then
    delete all but the newest `keep` checkpoints."""
    root = directory / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step:08d}"
    tmp = root / f".step-{state.step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    optimizer_tensors = {f"state.{index}.{name}": value.detach().contiguous().cpu()
                         for index, entry in state.optimizer["state"].items() for name, value in entry.items()}
    rng_tensors = {"rng.torch": state.rng["torch"], "rng.numpy_keys": state.rng["numpy_keys"], "order": state.order}
    document = {"format": FORMAT, "step": state.step, "rng": {"numpy": state.rng["numpy"], "python": state.rng["python"]},
                "param_groups": state.optimizer["param_groups"], "history": state.history,
                "running": list(state.running)}
    try:
        _fsync_write(tmp / WEIGHTS_FILE, lambda p: save_tensors(weights, p, metadata={"format": FORMAT}))
        _fsync_write(tmp / "optimizer.safetensors",
                     lambda p: save_tensors({**optimizer_tensors, **rng_tensors}, p, metadata={"format": FORMAT}))
        _fsync_write(tmp / "state.json", lambda p: p.write_text(json.dumps(document)))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        descriptor = os.open(root, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except (OSError, SafetensorError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = sorted(p.name for p in root.glob("step-*"))
        reason = str(error).splitlines()[0]
        fallback = f"{kept[-1]} is kept: --resume continues from it" if kept else "no checkpoint was kept"
        raise GONError(f"could not write the checkpoint of step {state.step} ({reason}); {fallback}") from None
    for old in sorted(root.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_training_state(path: Path, model: GON, data_size: int | None = None) -> TrainingState:
    """Load one checkpoint folder into `model` and return the rest; GONError if it is
    incomplete, foreign or damaged anywhere (`check_training_state`)."""
    document = read_json(path / "state.json", "missing: the checkpoint is incomplete")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GONError(f"{path / 'state.json'}: not a checkpoint of this library")
    weights, _ = read_tensors(path / WEIGHTS_FILE)
    tensors, _ = read_tensors(path / "optimizer.safetensors")
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
        check_training_state(state, model, data_size)
        return state
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError, RecursionError) as error:
        raise GONError(f"{path}: checkpoint does not fit this run ({str(error).splitlines()[0]})") from None


def check_training_state(state: TrainingState, model: GON, data_size: int | None) -> None:
    """ValueError unless every part of `state` can drive `model`'s training on `data_size`
    images: the data order is a permutation of them, the RNG states restore, the optimiser
    state has one entry per parameter of its shape, and the counters are numbers."""
    order = state.order
    if data_size is not None and (order.dtype != torch.int64 or tuple(order.shape) != (data_size,)
                                  or not torch.equal(order.sort().values, torch.arange(data_size))):
        raise ValueError(f"the data order is not a permutation of the {data_size} training images")
    if state.step < 0 or len(state.running) != 3 or not all(isinstance(r, dict) for r in state.history):
        raise ValueError("the step counters are damaged")
    current = capture_rng()
    try:
        restore_rng(state.rng)  # raises on a state of the wrong type or shape
    finally:
        restore_rng(current)
    groups = model.parameter_groups(1.0) if hasattr(model, "parameter_groups") else [{"params": model.parameters()}]
    parameters = [p for group in groups for p in group["params"]]
    if len(state.optimizer["param_groups"]) != len(groups):
        raise ValueError("the optimiser state has another number of parameter groups")
    for index, entry in state.optimizer["state"].items():
        shape = tuple(parameters[index].shape)
        if any(tuple(entry[name].shape) != shape for name in ("exp_avg", "exp_avg_sq")):
            raise ValueError(f"the optimiser state of parameter {index} does not have its shape {shape}")


def latest_training_state(directory: Path, model: GON, data_size: int | None = None) -> tuple[TrainingState, Path]:
    """The newest checkpoint under directory/checkpoints that loads (for training on
    `data_size` images); older ones stand in for a newest one that is damaged."""
    candidates = sorted((directory / "checkpoints").glob("step-*"), reverse=True)
    problems = []
    for path in candidates:
        try:
            return load_training_state(path, model, data_size), path
        except GONError as error:
            problems.append(str(error))
            logger.warning("skipping checkpoint %s: %s", path.name, error)
    detail = f" ({problems[0]})" if problems else ""
    raise GONError(f"{directory}: no usable checkpoint to resume from{detail}")
