"""Training: the loop (loop.py), a run directory around it (run.py, rundir.py), resumable
checkpoints (state.py) and devices and torchrun (distributed.py)."""

from .loop import Interrupted, fit, seed_everything
from .run import Run, default_sampler, resume, sized_for, train

__all__ = ["fit", "seed_everything", "Interrupted", "train", "resume", "Run", "sized_for", "default_sampler"]
