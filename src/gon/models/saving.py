"""Saved models: weights in safetensors, configuration in JSON. No pickle is ever loaded.

The one save/load API: `save_model` / `load_model` here, which `model.save_pretrained`,
`Model.from_pretrained`, `gon train` and every command that reads a run go through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..config import ModelConfig
from ..errors import GONError
from ..files import FORMAT, read_json, read_tensors, save_tensors, write_atomically, write_directory_atomically
from .registry import build_model

if TYPE_CHECKING:
    from .base import LatentModel

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
# the key of config.json that marks a GON around a decoder of its user's (gon/models/own_decoder.py)
OWN_DECODER = "own_decoder"


def save_model(directory: str | Path, model: "LatentModel", config: ModelConfig, extra: dict[str, Any] | None = None) -> None:
    """Write config.json and model.safetensors into `directory` (which must exist)."""
    directory = Path(directory)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_tensors(state, directory / WEIGHTS_FILE, metadata={"format": FORMAT, "kind": config.kind})
    document = {"format": FORMAT, "model": config.to_dict(), **(extra or {})}
    write_atomically(directory / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(document, indent=2) + "\n"))


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
        raise GONError(f"{directory}: holds a {saved.get('class')} around a decoder of its own ({saved.get('decoder')}): "
                       f"load it in Python with {saved.get('class')}.from_pretrained(path, "
                       f"decoder={saved.get('decoder')}(...))")
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("model"), dict):
        raise GONError(f"{path}: not a config of this library (expected format {FORMAT!r})")
    return document


def load_model(directory: str | Path) -> tuple["LatentModel", ModelConfig, dict[str, Any]]:
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
    with torch.inference_mode(False):  # loaded inside inference mode, the weights must still be autograd's
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




def save_pretrained(model: "LatentModel", directory: str | Path) -> Path:
    """Write `model` (built by build_model, which gives it its config) into `directory`: a
    new directory appears whole; in an existing one each file is replaced whole, weights first."""
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise GONError("this model has no config to save: build it with build_model(config), "
                       "or use gon.save_model(directory, model, config)")
    return write_directory_atomically(directory, lambda staging: save_model(staging, model, config),
                                      merge=(WEIGHTS_FILE, CONFIG_FILE))
