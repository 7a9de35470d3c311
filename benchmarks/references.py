"""The simplest strong references every measured figure stands beside: the mean training example and
the best linear code (PCA) of the training examples with a given latent budget, per tile or whole."""

from __future__ import annotations

import torch

from gon.tiling import Tiling


def mean_reconstruction(train: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """The mean training example (N, C, ...) in place of every test example."""
    return train.double().mean(0).float().expand_as(test)


def pca_reconstruction(
    train: torch.Tensor, test: torch.Tensor, tile: tuple[int, ...], latent_dim: int, value_range: tuple[float, float]
) -> torch.Tensor:
    """Test examples (N, C, *size) through the best linear code of the training examples' tiles: the
    top `latent_dim` principal directions of tiles of `tile` positions per axis (the whole example
    when `tile` is its size; fewer where the training tiles span fewer), clamped to `value_range`."""
    tiling = Tiling(tuple(train.shape[2:]), tuple(tile))
    a, b = tiling.split(train).flatten(1).double(), tiling.split(test).flatten(1).double()
    mean = a.mean(0)
    _, _, v = torch.linalg.svd(a - mean, full_matrices=False)
    basis = v[:latent_dim]
    codes = (b - mean) @ basis.T
    return tiling.join((codes @ basis + mean).float().reshape(-1, test.shape[1], *tile)).clamp(*value_range)
