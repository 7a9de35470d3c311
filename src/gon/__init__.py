"""Gradient Origin Networks (Bond-Taylor & Willcocks, ICLR 2021) in PyTorch.

from gon import ModelConfig, TrainConfig, train, load_model
run = train(ModelConfig(kind="conv"), TrainConfig(data="mnist5k", steps=300), "runs/conv", version=True)
model, config, _ = load_model(run.directory)
z = model.encode(images)          # (batch, latent_dim): gradients at the origin
"""

import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> the module that defines it. They load on first use, so that `import gon`
# (and with it `gon --help`) does not wait seconds for torch.
_EXPORTS = {
    "ModelConfig": "config",
    "TrainConfig": "config",
    "ClassifierOptions": "config",
    "GLOOptions": "config",
    "MonteCarloOptions": "config",
    "VariationalOptions": "config",
    "ImageData": "data",
    "load_data": "data",
    "ConvDecoder": "decoders",
    "ImplicitDecoder": "decoders",
    "VariationalDecoder": "decoders",
    "ModulatedImplicitDecoder": "decoders",
    "ConvOptions": "decoders",
    "ModulationOptions": "decoders",
    "SirenOptions": "decoders",
    "Tiling": "tiling",
    "GONError": "errors",
    "encode_dataset": "evaluate",
    "evaluate": "evaluate",
    "GON": "models",
    "ImplicitGON": "models",
    "LatentModel": "models",
    "VariationalGON": "models",
    "ModulatedGON": "models",
    "build_model": "models",
    "load_model": "models",
    "save_model": "models",
    "OriginStep": "origin",
    "gradient_origin": "origin",
    "load_pretrained": "pretrained",
    "GaussianSampler": "samplers",
    "PriorSampler": "samplers",
    "Run": "training",
    "fit": "training",
    "resume": "training",
    "train": "training",
}
__all__ = sorted(_EXPORTS, key=str.lower)


class _Package(types.ModuleType):
    def __getattr__(self, name: str):
        if name not in _EXPORTS:
            raise AttributeError(f"module 'gon' has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        setattr(self, name, value)
        return value

    def __setattr__(self, name: str, value) -> None:
        # importing the submodule gon.evaluate binds it on the package; `gon.evaluate` stays the function
        if not (isinstance(value, types.ModuleType) and name in _EXPORTS):
            super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_EXPORTS})


sys.modules[__name__].__class__ = _Package
