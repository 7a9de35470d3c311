"""Every path of a run directory, in one place.

    layout = RunLayout(Path("runs/conv"))
    layout.config, layout.weights, layout.metrics     runs/conv/config.json, ...
    layout.work                                       runs/.conv.partial (a RunLayout: the run being built)
    layout.checkpoint(300).state                      runs/.conv.partial/checkpoints/step-00000300/state.json

A run is built in its hidden work folder beside it (which also holds the checkpoints and
run.json, the run's marker and what `--resume` rebuilds the run from) and renamed into
place when complete; the lock file beside it holds the writer's lock, and the aside folder
the replaced run for the instant of an --overwrite (gon/training/rundir.py, which creates
these names exclusively and never follows them). A checkpoint
folder is laid out like a run: its weights are `weights`, beside `optimizer` and `state`.
Every module that reads or writes a run names its files through this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    CONFIG = "config.json"
    WEIGHTS = "model.safetensors"
    METRICS = "metrics.jsonl"
    SAMPLER = "sampler.safetensors"
    # the run's marker (format, model and train configs), in the work folder from the first
    # checkpoint on and kept in the finished run: what --resume rebuilds an unfinished run
    # from, and what tells a run of gon's from any other folder (--overwrite replaces no other)
    MARKER = "run.json"
    OPTIMIZER = "optimizer.safetensors"  # a checkpoint's optimizer state, RNG states and data order
    STATE = "state.json"  # a checkpoint's counters, history and optimizer settings
    CHECKPOINTS = "checkpoints"
    TENSORBOARD = "tensorboard"
    REPORT = "report.html"
    # the figures `train` writes, in the order a report shows them
    LOSS_PLOT, RECONSTRUCTIONS, SAMPLES, INTERPOLATIONS = (
        "loss.png",
        "reconstructions.png",
        "samples.png",
        "interpolations.png",
    )
    LATENTS_PLOT = "latents.png"
    ENCODER = "encoder.safetensors"
    DECODER_ONNX, ENCODER_ONNX = "decoder.onnx", "encoder.onnx"
    # what a finished run holds, figures aside: metrics.jsonl is written last of them
    ESSENTIALS = (CONFIG, WEIGHTS, METRICS)
    # what a run directory written before the marker could hold (patterns): gon train's files
    # and those of the commands that write into a run by default; a folder with anything
    # else is not a run of gon's, and is never replaced
    LEGACY_NAMES = (
        CONFIG,
        WEIGHTS,
        METRICS,
        "*.png",
        "sampler*.safetensors",
        "latents.safetensors",
        ENCODER,
        "*.onnx",
        REPORT,
        TENSORBOARD,
    )

    def __truediv__(self, name: str) -> Path:
        return self.root / name

    @property
    def config(self) -> Path:
        return self.root / self.CONFIG

    @property
    def weights(self) -> Path:
        return self.root / self.WEIGHTS

    @property
    def metrics(self) -> Path:
        return self.root / self.METRICS

    @property
    def sampler(self) -> Path:
        return self.root / self.SAMPLER

    @property
    def marker(self) -> Path:
        return self.root / self.MARKER

    @property
    def optimizer(self) -> Path:
        return self.root / self.OPTIMIZER

    @property
    def state(self) -> Path:
        return self.root / self.STATE

    @property
    def tensorboard(self) -> Path:
        return self.root / self.TENSORBOARD

    @property
    def checkpoints(self) -> Path:
        return self.root / self.CHECKPOINTS

    def checkpoint(self, step: int) -> RunLayout:
        """The checkpoint folder of step `step`."""
        return RunLayout(self.checkpoints / f"step-{step:08d}")

    def checkpoint_folders(self) -> list[Path]:
        """The checkpoint folders, oldest first (the names sort by step)."""
        return sorted(self.checkpoints.glob("step-*"))

    # beside the run: hidden siblings that share its name
    @property
    def work(self) -> RunLayout:
        """Where the run is built before it is renamed into place; also where its checkpoints live."""
        return RunLayout(self._sibling("partial"))

    @property
    def lock(self) -> Path:
        return self._sibling("lock")

    @property
    def aside(self) -> Path:
        """Where an old run waits while a new one replaces it."""
        return self._sibling("old")

    def _sibling(self, what: str) -> Path:
        return self.root.parent / f".{self.root.name}.{what}"

    def is_complete(self) -> bool:
        """Whether the folder holds a finished run, figures aside."""
        return all((self.root / name).is_file() for name in self.ESSENTIALS)
