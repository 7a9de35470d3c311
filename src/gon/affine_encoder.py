"""Exported encoders: a GON's gradient encoder written out as a matrix and an offset.

With one step from the exact origin and an inner loss whose gradient is affine in the
data (squared error, Bernoulli, Gaussian), the latent is an affine function of x:
z = -s J^T dL/dg(x, F(z0)) = W x + b (Section 3.1: "mean-field models result in
latents that are linear functions of x"). Exporting W and b makes encoding one matrix
product with no autograd. The export reads W and b off the model's own encoder (the
origin image and the unit images) and then checks the affine map against real images,
so an encoder that is not affine is refused rather than approximated.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .errors import GONError
from .files import read_tensors, save_tensors
from .models import GON

ENCODER_FORMAT = "gradient-origin-networks/affine-encoder-v1"


@dataclass
class AffineEncoder:
    """z = x.flatten(1) @ weight.T + offset, for inputs of shape (N, *input_shape)."""

    weight: Tensor  # (latent_dim, C*H*W)
    offset: Tensor  # (latent_dim,)
    input_shape: tuple[int, int, int]

    def __call__(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise GONError(f"the encoder expects images of shape {self.input_shape}, got {tuple(x.shape[1:])}")
        return torch.addmm(self.offset, x.reshape(x.shape[0], -1), self.weight.T)

    def save(self, path: str | Path) -> None:
        save_tensors(
            {"weight": self.weight.contiguous(), "offset": self.offset.contiguous()},
            str(path),
            metadata={"format": ENCODER_FORMAT, "input_shape": json.dumps(list(self.input_shape))},
        )

    @classmethod
    def load(cls, path: str | Path) -> AffineEncoder:
        state, metadata = read_tensors(Path(path))
        if metadata.get("format") != ENCODER_FORMAT or set(state) != {"weight", "offset"}:
            raise GONError(f"{path}: not an exported encoder of this library")
        try:
            shape = tuple(int(v) for v in json.loads(metadata["input_shape"]))
        except (KeyError, ValueError, TypeError):
            raise GONError(f"{path}: exported encoder without a valid input shape") from None
        return cls(state["weight"], state["offset"], shape)  # type: ignore[arg-type]


@torch.no_grad()
def export_affine_encoder(
    model: GON, input_shape: tuple[int, int, int], check: Tensor, chunk: int = 512, tolerance: float = 1e-4
) -> AffineEncoder:
    """W and b of the model's (eval-mode) encoder, verified on the real images `check`."""
    step = model.step
    if step.steps != 1 or step.origin_std != 0:
        raise GONError(
            "only a single gradient step from the exact origin gives an affine encoder "
            f"(this model: {step.steps} steps, origin noise {step.origin_std})"
        )
    model.eval()
    model.inner_scale(check)  # a calibrated scale not set yet is set on the real images, not on the unit ones
    # W's columns are differences encode(e_i) - encode(0) of nearly equal latents: read them in
    # float64, or at 64x64x3 inputs float32 cancellation alone exceeds the tolerance
    exact = copy.deepcopy(model).double()
    dims = int(torch.tensor(input_shape).prod())
    offset = exact.encode(torch.zeros(1, *input_shape, dtype=torch.float64))[0]
    columns = []
    for start in range(0, dims, chunk):
        units = torch.eye(dims, dtype=torch.float64)[start : start + chunk].reshape(-1, *input_shape)
        columns.append(exact.encode(units) - offset)
    encoder = AffineEncoder(torch.cat(columns).T.float().contiguous(), offset.float(), tuple(input_shape))
    reference = model.encode(check)
    error = ((encoder(check) - reference).norm() / reference.norm().clamp_min(1e-30)).item()
    if not error < tolerance:
        raise GONError(
            f"this model's encoder is not affine in its input (relative error {error:.2e} "
            f"on {len(check)} real images), so it cannot be exported as a matrix"
        )
    return encoder
