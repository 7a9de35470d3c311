"""Tiles: one latent per tile of a signal (COIN++'s patches), each tile on its own local coordinates.

A signal of shape (C, *size) is cut into tiles of `tile` positions along each axis (the last
tiles padded with zeros where a size is not a multiple), tiles are encoded as independent
samples by the one gradient-origin step, and their outputs are put back in place. Local
coordinates are cell centres in [-1, 1] (`cell_grid`), so a tile rendered at any density
covers the same span and a signal rendered at another rate or resolution has no seams in
position: each output point asks the tile that holds it (`Tiling.locate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import GONError


def cell_grid(shape: tuple[int, ...], device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """(prod(shape), D) cell-centre coordinates: point i of n on an axis sits at -1 + (2i + 1) / n,
    so n points tile [-1, 1] exactly at every n; row-major, as `gon.decoders.coordinate_grid`."""
    axes = [(2 * torch.arange(n, device=device, dtype=dtype) + 1) / n - 1 for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))


@dataclass(frozen=True)
class Tiling:
    """A signal of `size` positions per axis cut into tiles of `tile` positions per axis.

    `counts`: tiles per axis; `count`: tiles per signal. `split` and `join` are inverse on the
    signal (the padding of the last tiles is dropped by `join`)."""

    size: tuple[int, ...]
    tile: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.size) != len(self.tile) or not all(isinstance(t, int) and t >= 1 for t in self.tile):
            raise GONError(f"a tile needs a positive length per axis of the signal {self.size}, got {self.tile}")
        if any(t > s for t, s in zip(self.tile, self.size)):
            raise GONError(
                f"a tile of {'x'.join(map(str, self.tile))} is larger than the signal ({'x'.join(map(str, self.size))})"
            )

    @classmethod
    def of(cls, size: tuple[int, ...], tile: int | None) -> Tiling:
        """Tiles of `tile` positions along each axis of a signal of `size`, no longer than the signal
        along any axis (a 16-frame video with tiles of 32 pixels); the whole signal when `tile` is None."""
        return cls(size, tuple(min(tile, n) for n in size) if tile is not None else size)

    @property
    def counts(self) -> tuple[int, ...]:
        """Tiles along each axis (the last one padded where a size is not a multiple)."""
        return tuple(math.ceil(s / t) for s, t in zip(self.size, self.tile))

    @property
    def count(self) -> int:
        """Tiles per signal."""
        return math.prod(self.counts)

    def split(self, x: Tensor) -> Tensor:
        """Signals (B, C, *size) -> tiles (B * count, C, *tile), tile-major within a signal."""
        batch, channels, dims = x.shape[0], x.shape[1], len(self.size)
        pad = [p for s, t, n in reversed(list(zip(self.size, self.tile, self.counts))) for p in (0, n * t - s)]
        x = torch.nn.functional.pad(x, pad) if any(pad) else x
        # (B, C, n1, t1, n2, t2, ...) -> (B, n1, n2, ..., C, t1, t2, ...)
        x = x.reshape(batch, channels, *[v for n, t in zip(self.counts, self.tile) for v in (n, t)])
        order = [0, *range(2, 2 + 2 * dims, 2), 1, *range(3, 3 + 2 * dims, 2)]
        return x.permute(order).reshape(batch * self.count, channels, *self.tile)

    def join(self, tiles: Tensor) -> Tensor:
        """Tiles (B * count, C, *tile) -> signals (B, C, *size), the inverse of `split`."""
        channels, dims = tiles.shape[1], len(self.size)
        batch = tiles.shape[0] // self.count
        x = tiles.reshape(batch, *self.counts, channels, *self.tile)
        # (B, n1, n2, ..., C, t1, t2, ...) -> (B, C, n1, t1, n2, t2, ...)
        order = [0, 1 + dims, *[v for a in range(dims) for v in (1 + a, 2 + dims + a)]]
        x = x.permute(order).reshape(batch, channels, *[n * t for n, t in zip(self.counts, self.tile)])
        return x[(slice(None), slice(None), *[slice(0, s) for s in self.size])]

    def locate(self, shape: tuple[int, ...], index: Tensor) -> tuple[Tensor, Tensor]:
        """Points `index` (P,) of a row-major grid of `shape` over the signal's span ->
        (the tile each lies in, (P,); its local coordinates in that tile, (P, D)). A grid of
        `size` gives the training points exactly; any other shape samples the same span."""
        tiles = torch.zeros_like(index)
        local = []
        rest = index
        for axis in reversed(range(len(shape))):
            n, size, tile, count = shape[axis], self.size[axis], self.tile[axis], self.counts[axis]
            j = rest % n
            rest = rest // n
            u = (j.to(torch.float64) + 0.5) * size / n  # position in training samples
            which = (u // tile).clamp_(max=count - 1)
            local.append(2 * (u - which * tile) / tile - 1)
            stride = math.prod(self.counts[axis + 1 :])
            tiles = tiles + which.to(index.dtype) * stride
        return tiles, torch.stack(local[::-1], dim=-1)
