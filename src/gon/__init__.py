"""Gradient Origin Networks (Bond-Taylor & Willcocks, ICLR 2021) in PyTorch.

    from gon import ModelConfig, TrainConfig, train, load_model
    run = train(ModelConfig(kind="conv"), TrainConfig(data="mnist5k", steps=300), "runs/conv", version=True)
    model, config, _ = load_model(run.directory)
    z = model.encode(images)          # (batch, latent_dim): gradients at the origin
"""

from .config import ModelConfig, TrainConfig
from .data import ImageData, load_data
from .decoders import ConvDecoder, ImplicitDecoder, VariationalDecoder
from .errors import GONError
from .evaluate import encode_dataset, evaluate
from .models import GON, ImplicitGON, LatentModel, VariationalGON, build_model, load_model, save_model
from .origin import OriginStep, gradient_origin
from .pretrained import load_pretrained
from .samplers import GaussianSampler, PriorSampler
from .training import Run, fit, resume, train

__version__ = "0.1.0"
__all__ = [
    "ConvDecoder", "GON", "GONError", "GaussianSampler", "ImageData", "ImplicitDecoder", "ImplicitGON", "LatentModel", "ModelConfig",
    "OriginStep", "PriorSampler", "Run", "TrainConfig", "VariationalDecoder", "VariationalGON", "build_model",
    "encode_dataset", "evaluate", "fit", "gradient_origin", "load_data", "load_pretrained", "load_model", "resume", "save_model", "train",
]
