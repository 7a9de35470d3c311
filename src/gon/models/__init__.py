"""Latent models: the interface (base.py), the GON kinds (gon.py), the paper's baselines
(baselines.py), `build_model` over all of them (registry.py) and their files (saving.py).
Each kind's module registers its spec (gon/kinds.py) beside its builder; importing it
here is what makes the kind known."""

from . import sound, video  # noqa: F401 - register the sound and video kinds
from .base import LatentModel, Variational
from .baselines import GLO, VAE, Autoencoder
from .gon import GON, ImplicitGON, ModulatedGON, VariationalGON
from .registry import MAX_MODEL_VALUES, available_memory, build_model, check_model_size, images_that_fit
from .saving import load_model, read_config, save_model

__all__ = [
    "LatentModel",
    "Variational",
    "GON",
    "VariationalGON",
    "ImplicitGON",
    "ModulatedGON",
    "Autoencoder",
    "VAE",
    "GLO",
    "build_model",
    "check_model_size",
    "available_memory",
    "images_that_fit",
    "MAX_MODEL_VALUES",
    "load_model",
    "save_model",
    "read_config",
]
