"""Saved models: weights in safetensors, configuration in JSON. No pickle is ever loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .errors import GONError
from .models import GON, ModelConfig, build_model
from .samplers import GaussianSampler

FORMAT = "gradient-origin-networks/v1"
CONFIG_FILE, WEIGHTS_FILE, SAMPLER_FILE = "config.json", "model.safetensors", "sampler.safetensors"


def save_model(directory: str | Path, model: GON, config: ModelConfig, extra: dict[str, Any] | None = None) -> None:
    """Write config.json and model.safetensors into `directory` (which must exist)."""
    directory = Path(directory)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, directory / WEIGHTS_FILE, metadata={"format": FORMAT, "kind": config.kind})
    document = {"format": FORMAT, "model": config.to_dict(), **(extra or {})}
    (directory / CONFIG_FILE).write_text(json.dumps(document, indent=2) + "\n")


def read_json(path: Path, missing: str) -> Any:
    """The JSON document in `path`; GONError ("PATH: missing") if absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise GONError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GONError(f"{path}: not a readable JSON file ({error})") from None


def read_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise GONError(f"{directory}: no such run directory")
    document = read_json(path, f"missing; is {directory} a directory written by `gon train`?")
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("model"), dict):
        raise GONError(f"{path}: not a config of this library (expected format {FORMAT!r})")
    return document


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise GONError(f"{path}: missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            return {k: f.get_tensor(k) for k in f.keys()}, metadata
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise GONError(f"{path}: not a valid safetensors file ({str(error).splitlines()[0]})") from None


def load_model(directory: str | Path) -> tuple[GON, ModelConfig, dict[str, Any]]:
    """The model saved in `directory`, in eval mode, with its config and the whole config document."""
    directory = Path(directory)
    document = read_config(directory)
    config = ModelConfig.from_dict(document["model"])
    state, metadata = _read_safetensors(directory / WEIGHTS_FILE)
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


def save_sampler(directory: str | Path, sampler: GaussianSampler) -> None:
    save_file(sampler.state_dict(), Path(directory) / SAMPLER_FILE, metadata={"format": FORMAT, "sampler": sampler.name})


def load_sampler(directory: str | Path) -> GaussianSampler:
    state, metadata = _read_safetensors(Path(directory) / SAMPLER_FILE)
    if metadata.get("sampler") != GaussianSampler.name or set(state) != {"mean", "covariance"}:
        raise GONError(f"{Path(directory) / SAMPLER_FILE}: not a Gaussian latent sampler of this library")
    return GaussianSampler(state["mean"], state["covariance"])
