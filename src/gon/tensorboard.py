"""TensorBoard logs of a run, in RUN/tensorboard beside metrics.jsonl (`--tensorboard`).

Scalars: train/loss and train/steps_per_s at every logged step, eval/<metric> at the last
step; images: the run's reconstructions and samples grids at the last step.

    tensorboard --logdir runs/
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .errors import GONError
from .layout import RunLayout

EXTRA = "pip install 'gradient-origin-networks[tensorboard]'"
IMAGES = (RunLayout.RECONSTRUCTIONS, RunLayout.SAMPLES)


class TensorBoardLog:
    """A SummaryWriter for one run. `purge_step` (on resume) drops the events a killed run
    wrote after its last checkpoint, so the curves continue without a doubled stretch."""

    def __init__(self, directory: str | Path, purge_step: int | None = None) -> None:
        require()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(directory), purge_step=purge_step)

    def log(self, record: dict[str, Any]) -> None:
        """One record of the training history (as in metrics.jsonl)."""
        for key in ("loss", "steps_per_s"):
            self.writer.add_scalar(f"train/{key}", record[key], record["step"])

    def finish(self, step: int, metrics: dict[str, Any], run_directory: Path) -> None:
        """The evaluation metrics, and the run's figure grids read back from its PNGs."""
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"eval/{key}", value, step)
        for file in IMAGES:
            path = run_directory / file
            if path.is_file():
                with Image.open(path) as image:
                    self.writer.add_image(Path(file).stem, np.asarray(image.convert("RGB")), step, dataformats="HWC")
        self.close()

    def close(self) -> None:
        self.writer.close()


def require() -> None:
    """GONError naming the extra to install when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise GONError(f"--tensorboard needs the tensorboard package: {EXTRA}") from None
