"""Training: the loop (loop.py), what every run does before it (prepare.py), a run
directory around it (run.py, rundir.py), resumable checkpoints (state.py) and devices and
torchrun (distributed.py)."""

from .loop import Interrupted, fit, seed_everything
from .prepare import data_for_model, data_for_run, prepare_run, sized_for
from .run import Run, default_sampler, resume, train

__all__ = [
    "fit",
    "seed_everything",
    "Interrupted",
    "prepare_run",
    "train",
    "resume",
    "Run",
    "sized_for",
    "default_sampler",
    "data_for_model",
    "data_for_run",
]
