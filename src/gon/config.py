"""Every knob of a model and of a training run, each declared once.

    config = ModelConfig(kind="implicit", latent_dim=256, siren=SirenOptions(w0=30), origin=OriginStep(steps=1))
    train = TrainConfig(data="mnist5k", steps=3000)

A field is a dataclass field with its help text, its allowed values and the model kinds it
means something for in `metadata` (`option` builds it). From that one declaration come
the `gon train` flags and their help (gon/cli/parser.py), the keys of a flat `--config`
file, validation (`check_fields`: one typed path for every config) and the fields a run
report shows (`applicable_fields`).

The options of some model kinds only are small dataclasses nested in ModelConfig, a group each,
declared beside what reads them: the decoders' (`ConvOptions`, `SirenOptions`,
`ModulationOptions`: gon/decoders.py), the gradient-origin step (`OriginStep`: gon/origin.py),
and those models read (`VariationalOptions`, `MonteCarloOptions`, `ClassifierOptions`,
`GLOOptions`: here, below the models). A kind's spec names the groups it takes. Each signal's
settings (gon/signals) are nested the same way, under the signal's name; they apply to models of
that signal only. Every nested field keeps the flat key and flag the command line always had
(`--norm`, `norm`; `--inner-steps`, `inner_steps`; `--sample-rate`, `sample_rate`): flat files,
the flags and config.json written before the nesting load through them (`ModelConfig.from_dict`),
and config.json is now written nested (`ModelConfig.to_dict`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from .data.images import FITS
from .decoders import ACTIVATIONS, ConvOptions, ModulationOptions, SirenOptions
from .errors import GONError
from .fields import MAX_SEED, changed_fields, check_fields, default_of, flat_name, option, short
from .kinds import DEFAULT_BATCH_SIZE, kind_spec, kinds
from .losses import LIKELIHOODS
from .origin import PAPER, OriginStep, recorded_step
from .signals import SIGNALS, signal_named, signal_of
from .signals.sound import SoundSettings
from .signals.video import VideoSettings

PAPER_BATCH_SIZE = 64
# the largest Adam rate: rates near float32's range (3e38) overflow in the update itself,
# before the divergence guard can name the step; any rate above 1 diverges at once on these
# models, so the bound only keeps the failure the guard's (measured rates are 1e-4 to 1e-3)
MAX_LR = 1e30
# steps, epochs x steps per epoch, and a checkpoint's step counter stay far below 2^62
MAX_STEPS = 1 << 40
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine")

logger = logging.getLogger("gon")


# The paper's inner losses, divided by the batch size B, per sample, as rules a kind's spec
# names (`KindSpec.paper_scale`): (image_size, channels) -> inner_scale at B = 64.
def per_pixel_scale(image_size: int, channels: int) -> float:
    """conv: ((g - x)**2).sum(1).mean() -> SSE_i / (B * H * W) (a mean over batch and pixels)."""
    return 1.0 / (PAPER_BATCH_SIZE * image_size * image_size)


def per_position_scale(positions: int, channels: int) -> float:
    """1-D conv: the conv GON's mean over positions, SSE_i / (B * T) for T samples."""
    return 1.0 / (PAPER_BATCH_SIZE * positions)


def per_channel_scale(image_size: int, channels: int) -> float:
    """implicit: ((g - x)**2).sum(1).mean() -> SSE_i / (B * C) (a sum over coordinates)."""
    return 1.0 / (PAPER_BATCH_SIZE * channels)


def per_sample_scale(image_size: int, channels: int) -> float:
    """variational: (BCE.sum(1) + KL).mean() -> ELBO_i / B."""
    return 1.0 / PAPER_BATCH_SIZE


def paper_inner_scale(kind: str, image_size: int, channels: int) -> float:
    """The fixed inner-loss scale that reproduces the paper's gradients at batch size 64
    (`inner_scale="paper"`; no longer the default: see docs/results.md, "The inner-loss scale").

    The paper's inner losses, divided by the batch size B, per sample:
      conv:        ((g - x)**2).sum(1).mean()   -> SSE_i / (B * H * W)   (mean over batch and pixels)
      implicit:    ((g - x)**2).sum(1).mean()   -> SSE_i / (B * C)       (sum over coordinates)
      variational: (BCE.sum(1) + KL).mean()     -> ELBO_i / B
    We sum per-sample losses instead and fix B = 64, so latents never depend on the batch.
    Each kind's spec names its rule (`KindSpec.paper_scale`).
    """
    rule = kind_spec(kind).paper_scale
    return (rule or per_sample_scale)(image_size, channels)


def __getattr__(name: str) -> Any:
    # the kind names, read from the registry (gon/kinds.py) when asked: kinds register as
    # gon.models is imported, after this module
    if name == "MODEL_KINDS":
        return tuple(kinds())
    if name in ("GON_KINDS", "STEP_KINDS"):
        return tuple(k for k, spec in kinds().items() if spec.origin_step)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The groups of options that only some model kinds read, beside those the decoders read
# (gon/decoders.py: ConvOptions, SirenOptions, ModulationOptions): these are read by models, which
# sit above this module, so they are declared here.
@dataclass(frozen=True)
class VariationalOptions:
    """The likelihood p(x | z) of a variational model (ModelConfig.variational: the variational GON
    and the VAE)."""

    likelihood: str = option("bernoulli", "variational decoder likelihood", choices=LIKELIHOODS)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class MonteCarloOptions:
    """Monte Carlo integration of an implicit GON's losses over its coordinates
    (ModelConfig.monte_carlo; docs/design.md, "Monte Carlo coordinates")."""

    coordinate_samples: int | None = option(
        None,
        "train on N random coordinates per step (Monte Carlo estimate of Eq. 12), not the whole grid",
        minimum=1,
    )

    def __post_init__(self) -> None:
        check_fields(self)


DEFAULT_RECONSTRUCTION_WEIGHT = 0.01


@dataclass(frozen=True)
class ClassifierOptions:
    """A GON classifier (Eq. 13): a linear head on the latent, trained with the reconstruction
    (ModelConfig.classifier: the kinds that may be one). Unset classes: no classifier."""

    classes: int | None = option(None, "train a GON classifier (Eq. 13) with this many classes", minimum=2)
    reconstruction_weight: float = option(
        DEFAULT_RECONSTRUCTION_WEIGHT,
        "classifier: weight of the reconstruction loss trained with it (0: classifier alone)",
        minimum=0,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.reconstruction_weight != DEFAULT_RECONSTRUCTION_WEIGHT and self.classes is None:
            raise GONError("reconstruction_weight applies to classifiers only: give classes as well")


@dataclass(frozen=True)
class GLOOptions:
    """GLO's code table and how it encodes an image it has no code for (ModelConfig.glo)."""

    train_images: int | None = option(
        None, "GLO: rows of the code table (default: the number of training images)", minimum=1
    )
    latent_lr: float = option(0.1, "GLO: Adam rate of the codes and of encoding", positive=True, maximum=MAX_LR)
    inference_steps: int = option(200, "GLO: optimisation steps that encode a new image", minimum=1)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class ModelConfig:
    """Every knob of a model. Names map to the paper's symbols: latent_dim is k (nz in
    its code), hidden_features is f (ngf) for convolutional decoders and the SIREN width
    for implicit ones, siren.w0 the SIREN frequency, origin the gradient-origin step.

    The options of some kinds only are nested, a group each (`conv`, `siren`, `variational`,
    `origin`, `monte_carlo`, `modulation`, `classifier`, `glo`); a kind's spec names the groups
    it takes, and a group it does not take must keep its defaults:

        ModelConfig(kind="implicit", siren=SirenOptions(num_layers=3), monte_carlo=MonteCarloOptions(1024))

    `from_dict` also takes every nested field under its flat key (`{"kind": "implicit",
    "num_layers": 3}`), as `--config` files, the flags and config.json written before the
    groups were nested give them.
    """

    kind: str = option("conv", "model kind", flag="model", choices=lambda: tuple(kinds()))
    signal: str | None = option(
        None,
        "what the model's examples are (default: the training data's, else the kind's first)",
        choices=lambda: tuple(SIGNALS),
    )
    image_size: int | None = option(
        None, "image side in pixels (default: the model kind's, 32 for conv, 28 for implicit and modulated)", minimum=1
    )
    channels: int = option(1, "1 (grey) or 3 (RGB)", choices=(1, 3))
    latent_dim: int | None = option(
        None, "latent size k (default 32; 48 for variational; per tile for tiled models)", minimum=1
    )
    hidden_features: int | None = option(None, "base filters (conv) or SIREN width (implicit)", minimum=1)
    activation: str | None = option(None, "activation (default elu; sine for implicit)", choices=ACTIVATIONS)
    # the groups of options of some kinds only (KindSpec.options names those a kind takes)
    conv: ConvOptions = option(
        help="the convolutional decoders (their fields have their own flags)", factory=ConvOptions, per_kind=True
    )
    siren: SirenOptions = option(
        help="the SIREN of implicit and modulated models (its fields have their own flags)",
        factory=SirenOptions,
        per_kind=True,
    )
    variational: VariationalOptions = option(
        help="variational models' likelihood (its field has its own flag)", factory=VariationalOptions, per_kind=True
    )
    origin: OriginStep = option(
        help="the gradient-origin step (its fields have their own flags)", factory=OriginStep, per_kind=True
    )
    monte_carlo: MonteCarloOptions = option(
        help="implicit GONs' coordinates per step (its field has its own flag)",
        factory=MonteCarloOptions,
        per_kind=True,
    )
    modulation: ModulationOptions = option(
        help="modulated models' tiles and basis (their fields have their own flags)",
        factory=ModulationOptions,
        per_kind=True,
    )
    classifier: ClassifierOptions = option(
        help="a GON classifier (its fields have their own flags)", factory=ClassifierOptions, per_kind=True
    )
    glo: GLOOptions = option(help="GLO's codes (their fields have their own flags)", factory=GLOOptions, per_kind=True)
    # each signal's settings, under its name (gon/signals): they apply to models of that signal
    sound: SoundSettings = option(help="audio clips (their fields have their own flags)", factory=SoundSettings)
    video: VideoSettings = option(help="video clips (their fields have their own flags)", factory=VideoSettings)

    def __post_init__(self) -> None:
        spec = kind_spec(self.kind)
        unknown = [name for name in spec.options if name not in OPTION_GROUPS]
        if unknown:
            raise GONError(
                f"model kind {self.kind!r} takes options of no group named {', '.join(map(repr, unknown))}: "
                f"a spec names groups of ModelConfig ({', '.join(OPTION_GROUPS)})"
            )
        given_image_size = self.image_size
        for key, value in spec.defaults.items():
            if self.value(key) is None:
                self._set(key, value)
        if self.classifier.classes is not None and "classifier" not in spec.options:
            bases = " or ".join(k for k, other in kinds().items() if "classifier" in other.options)
            raise GONError(f"GON classifiers are built on {bases} models, not {self.kind} ones")
        # the step has its own check below: its options are named by their flags
        check_fields(self, self.kind, spec.options + ("origin",))
        self._check_signal(spec)
        if not signal_of(self).image_sized:
            # an image side means nothing to another signal's model: refused when given, not recorded
            # (runs written before recorded the kind's default, 1 for sound kinds, and still load)
            if given_image_size not in (None, 1, spec.defaults.get("image_size")):
                raise GONError(
                    f"image_size applies to image models, not to this {self.kind} model of {signal_of(self).name} "
                    f"data: its size is {signal_of(self).size_options}"
                )
            self.image_size = None
        if spec.image_sizes is not None and self.image_size not in spec.image_sizes:
            raise GONError(f"a {self.kind} model needs image_size in {spec.image_sizes}, got {self.image_size}")
        if not spec.origin_step:
            # inner_scale aside: runs written before the step was nested stored the paper's for every kind
            changed = [
                (flat, value) for flat, value in changed_fields(self.origin, OriginStep()) if flat != "inner_scale"
            ]
            if changed:
                raise GONError(
                    f"{changed[0][0]} is an option of the gradient-origin step, which a {self.kind} model does not have"
                )
        else:
            self.origin = self.origin.resolved(spec.step_sizes)
        if spec.origin_step and self.origin.inner_scale == PAPER:
            self.origin = dataclasses.replace(
                self.origin, inner_scale=paper_inner_scale(self.kind, signal_of(self).side(self), self.channels)
            )

    def value(self, key: str) -> Any:
        """The value of the field whose flat key (and flag) is `key`: `value("num_layers")` is
        `siren.num_layers`, `value("latent_dim")` is `latent_dim`."""
        if key in NESTED_FLAT:
            name, inner = NESTED_FLAT[key]
            return getattr(getattr(self, name), inner)
        return getattr(self, key)

    def _set(self, key: str, value: Any) -> None:
        if key in NESTED_FLAT:
            name, inner = NESTED_FLAT[key]
            setattr(self, name, dataclasses.replace(getattr(self, name), **{inner: value}))
        else:
            setattr(self, key, value)

    def replaced(self, **values: Any) -> ModelConfig:
        """This config with the fields named by their flat keys changed and checked again:
        `replaced(train_images=128)` sets `glo.train_images`."""
        return ModelConfig.from_dict({**self.to_dict(), **values})

    @property
    def data_shape(self) -> tuple[int, ...]:
        """One example's shape, as the model's signal says: (C, H, W) of an image, (C, T) of a clip, ..."""
        return signal_of(self).shape(self)

    def _check_signal(self, spec: Any) -> None:
        """The signal named, if any, is one the kind takes; settings of other signals are unset."""
        if self.signal is not None and not spec.accepts(signal_named(self.signal)):
            raise GONError(f"a {self.kind} model takes {' or '.join(spec.signals)} data, not {self.signal}")
        signal = signal_of(self)
        for name in NESTED_SIGNALS:
            changed = changed_fields(getattr(self, name), NESTED[name]())
            if name != signal.name and changed:
                hint = f"; give signal={name!r} for a {name} model" if spec.accepts(signal_named(name)) else ""
                raise GONError(
                    f"{changed[0][0]} does not apply to {signal.name} models (a {self.kind} model of "
                    f"{signal.name} data){hint}"
                )
        signal.check_config(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], recorded: bool = False) -> ModelConfig:
        """A config from a dict such as `to_dict`'s or config.json's "model"; the fields of each
        nested config (a group of options, the step, a signal's settings) may be nested under its
        name or flat, under their flat keys (`num_layers`, `inner_steps`, ...: flat configs, the
        flags, and runs written before they were nested); unknown keys raise GONError, and so do
        options that do not apply to the kind, unless `recorded`: a run written before they were
        refused recorded them, and loads with them ignored (one notice)."""
        if not isinstance(values, dict):
            raise GONError(f"the model config must be a JSON object (key: value pairs), got {type(values).__name__}")
        values, nested = _nested(values)
        config = config_from_dict(cls, values, "model", build=False)
        if recorded:
            nested = _without_inapplicable(config, nested)
            spec = kinds().get(config.get("kind", _FIELDS["kind"].default))
            if spec is not None and spec.origin_step:
                nested["origin"] = recorded_step(nested["origin"])
        built = {}
        for name, settings in NESTED.items():
            what = "origin-step" if name == "origin" else name
            unknown = sorted(set(nested[name]) - {f.name for f in dataclasses.fields(settings)})
            if unknown:
                raise GONError(f"unknown {what} key(s): {', '.join(map(repr, unknown))}")
            try:
                built[name] = settings(**nested[name])
            except TypeError as error:
                raise GONError(f"bad {what} config: {error}") from None
        return cls(**config, **built)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict, defaults resolved, each nested config under its name
        (what config.json stores)."""
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(ModelConfig)}


def _nested(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A model config dict -> (its other keys, each nested config's fields by name): those given
    under the nested config's name (a dict, or the dataclass itself) and those given flat, under
    their flat keys, which win."""
    values = dict(values)
    nested = {}
    for name, settings in NESTED.items():
        given = values.pop(name, {})
        if isinstance(given, settings):
            given = dataclasses.asdict(given)
        if not isinstance(given, dict):
            raise GONError(f"the model config's {name} must be a JSON object, got {type(given).__name__}")
        nested[name] = {
            **given,
            **{
                inner: values.pop(flat)
                for flat, (where, inner) in NESTED_FLAT.items()
                if where == name and flat in values
            },
        }
    return values, nested


def _applies(name: str, spec: Any, signal: str | None) -> bool:
    """Whether the nested config `name` means something for a model of kind `spec` (a KindSpec,
    or None for an unknown kind) and `signal`: a signal's settings for that signal, the step for
    kinds that have one, a group of options for the kinds that take it."""
    if name in NESTED_SIGNALS:
        return name == signal
    if name == "origin":
        return spec is not None and spec.origin_step
    return spec is not None and name in spec.options


def _without_inapplicable(values: dict[str, Any], nested: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`nested` less what runs written before it was refused recorded for models it does not
    apply to: the groups of options the kind does not take, the settings of other signals and a
    classifier weight without classes (a notice names those that were set)."""
    spec = kinds().get(values.get("kind", _FIELDS["kind"].default))
    if spec is None or (values.get("signal") is not None and values["signal"] not in SIGNALS):
        return nested  # the unknown kind or signal is the error ModelConfig reports
    signal = values.get("signal") or spec.signals[0]
    out = dict(nested)
    ignored: dict[str | None, list[str]] = {}  # by the signal they belong to (None: by kind)
    for name, settings in NESTED.items():
        if name == "origin" or _applies(name, spec, signal):
            continue
        for f in dataclasses.fields(settings):
            if f.name in nested[name] and nested[name][f.name] != default_of(f):
                where = name if name in NESTED_SIGNALS else None
                ignored.setdefault(where, []).append(f"{flat_name(f)}={nested[name][f.name]!r}")
        out[name] = {}
    classifier = nested["classifier"]
    if _applies("classifier", spec, signal) and classifier.get("classes") is None:
        weight = classifier.get("reconstruction_weight", DEFAULT_RECONSTRUCTION_WEIGHT)
        if weight != DEFAULT_RECONSTRUCTION_WEIGHT:
            ignored.setdefault(None, []).append(f"reconstruction_weight={weight!r}")
        out["classifier"] = {k: v for k, v in classifier.items() if k != "reconstruction_weight"}
    for where, options in ignored.items():
        if where is None:
            logger.warning(
                "this %s run recorded option(s) that do not apply to its kind, ignored: %s",
                spec.name,
                ", ".join(sorted(options)),
            )
        else:
            logger.warning(
                "this %s run recorded option(s) of %s models, ignored: %s", spec.name, where, ", ".join(sorted(options))
            )
    return out


# the configs nested in ModelConfig (the groups of options, the step, each signal's settings):
# field name -> dataclass
NESTED: dict[str, type] = {
    f.name: f.default_factory for f in dataclasses.fields(ModelConfig) if f.default_factory is not dataclasses.MISSING
}
# the groups of options of some kinds only, which a KindSpec names (the step aside: `origin_step`)
OPTION_GROUPS = tuple(name for name in NESTED if _FIELDS[name].metadata["per_kind"] and name != "origin")
# those that are a signal's settings, under the signal's name
NESTED_SIGNALS = tuple(name for name in NESTED if name in SIGNALS and SIGNALS[name].settings is NESTED[name])
# flat key (and flag) of each nested field -> (the nested config's name in ModelConfig, the field)
NESTED_FLAT = {flat_name(f): (name, f.name) for name, cls in NESTED.items() for f in dataclasses.fields(cls)}
# flat key (and flag) of each OriginStep field -> the field
STEP_FLAT = {flat: inner for flat, (name, inner) in NESTED_FLAT.items() if name == "origin"}


@dataclass
class TrainConfig:
    """Every knob of a training run (the model's own knobs live in ModelConfig).

    steps or epochs sets the length (steps wins when both are given; 1000 steps when
    neither is). batch_size (the paper's 64 for most kinds), lr (Adam) and lr_schedule default
    per model kind (`KindSpec`); `train` and `prepare_run` resolve them, `fit` takes 64, its own
    default rate and a constant schedule for those left unset.
    """

    data: str = option("mnist5k", "data spec")
    steps: int | None = option(None, "training steps (default 1000)", minimum=1, maximum=MAX_STEPS)
    epochs: float | None = option(
        None, "training length in epochs (instead of --steps)", positive=True, maximum=MAX_STEPS
    )
    batch_size: int | None = option(
        None, f"examples per step (default: the model kind's, {DEFAULT_BATCH_SIZE} but for audio-modulated)", minimum=1
    )
    lr: float | None = option(
        None,
        "Adam learning rate (default: the model kind's, 1e-3 for conv, 1e-4 for implicit, 3e-4 for modulated)",
        positive=True,
        maximum=MAX_LR,
    )
    lr_schedule: str | None = option(
        None,
        "the rate over the run: 'constant', or 'cosine' (from lr down to 0 at the "
        "last step) (default: the model kind's; cosine for modulated)",
        choices=LR_SCHEDULES,
    )
    seed: int = option(0, "seed of the weights and the batch order (0 to 2**32 - 1)", minimum=0)
    fit: str = option("resize", "how images are fitted to the model's size", choices=FITS)
    limit: int | None = option(None, "use only the first N training images", minimum=1)
    eval_limit: int | None = option(None, "evaluate on only the first N test images", minimum=1)
    log_every: int = option(25, "steps between log lines", minimum=1)
    time_limit: float | None = option(
        None, "stop training after this many seconds (equal-time comparisons)", positive=True
    )
    checkpoint_every: int | None = option(None, "write a resumable checkpoint every N steps", minimum=1)
    keep_checkpoints: int = option(2, "how many checkpoints to keep", minimum=1)
    skip_nonfinite: bool = option(False, "skip batches with a NaN or infinite loss instead of stopping")
    stream: bool = option(False, "keep IDX and folder data out of memory (memory-mapped, decoded per batch)")
    device: str = option(
        "auto", "auto: cuda if available, else mps, else cpu (the saved model is on CPU)", choices=DEVICES
    )
    precision: str = option(
        "fp32", "fp32; bf16 or fp16 autocast (fp16 on CUDA only, with gradient scaling)", choices=PRECISIONS
    )
    compile: bool = option(False, "torch.compile the decoder (baselines; GONs need a double backward it cannot do)")
    sync_batchnorm: bool = option(
        False, "under torchrun: BatchNorm statistics over the global batch (--norm batch, CUDA)"
    )
    tensorboard: bool = option(
        False, "TensorBoard scalars and images in OUT/tensorboard (pip install '.[tensorboard]')"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.data:
            raise GONError(f"data must be a data spec string, got {self.data!r}")
        if self.seed > MAX_SEED:
            raise GONError(f"seed must be an integer from 0 to 2**32 - 1 (numpy's range), got {short(self.seed)}")

    def learning_rate(self, kind: str) -> float:
        """`lr`, or when unset the default Adam rate of the model kind `kind`."""
        return self.lr if self.lr is not None else kind_spec(kind).lr

    def batch(self, kind: str | None) -> int:
        """`batch_size`, or when unset the model kind `kind`'s (DEFAULT_BATCH_SIZE for None)."""
        if self.batch_size is not None:
            return self.batch_size
        return DEFAULT_BATCH_SIZE if kind is None else kind_spec(kind).batch_size

    def schedule(self, kind: str) -> str:
        """`lr_schedule`, or when unset the model kind `kind`'s."""
        return self.lr_schedule if self.lr_schedule is not None else kind_spec(kind).lr_schedule

    def total_steps(self, train_size: int) -> int:
        """Training steps on `train_size` images: `steps`, else `epochs` full batches per epoch, else 1000."""
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            per_epoch = train_size // self.batch(None)
            steps = max(1, round(self.epochs * per_epoch))
            if steps > MAX_STEPS:
                raise GONError(
                    f"{self.epochs:g} epochs of {per_epoch} steps are {steps:.3g} "
                    f"steps, over the limit of {MAX_STEPS:,}"
                )
            return steps
        return 1000

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
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
    fields of ModelConfig, those of its nested configs (the groups of options, OriginStep, the
    signals' settings) under their flat names, and TrainConfig's."""
    fields: dict[str, tuple[type, dataclasses.Field]] = {}
    for f in dataclasses.fields(ModelConfig):
        if f.name in NESTED:
            for inner in dataclasses.fields(NESTED[f.name]):
                fields[flat_name(inner)] = (NESTED[f.name], inner)
        else:
            fields[f.name] = (ModelConfig, f)
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
    """The fields of a ModelConfig dict (nested, or flat as older runs wrote it) that mean
    something for its kind (and, for the classifier weight, for a classifier; for a signal's
    settings, for its signal): what a run's report shows. Nested fields are shown flat."""
    spec = kinds().get(values.get("kind"))
    signal = values.get("signal") or (spec.signals[0] if spec is not None else None)
    out = {}
    for key, value in values.items():
        group = key if key in NESTED else NESTED_FLAT.get(key, (None, None))[0]
        if group is not None and not _applies(group, spec, signal):
            continue
        if key in NESTED and isinstance(value, dict):
            out.update(
                {flat: value[inner] for flat, (name, inner) in NESTED_FLAT.items() if name == key and inner in value}
            )
            continue
        out[key] = value
    if out.get("classes") is None:
        out.pop("reconstruction_weight", None)
    return out
