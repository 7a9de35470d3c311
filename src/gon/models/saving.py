"""Saved models: weights in safetensors, configuration in JSON. No pickle is ever loaded.

The one save/load API: `save_model` / `load_model` here, which `model.save_pretrained`,
`Model.from_pretrained`, `gon train` and every command that reads a run go through.
It sits above the registry (a model is rebuilt from its config by `build_model`) and
below the model interface, which knows it only through these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import GONError
from ..files import FORMAT, read_json, read_tensors, save_tensors, write_directory_atomically, write_json
from ..layout import RunLayout
from .registry import build_model

# kept for code that imported them from here; RunLayout is their one source
CONFIG_FILE, WEIGHTS_FILE = RunLayout.CONFIG, RunLayout.WEIGHTS
# the key of config.json that marks a GON around a decoder of its user's (gon/models/own_decoder.py)
OWN_DECODER = "own_decoder"


def save_model(
    directory: str | Path, model: nn.Module, config: ModelConfig, extra: dict[str, Any] | None = None
) -> None:
    """Write config.json and model.safetensors into `directory` (which must exist)."""
    layout = RunLayout(Path(directory))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_tensors(state, layout.weights, metadata={"format": FORMAT, "kind": config.kind})
    write_json(layout.config, {"format": FORMAT, "model": config.to_dict(), **(extra or {})})


def read_config(directory: str | Path, own_decoder: bool = False) -> dict[str, Any]:
    """config.json of a model folder; with `own_decoder`, also that of a GON around a decoder
    of its user's (which only `GON.from_pretrained(path, decoder=...)` can load)."""
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise GONError(f"{directory}: no such run directory")
    document = read_json(path, f"missing; is {directory} a directory written by `gon train`?")
    if isinstance(document, dict) and document.get("format") == FORMAT and isinstance(document.get(OWN_DECODER), dict):
        if own_decoder:
            return document
        saved = document[OWN_DECODER]
        raise GONError(
            f"{directory}: holds a {saved.get('class')} around a decoder of its own ({saved.get('decoder')}): "
            f"load it in Python with {saved.get('class')}.from_pretrained(path, "
            f"decoder={saved.get('decoder')}(...))"
        )
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or not isinstance(document.get("model"), dict)
    ):
        raise GONError(f"{path}: not a config of this library (expected format {FORMAT!r})")
    if not isinstance(document.get("train", {}), dict):
        raise GONError(f"{path}: 'train' must be a JSON object of the run's training config")
    return document


def load_model(directory: str | Path) -> tuple[nn.Module, ModelConfig, dict[str, Any]]:
    """The model saved in `directory`, in eval mode, with its config and the whole config document."""
    directory = Path(directory)
    document = read_config(directory)
    config = ModelConfig.from_dict(document["model"], recorded=True)
    state, metadata = read_tensors(directory / WEIGHTS_FILE)
    if metadata.get("format") != FORMAT:
        raise GONError(f"{directory / WEIGHTS_FILE}: not a checkpoint of this library")
    if metadata.get("kind") != config.kind:
        raise GONError(
            f"{directory / WEIGHTS_FILE}: weights of a {metadata.get('kind')!r} model, "
            f"but config.json describes a {config.kind!r} model"
        )
    with torch.inference_mode(False):  # loaded inside inference mode, the weights must still be autograd's
        model = build_model(config)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label}: {', '.join(keys[:3])}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise GONError(f"{directory / WEIGHTS_FILE}: does not fit a {config.kind} model with this config ({detail})")
    problem = model.state_problem(state)
    if problem is not None:
        raise GONError(f"{directory / WEIGHTS_FILE}: unusable weights ({problem})")
    model.load_state_dict(state)
    model.eval()
    return model, config, document


def save_pretrained(model: nn.Module, directory: str | Path) -> Path:
    """Write `model` (built with its config, as build_model does) into `directory`: a
    new directory appears whole; in an existing one each file is replaced whole, weights first."""
    config = model.config
    if not isinstance(config, ModelConfig):
        raise GONError(
            "this model has no config to save: build it with build_model(config), "
            "or use gon.save_model(directory, model, config)"
        )
    return write_directory_atomically(
        directory, lambda staging: save_model(staging, model, config), merge=(WEIGHTS_FILE, CONFIG_FILE)
    )
