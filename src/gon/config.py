"""Every knob of a model and of a training run, each declared once.

    config = ModelConfig(kind="conv", latent_dim=256, origin=OriginStep(steps=1))
    train = TrainConfig(data="mnist5k", steps=3000)

A field is a dataclass field with its help text, its allowed values and the model kinds it
means something for in `metadata` (`option` builds it). From that one declaration come
the `gon train` flags and their help (gon/cli/parser.py), the keys of a flat `--config`
file, validation (`check_fields`: one typed path for every config) and the fields a run
report shows (`applicable_fields`). The gradient-origin step's options are its own
dataclass, `gon.origin.OriginStep`, nested as `ModelConfig.origin`; their flags and flat
keys keep the names the command line always had (`--inner-steps`, `inner_steps`, ...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .decoders import ACTIVATIONS, CONV_SIZES, NORMS
from .errors import GONError
from .fields import check_fields, option, short
from .losses import LIKELIHOODS
from .origin import OriginStep

GON_KINDS = ("conv", "variational", "implicit")
# the paper's baselines (gon/models/baselines.py), built around the decoder of the GON kind named
BASELINE_KINDS = {"ae": "conv", "tied-ae": "conv", "glo": "conv", "vae": "variational"}
# sound (gon/models/sound.py): each kind is the image kind named, on clips (C, T) of amplitudes in [-1, 1]
AUDIO_KINDS = {"audio-implicit": "implicit", "audio-conv": "conv", "audio-ae": "ae"}
MODEL_KINDS = GON_KINDS + tuple(BASELINE_KINDS) + tuple(AUDIO_KINDS)
IMPLICIT_KINDS = ("implicit", "audio-implicit")
PAPER_BATCH_SIZE = 64
MAX_LAYERS = 1024  # SIREN layers; the paper's have 3-5 (checked before the model is built: each is a module)
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
FITS = ("resize", "pad")
MAX_SAMPLE_RATE = 384000
# samples in one clip of a sound model: 2^22 (4.4 minutes at 16 kHz)
MAX_CLIP_SAMPLES = 1 << 22
# the clips a sound model sees by default: 16 kHz covers speech and most of a drum's energy, and
# one second holds a whole hit of almost every sample in the sounds set
DEFAULT_SAMPLE_RATE, DEFAULT_CLIP_SECONDS = 16000, 1.0


def clip_samples(sample_rate: int, seconds: float) -> int:
    """Samples in a clip of `seconds` at `sample_rate` (at least one)."""
    return max(1, round(sample_rate * seconds))

# The paper's hyper-parameters per kind (its released scripts), used where the user gives none.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": dict(image_size=32, latent_dim=32, hidden_features=16, activation="elu"),
    "variational": dict(image_size=32, latent_dim=48, hidden_features=32, activation="elu"),
    "implicit": dict(image_size=28, latent_dim=32, hidden_features=256, activation="sine"),
}
KIND_DEFAULTS.update({kind: KIND_DEFAULTS[base] for kind, base in BASELINE_KINDS.items()})
# image_size is not used by sound kinds; first_w0 = 3000 is SIREN's first-layer frequency for audio
# (Sitzmann et al. 2020, Sec. 4.1 and its audio notebook: time in [-1, 1], first omega_0 = 3000)
KIND_DEFAULTS.update({
    "audio-implicit": dict(image_size=1, latent_dim=32, hidden_features=128, activation="sine", first_w0=3000.0),
    "audio-conv": dict(image_size=1, latent_dim=32, hidden_features=16, activation="elu"),
})
KIND_DEFAULTS["audio-ae"] = KIND_DEFAULTS["audio-conv"]
# Adam's rate per kind: the paper's 1e-4 for implicit GONs; 1e-3 for convolutional and
# variational ones, which converge several times faster than at 1e-4 at CPU budgets
# (docs/design.md); a baseline trains at the rate of the GON kind whose decoder it shares
DEFAULT_LR = {"conv": 1e-3, "variational": 1e-3, "implicit": 1e-4}
DEFAULT_LR.update({kind: DEFAULT_LR[base] for kind, base in BASELINE_KINDS.items()})
DEFAULT_LR.update({kind: DEFAULT_LR[base] for kind, base in AUDIO_KINDS.items()})

STEP_KINDS = GON_KINDS + ("audio-implicit", "audio-conv")  # the kinds that have a gradient-origin step


def paper_inner_scale(kind: str, image_size: int, channels: int) -> float:
    """The fixed inner-loss scale that reproduces the paper's gradients at batch size 64.

    The paper's inner losses, divided by the batch size B, per sample:
      conv:        ((g - x)**2).sum(1).mean()   -> SSE_i / (B * H * W)   (mean over batch and pixels)
      implicit:    ((g - x)**2).sum(1).mean()   -> SSE_i / (B * C)       (sum over coordinates)
      variational: (BCE.sum(1) + KL).mean()     -> ELBO_i / B
    We sum per-sample losses instead and fix B = 64, so latents never depend on the batch.
    """
    if kind == "audio-conv":  # the conv GON's mean over positions: T samples of a clip
        return 1.0 / (PAPER_BATCH_SIZE * image_size)
    kind = AUDIO_KINDS.get(kind, kind)
    if kind == "conv":
        return 1.0 / (PAPER_BATCH_SIZE * image_size * image_size)
    if kind == "implicit":
        return 1.0 / (PAPER_BATCH_SIZE * channels)
    return 1.0 / PAPER_BATCH_SIZE


@dataclass
class ModelConfig:
    """Every knob of a model. Names map to the paper's symbols: latent_dim is k (nz in
    its code), hidden_features is f (ngf) for convolutional decoders and the SIREN width
    for implicit ones, w0 the SIREN frequency, origin the gradient-origin step."""

    kind: str = option("conv", "model kind", flag="model", choices=MODEL_KINDS)
    image_size: int | None = option(None, "image side in pixels (default 32; 28 for implicit)", minimum=1)
    channels: int = option(1, "1 (grey) or 3 (RGB)", choices=(1, 3))
    latent_dim: int | None = option(None, "latent size k (default 32; 48 for variational)", minimum=1)
    hidden_features: int | None = option(None, "base filters (conv) or SIREN width (implicit)", minimum=1)
    num_layers: int = option(4, "SIREN hidden layers", minimum=1, kinds=IMPLICIT_KINDS)
    activation: str | None = option(None, "activation (default elu; sine for implicit)", choices=ACTIVATIONS)
    # GroupNorm by default: per-sample, so a latent never depends on its batch. "batch" is
    # the paper's train-mode BatchNorm, which couples samples (docs/design.md, docs/results.md)
    norm: str = option("group", "normalisation of the conv decoder (and encoder)", choices=NORMS,
                       kinds=tuple(k for k in MODEL_KINDS if k not in IMPLICIT_KINDS))
    w0: float = option(30.0, "SIREN frequency", positive=True, kinds=IMPLICIT_KINDS)
    first_w0: float | None = option(None, "SIREN frequency of the coordinates in the first layer (default w0; "
                                          "3000 for sound, as SIREN's audio fits)", positive=True,
                                    kinds=IMPLICIT_KINDS)
    sample_rate: int = option(DEFAULT_SAMPLE_RATE, "sound: samples per second clips are resampled to", minimum=1,
                              kinds=tuple(AUDIO_KINDS))
    clip_seconds: float = option(DEFAULT_CLIP_SECONDS, "sound: seconds per clip (the start of each recording, padded with silence)",
                                 positive=True, kinds=tuple(AUDIO_KINDS))
    likelihood: str = option("bernoulli", "variational decoder likelihood", choices=LIKELIHOODS,
                             kinds=("variational", "vae"))
    origin: OriginStep = option(help="the gradient-origin step (its fields have their own flags)",
                                factory=OriginStep, kinds=STEP_KINDS)
    coordinate_samples: int | None = option(
        None, "train on N random coordinates per step (Monte Carlo estimate of Eq. 12), not the whole grid",
        minimum=1, kinds=IMPLICIT_KINDS)
    classes: int | None = option(None, "train a GON classifier (Eq. 13) with this many classes", minimum=2)
    reconstruction_weight: float = option(
        0.01, "classifier: weight of the reconstruction loss trained with it (0: classifier alone)", minimum=0)
    train_images: int | None = option(None, "GLO: rows of the code table (default: the number of training images)",
                                      minimum=1, kinds=("glo",))
    latent_lr: float = option(0.1, "GLO: Adam rate of the codes and of encoding", positive=True, kinds=("glo",))
    inference_steps: int = option(200, "GLO: optimisation steps that encode a new image", minimum=1,
                                  kinds=("glo",))

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise GONError(f"unknown model kind {self.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
        for key, value in KIND_DEFAULTS[self.kind].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        check_fields(self)
        if self.num_layers > MAX_LAYERS:
            raise GONError(f"num_layers must be at most {MAX_LAYERS}, got {self.num_layers}")
        if self.kind in AUDIO_KINDS:
            self._check_sound()
        elif self.kind != "implicit" and self.image_size not in CONV_SIZES:
            raise GONError(f"a {self.kind} model needs image_size in {CONV_SIZES}, got {self.image_size}")
        if self.coordinate_samples is not None and self.kind not in IMPLICIT_KINDS:
            raise GONError("coordinate_samples applies to implicit models only")
        if self.classes is not None and self.kind not in ("conv", "implicit"):
            raise GONError(f"GON classifiers are built on conv or implicit models, not {self.kind} ones")
        if self.kind not in STEP_KINDS:
            default = OriginStep()
            # inner_scale aside: runs written before the step was nested stored the paper's for every kind
            changed = [f for f in dataclasses.fields(OriginStep)
                       if f.name != "inner_scale" and getattr(self.origin, f.name) != getattr(default, f.name)]
            if changed:
                raise GONError(f"{changed[0].metadata['flat']} is an option of the gradient-origin step, which a "
                               f"{self.kind} model does not have")
        elif self.origin.inner_scale is None:
            positions = self.clip_samples if self.kind == "audio-conv" else self.image_size
            scale = paper_inner_scale(self.kind, positions, self.channels)
            self.origin = dataclasses.replace(self.origin, inner_scale=scale)

    @property
    def clip_samples(self) -> int:
        """Samples per clip of a sound model: sample_rate x clip_seconds."""
        return clip_samples(self.sample_rate, self.clip_seconds)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) of an image, (C, T) of a sound clip."""
        if self.kind in AUDIO_KINDS:
            return (self.channels, self.clip_samples)
        return (self.channels, self.image_size, self.image_size)

    def _check_sound(self) -> None:
        if self.channels != 1:  # stereo files are mixed down (gon.data.sound)
            raise GONError(f"sound models are mono (channels 1), got channels {self.channels}")
        if self.sample_rate > MAX_SAMPLE_RATE:
            raise GONError(f"sample_rate must be at most {MAX_SAMPLE_RATE} Hz, got {self.sample_rate}")
        if self.clip_samples > MAX_CLIP_SAMPLES:
            raise GONError(f"a clip of {self.clip_seconds:g} s at {self.sample_rate} Hz has {self.clip_samples:,} "
                           f"samples; the limit is {MAX_CLIP_SAMPLES:,}: shorten clip_seconds or lower sample_rate")
        if self.classes is not None:
            raise GONError("GON classifiers are built on image models; sound kinds have none yet")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        """A config from a dict such as `to_dict`'s or config.json's "model"; the step's options
        may be nested under "origin" or flat (inner_steps, ...: flat configs and runs written
        before the step was nested); unknown keys raise GONError."""
        if not isinstance(values, dict):
            raise GONError(f"the model config must be a JSON object (key: value pairs), got {type(values).__name__}")
        values = dict(values)
        origin = values.pop("origin", {})
        if isinstance(origin, OriginStep):
            origin = dataclasses.asdict(origin)
        if not isinstance(origin, dict):
            raise GONError(f"the model config's origin must be a JSON object, got {type(origin).__name__}")
        origin = {**origin, **{name: values.pop(flat) for flat, name in STEP_FLAT.items() if flat in values}}
        config = config_from_dict(cls, values, "model", build=False)
        unknown = sorted(set(origin) - set(STEP_FLAT.values()))
        if unknown:
            raise GONError(f"unknown origin-step key(s): {', '.join(map(repr, unknown))}")
        try:
            step = OriginStep(**origin)
        except TypeError as error:
            raise GONError(f"bad origin-step config: {error}") from None
        return cls(**config, origin=step)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict, defaults resolved (what config.json stores)."""
        return dataclasses.asdict(self)


# flat key (and flag) of each OriginStep field -> the field
STEP_FLAT = {f.metadata["flat"]: f.name for f in dataclasses.fields(OriginStep)}


@dataclass
class TrainConfig:
    """Every knob of a training run (the model's own knobs live in ModelConfig).

    steps or epochs sets the length (steps wins when both are given; 1000 steps when
    neither is). batch_size is the paper's 64. lr (Adam) defaults per model kind
    (`DEFAULT_LR`).
    """

    data: str = option("mnist5k", "data spec")
    steps: int | None = option(None, "training steps (default 1000)", minimum=1)
    epochs: float | None = option(None, "training length in epochs (instead of --steps)", positive=True)
    batch_size: int = option(64, "images per step", minimum=1)
    lr: float | None = option(None, "Adam learning rate (default 1e-3; 1e-4 for implicit)", positive=True)
    seed: int = option(0, "seed of the weights and the batch order (0 to 2**32 - 1)", minimum=0)
    fit: str = option("resize", "how images are fitted to the model's size", choices=FITS)
    limit: int | None = option(None, "use only the first N training images", minimum=1)
    eval_limit: int | None = option(None, "evaluate on only the first N test images", minimum=1)
    log_every: int = option(25, "steps between log lines", minimum=1)
    time_limit: float | None = option(None, "stop training after this many seconds (equal-time comparisons)",
                                      positive=True)
    checkpoint_every: int | None = option(None, "write a resumable checkpoint every N steps", minimum=1)
    keep_checkpoints: int = option(2, "how many checkpoints to keep", minimum=1)
    skip_nonfinite: bool = option(False, "skip batches with a NaN or infinite loss instead of stopping")
    stream: bool = option(False, "keep IDX and folder data out of memory (memory-mapped, decoded per batch)")
    device: str = option("auto", "auto: cuda if available, else mps, else cpu (the saved model is on CPU)",
                         choices=DEVICES)
    precision: str = option("fp32", "fp32; bf16 or fp16 autocast (fp16 on CUDA only, with gradient scaling)",
                            choices=PRECISIONS)
    compile: bool = option(False, "torch.compile the decoder (baselines; GONs need a double backward it cannot do)")
    sync_batchnorm: bool = option(False, "under torchrun: BatchNorm statistics over the global batch "
                                         "(--norm batch, CUDA)")
    tensorboard: bool = option(False, "TensorBoard scalars and images in OUT/tensorboard "
                                      "(pip install '.[tensorboard]')")

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.data:
            raise GONError(f"data must be a data spec string, got {self.data!r}")
        if self.seed >= 2 ** 32:
            raise GONError(f"seed must be an integer from 0 to 2**32 - 1 (numpy's range), got {short(self.seed)}")

    def learning_rate(self, kind: str) -> float:
        """`lr`, or when unset the default Adam rate of the model kind `kind`."""
        return self.lr if self.lr is not None else DEFAULT_LR[kind]

    def total_steps(self, train_size: int) -> int:
        """Training steps on `train_size` images: `steps`, else `epochs` full batches per epoch, else 1000."""
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return max(1, round(self.epochs * (train_size // self.batch_size)))
        return 1000

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """A config from a dict such as config.json's "train"; unknown keys raise GONError."""
        return cls(**config_from_dict(cls, values, "training", build=False))

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict (what config.json's "train" stores)."""
        return dataclasses.asdict(self)


def config_from_dict(cls: type, values: dict[str, Any], what: str, build: bool = True) -> Any:
    """A config dataclass (or, with build=False, its checked keyword arguments) from a dict,
    refusing keys it does not know (typos must not pass silently)."""
    if not isinstance(values, dict):
        raise GONError(f"the {what} config must be a JSON object (key: value pairs), got {type(values).__name__}")
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise GONError(f"unknown {what} config key(s): {', '.join(map(repr, unknown))}")
    return cls(**values) if build else dict(values)


def flat_fields() -> dict[str, tuple[type, dataclasses.Field]]:
    """Every flat config key (and `gon train` flag) -> (the config class, its field): the
    fields of ModelConfig (less `origin`), OriginStep's under their flat names, and TrainConfig's."""
    fields: dict[str, tuple[type, dataclasses.Field]] = {}
    for f in dataclasses.fields(ModelConfig):
        if f.name != "origin":
            fields[f.name] = (ModelConfig, f)
    for f in dataclasses.fields(OriginStep):
        fields[f.metadata["flat"]] = (OriginStep, f)
    for f in dataclasses.fields(TrainConfig):
        fields[f.name] = (TrainConfig, f)
    return fields


def split_flat(values: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A flat dict of config keys -> (model values, train values); unknown keys raise GONError."""
    known = flat_fields()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise GONError(f"{where}: unknown config key(s): {', '.join(unknown)}")
    model = {k: v for k, v in values.items() if known[k][0] is not TrainConfig}
    return model, {k: v for k, v in values.items() if known[k][0] is TrainConfig}


def applicable_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ModelConfig dict that mean something for its kind (and, for the
    classifier weight, for a classifier): what a report should show. Nested step options
    are shown flat."""
    kind = values.get("kind")
    kinds = {f.name: f.metadata.get("kinds") for f in dataclasses.fields(ModelConfig)}
    out = {}
    for key, value in values.items():
        if kinds.get(key) is not None and kind not in kinds[key]:
            continue
        if key == "reconstruction_weight" and values.get("classes") is None:
            continue
        if key == "origin" and isinstance(value, dict):
            out.update({flat: value[name] for flat, name in STEP_FLAT.items() if name in value})
            continue
        out[key] = value
    return out
