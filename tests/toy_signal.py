"""A signal and a data source that are no part of the library, registered on import: ``waves``,
sequences (1, 64) of sine waves with amplitudes up to 2, so their values lie in [-2, 2]; their
own metric, the largest error of a sequence; written as a picture (one sequence a row of grey
levels) and a CSV file of the values beside it. Importing this module is all it takes for a
model of any kind that takes 1-D signals to train on them from the command line."""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gon.data import Data, DataRequest, DataSource, register_source
from gon.errors import GONError
from gon.signals import Signal, register_signal
from gon.viz import image_grid

LENGTH, LOW, HIGH = 64, -2.0, 2.0


@dataclass
class Waves(Data):
    item = "waves"

    values: torch.Tensor
    labels: torch.Tensor | None
    name: str

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape[1:])

    def batch(self, index):
        return self.values[index]

    def subset(self, rows, name: str) -> "Waves":
        return Waves(self.values[rows], None, name)


def load_waves(request: DataRequest) -> Waves:
    count = int(request.argument or "64")
    generator = torch.Generator().manual_seed(0 if request.split == "train" else 1)
    amplitude = 0.5 + 1.5 * torch.rand(count, 1, 1, generator=generator)
    cycles = 1 + 3 * torch.rand(count, 1, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(count, 1, 1, generator=generator)
    t = torch.linspace(0, 1, LENGTH).view(1, 1, LENGTH)
    values = amplitude * torch.sin(2 * math.pi * cycles * t + phase)
    return Waves(values[: request.limit], None, request.name)


class WaveSignal(Signal):
    name = "waves"
    value_range = (LOW, HIGH)
    coordinate_dim = 1
    item = "waves"
    integers = False
    shown, samples, sample_columns, pairs, steps = 4, 4, 4, 2, 3
    row_metrics = ("max_error",)

    def shape(self, config):
        return (config.channels, LENGTH)

    def check_config(self, config):
        if config.channels != 1:
            raise GONError("waves have one channel")

    def metrics(self, x, sse, reconstruct):
        return {"max_error": (reconstruct() - x).abs().flatten(1).amax(1)}

    def metric_lines(self, metrics):
        return [f"  largest error: {metrics['max_error']:.4f}"]

    def files(self, path):
        return [Path(path), Path(path).with_suffix(".csv")]

    def write_examples(self, examples, path, config, columns=None, rendering=None, titles=None, labels=None):
        picture, table = self.files(path)
        rows = (examples.detach().cpu() - LOW) / (HIGH - LOW)  # a wave a row of grey levels
        image_grid(rows.unsqueeze(1), 1).save(picture)
        np.savetxt(table, examples.detach().cpu().flatten(1).numpy(), delimiter=",")
        return [picture, table]

    def write_pairs(self, originals, reconstructions, path, config):
        return self.write_examples(torch.stack([originals, reconstructions], 1).flatten(0, 1), path, config)


WAVES = register_signal(WaveSignal())
SOURCE = register_source(
    DataSource("waves", "waves", load_waves, "waves[:N] (N sine waves of amplitude up to 2)", channels=(1,))
)
