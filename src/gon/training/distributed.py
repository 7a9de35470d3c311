"""Devices, mixed precision and data-parallel training, decided by the config and the environment.

One process trains on one device. Under torchrun (as nanoGPT) the same command trains on
several: torchrun sets RANK, LOCAL_RANK and WORLD_SIZE, and `process_group` joins them
(NCCL on CUDA, gloo on CPU), on one node or many alike:

    torchrun --standalone --nproc_per_node 2 -m gon train --batch-size 64 ...
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --nproc_per_node 8 -m gon train ...

--batch-size is the global batch, so the numbers of a run do not depend on how many
processes train it: every step, each of the W ranks takes its 1/W share of the same
global batch and DistributedDataParallel averages their gradients, which is the
gradient of the global batch's mean loss. With the default per-sample GroupNorm the
weights equal a single-process run's up to float summation order (tests/test_distributed.py).

The share is cut from the training loop's own permutation (`shard`), not drawn by a
DistributedSampler: the loop's permutation is part of the resumable training state and
is the single-process order, so a distributed run sees exactly the batches a single
process would; a DistributedSampler would draw its own permutation from seed + epoch.
The cut is the sampler's (every W-th index from the rank's offset).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..config import DEVICES, PRECISIONS
from ..errors import GONError
from ..models import GON


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        """Only the main rank logs, checkpoints and writes the run directory."""
        return self.rank == 0


def environment() -> Ranks:
    """The ranks torchrun describes in the environment; one process without it."""
    values = {}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        text = os.environ.get(key)
        try:
            values[key] = int(text) if text is not None else None
        except ValueError:
            raise GONError(f"environment variable {key} must be an integer, got {text!r}") from None
    if values["WORLD_SIZE"] is None or values["WORLD_SIZE"] <= 1:
        return Ranks()
    if values["RANK"] is None:
        raise GONError("WORLD_SIZE is set but RANK is not: launch distributed training with torchrun")
    return Ranks(values["RANK"], values["LOCAL_RANK"] or 0, values["WORLD_SIZE"])


def current() -> Ranks:
    """The ranks of the process group this process has joined (one process if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    local = int(os.environ.get("LOCAL_RANK", 0))
    return Ranks(dist.get_rank(), local, dist.get_world_size())


def resolve_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    """cuda if available, else mps, else cpu for "auto"; GONError for a device this machine lacks.
    Under torchrun each rank of a node takes the CUDA device of its LOCAL_RANK."""
    if name not in DEVICES:
        raise GONError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)}")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise GONError("--device cuda: no CUDA device is available")
        index = local_rank if local_rank is not None else current().local_rank
        return torch.device("cuda", index % torch.cuda.device_count())
    if name == "mps" and not mps:
        raise GONError("--device mps: the MPS backend is not available")
    return torch.device(name)


@contextlib.contextmanager
def process_group(device: str = "auto") -> Iterator[Ranks]:
    """Join the process group torchrun describes for the duration of a run, and leave it after;
    nothing to do for one process or when the caller has already joined one."""
    ranks = environment()
    if ranks.world_size == 1 or dist.is_initialized():
        yield current()
        return
    kind = resolve_device(device, ranks.local_rank).type
    if kind == "mps":
        raise GONError("distributed training needs CUDA or CPU devices; MPS has no collective backend")
    if kind == "cuda":
        torch.cuda.set_device(ranks.local_rank % torch.cuda.device_count())
    dist.init_process_group("nccl" if kind == "cuda" else "gloo")
    try:
        yield current()
    finally:
        dist.destroy_process_group()


def shard(index: Tensor, ranks: Ranks) -> Tensor:
    """This rank's share of a global batch of indices (every world_size-th, as DistributedSampler)."""
    return index[ranks.rank :: ranks.world_size] if ranks.world_size > 1 else index


def local_batch_size(batch_size: int, ranks: Ranks) -> int:
    if batch_size % ranks.world_size:
        raise GONError(
            f"batch size {batch_size} is the global batch and must divide evenly among {ranks.world_size} processes"
        )
    return batch_size // ranks.world_size


def mean_over_ranks(value: Tensor, ranks: Ranks) -> Tensor:
    """The mean of a scalar over ranks: the global batch's loss, so that every rank logs the
    same number and decides the same way about a non-finite loss (they must agree, or the
    next gradient all-reduce waits forever)."""
    if ranks.world_size == 1:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / ranks.world_size


def agree(flag: bool, ranks: Ranks, device: torch.device) -> bool:
    """The main rank's decision (e.g. out of time), the same on every rank."""
    if ranks.world_size == 1:
        return flag
    decision = torch.tensor([float(flag)], device=device)
    dist.broadcast(decision, 0)
    return bool(decision.item())


def barrier(ranks: Ranks) -> None:
    if ranks.world_size > 1:
        dist.barrier()


def data_parallel(model: nn.Module, ranks: Ranks, device: torch.device, sync_batchnorm: bool = False) -> nn.Module:
    """`model` (whose forward is its training loss) in DistributedDataParallel, trained in place.

    The gradient-origin step inside the loss calls torch.autograd.grad(create_graph=True)
    for the latent. That gradient is taken out of place with respect to z0, so it fires
    none of DDP's per-parameter hooks and stays per sample (which is what a latent is);
    the ordinary backward of the loss then reaches every parameter, through the
    second-order graph too, and fires each hook once, so the all-reduce averages the full
    gradient. This is the pattern PyTorch's maintainers recommend for double backward
    under DDP (pytorch/pytorch#63812); DDP does not support backward(create_graph=True).
    """
    if sync_batchnorm:
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    # every parameter reaches the loss (the latent is a function of all decoder weights), so
    # DDP need not search the graph for unused ones each step
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def check_sync_batchnorm(model: nn.Module, ranks: Ranks, device: torch.device) -> bool:
    """Whether to convert BatchNorm to SyncBatchNorm; GONError where it cannot work."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise GONError("--sync-batchnorm needs a model with BatchNorm (--norm batch)")
    # the gradient-origin step would differentiate SyncBatchNorm's backward, which PyTorch
    # cannot do (the error it gives: docs/scaling.md)
    if uses_double_backward(model):
        raise GONError(
            "--sync-batchnorm: SyncBatchNorm cannot be differentiated twice, as the gradient-origin "
            "step needs; use the default --norm group (per sample, no statistics to sync)"
        )
    if ranks.world_size == 1:
        return False  # one process: BatchNorm already sees the whole batch
    if device.type != "cuda":
        raise GONError("--sync-batchnorm needs CUDA devices (PyTorch's SyncBatchNorm has no CPU implementation)")
    return True


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The forward pass (gradient-origin step included) under torch.autocast for bf16/fp16."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def check_precision(device: torch.device, precision: str) -> None:
    if precision not in PRECISIONS:
        raise GONError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    # fp16 needs a GradScaler, which PyTorch implements for CUDA; bf16 autocast works on CPU,
    # double backward included (measured in docs/scaling.md, "Devices and precision")
    if precision == "fp16" and device.type != "cuda":
        raise GONError(f"--precision fp16 needs a CUDA device (this run is on {device.type}); use bf16 or fp32")


def uses_double_backward(model: nn.Module) -> bool:
    """Whether training differentiates through the gradient-origin step (GONs, not baselines with an encoder)."""
    return isinstance(model, GON)


def compile_decoder(model: nn.Module) -> None:
    """torch.compile the decoder in place (its state_dict keys stay the same).

    Refused for models trained through the gradient-origin step: AOTAutograd, which
    torch.compile uses for training, builds a backward that cannot itself be
    differentiated. Measured on CPU (torch 2.13) and an H100 (torch 2.11): the general path
    fails with "torch.compile with aot_autograd does not currently support double backward";
    the shared-origin path, which takes the Jacobian by forward-mode AD, with "You must
    implement the jvp function" (CUDA) or "compiled with non-empty donated buffers" (CPU).
    Baselines with an encoder (ae, tied-ae, vae) and GLO have no double backward: ae, glo and
    vae compiled and trained on an H100, ae and glo on CPU.
    """
    if uses_double_backward(model):
        raise GONError(
            "--compile: torch.compile does not support the double backward of the gradient-origin step "
            "(aot_autograd); train this model without --compile"
        )
    model.decoder.compile()
