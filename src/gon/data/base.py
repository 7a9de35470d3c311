"""`Data`: the one Dataset contract of every data source, whatever its signal.

A split of a data set has a `name`, optional int64 `labels` (N,), and N examples:

* `len(data)` is N; `data.shape` is one example's shape ((C, H, W) of an image, (C, T) of a clip);
* `data.batch(index)` is examples `index` (an int, a slice, a list or a tensor of ints) as
  float32, the fast path the library's loop uses;
* `data[i]` is one example, or `(example, label)` where the source has labels; a slice, a
  list or a tensor of indices gives a batch (with labels (N,)), so `DataLoader(data,
  batch_size=64, shuffle=True)` works as for any torch data set;
* `data.subset(rows, name)` is the examples `rows` (a slice or indices) as a data set of the same kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import IndexKindError

Index = int | slice | torch.Tensor | list[int]


class Data(Dataset):
    """Base class of ImageData, SoundData and any source's own data set: a subclass has
    `name` and `labels` and defines `__len__`, `shape`, `batch` and `subset`."""

    name: str
    labels: torch.Tensor | None
    item = "examples"  # what an example is called in messages: "images", "clips"

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        """One example's shape."""
        raise NotImplementedError

    def batch(self, index: Index) -> torch.Tensor:
        """Examples `index` as float32."""
        raise NotImplementedError

    def subset(self, rows: slice | torch.Tensor | list[int], name: str) -> Data:
        """Examples `rows` as a data set of the same kind, named `name`."""
        raise NotImplementedError

    def __getitem__(self, index: Index) -> torch.Tensor | tuple[torch.Tensor, Any]:
        index, single = checked_index(index, len(self), self.name, self.item)
        examples = self.batch(index)
        if self.labels is None:
            return examples
        labels = self.labels[index]
        return examples, (int(labels) if single else labels)


def checked_index(index: Any, length: int, name: str, what: str) -> tuple[Any, bool]:
    """(index, whether it names one item) for `data[index]` of a data set of `length` items (`what`):
    an int in range, a slice, or a list or tensor of ints. IndexKindError (a GONError and a
    TypeError) for anything else (1.5, None, a string), IndexError naming the set out of range."""
    integers = isinstance(index, torch.Tensor) and not index.is_floating_point() and index.dtype != torch.bool
    if isinstance(index, list):
        integers = all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index)
    if not (
        integers or isinstance(index, slice) or (isinstance(index, (int, np.integer)) and not isinstance(index, bool))
    ):
        raise IndexKindError(
            f"{name}: index with an int, a slice, or a list or tensor of ints, not {type(index).__name__}"
        )
    single = isinstance(index, (int, np.integer)) or (isinstance(index, torch.Tensor) and index.ndim == 0)
    if single:
        index = int(index)
        if not -length <= index < length:
            raise IndexError(f"{name}: index {index} out of range for {length} {what}")
    return index, single
