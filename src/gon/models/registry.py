"""`build_model`: a config -> a fresh model, through its kind's spec (gon/kinds.py). GON
kinds (gon/models/gon.py) and the paper's baselines (gon/models/baselines.py) register
their specs beside their builders; this module knows none of them by name."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import GONError
from ..kinds import kind_spec
from ..signals import signal_of

# the largest model build_model allocates: 2^28 values of weights and buffers (1 GiB as float32)
MAX_MODEL_VALUES = 1 << 28


def check_model_size(config: ModelConfig) -> int:
    """The number of values (weights and buffers) of `config`'s model, counted on the meta
    device without allocating them; GONError over MAX_MODEL_VALUES. A table whose size the
    training data will set (`KindSpec.sized_by_data`: GLO's codes) counts one row while
    unset (the data limits bound the rest)."""
    spec = kind_spec(config.kind)
    if spec.sized_by_data is not None and config.value(spec.sized_by_data) is None:
        config = config.replaced(**{spec.sized_by_data: 1})
    try:
        with torch.device("meta"):
            shapes = spec.build(config)
        values = sum(t.numel() for t in itertools.chain(shapes.parameters(), shapes.buffers()))
    except RuntimeError:  # a size that overflows even torch's own count
        values = math.inf
    values += (config.classifier.classes or 0) * (config.latent_dim + 1)
    if values > MAX_MODEL_VALUES:
        raise GONError(
            f"this {config.kind} model would hold {values:,} values ({values * 4 / 2**30:.1f} GiB); "
            f"the limit is {MAX_MODEL_VALUES:,}: lower latent_dim, hidden_features, classes or image_size"
        )
    return int(values)


# peak activation memory of one image, in bytes per pixel x feature x layer: over-estimates
# of the peaks measured in a training step (the double backward) and in evaluation
# (docs/reliability.md, "Memory estimates")
ACTIVATION_BYTES = {"train": 4 * 4, "eval": 3 * 4}


def activation_bytes(config: ModelConfig, images: int, mode: str) -> int:
    """An upper estimate of the activation memory of `images` images of `config`'s model in
    a training step (`mode` "train", over `coordinate_samples` pixels if set) or an
    evaluation ("eval": encoding and decoding). An example of any signal counts its positions (a
    clip's samples, a video's frames x pixels) as pixels."""
    pixels = math.prod(config.data_shape[1:])
    samples = config.monte_carlo.coordinate_samples
    if mode == "train" and samples is not None:
        pixels = min(pixels, samples)
    features = max(config.hidden_features, config.channels) * (config.siren.num_layers + 1)
    # a modulated decoder's basis: its sine features and their weights per channel, at every position
    features += (config.modulation.basis_features or 0) * (config.channels + 1)
    return ACTIVATION_BYTES[mode] * pixels * features * images


def available_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its control group's limit if lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def images_that_fit(config: ModelConfig, images: int, mode: str) -> int:
    """How many of `images` images fit in memory at once (at least 1); GONError, before
    anything is allocated, if one does not."""
    one, memory = activation_bytes(config, 1, mode), available_memory()
    if one > memory:
        what = "a training step" if mode == "train" else "evaluating"
        signal = signal_of(config)
        raise GONError(
            f"{what} on one {signal.describe(config)} of this {config.kind} model "
            f"would need about {one / 2**30:.1f} GiB of activations; {memory / 2**30:.1f} GiB are "
            f"available: lower {signal.size_options} or hidden_features"
            + (
                " (or set coordinate_samples)"
                if "monte_carlo" in kind_spec(config.kind).options and mode == "train"
                else ""
            )
        )
    return max(1, min(images, memory // one))


def build_model(config: ModelConfig) -> nn.Module:
    """A fresh model for `config` (a LatentModel: gon/models/base.py), initialised as the
    paper's: a GON (kind "conv"), VariationalGON ("variational") or ImplicitGON
    ("implicit"), with a classifier head when config.classifier.classes is set, or the baseline of the
    other kinds; in training mode. GONError, before anything is allocated, for a model over
    MAX_MODEL_VALUES."""
    check_model_size(config)
    model = kind_spec(config.kind).build(config)
    classifier = config.classifier
    if classifier.classes is not None:
        model.add_classifier(classifier.classes, float(classifier.reconstruction_weight))
    return model
