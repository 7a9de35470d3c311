"""Speed benchmark: the paper's training step, the library's, and a plain decoder step.

All three run in one process on the same batch of real digits and the same weights:

  reference  the paper's formulation written out as in its scripts: a batch of zeros,
             a batch-mean inner loss, autograd.grad with create_graph, decode, backward
             (the implicit GON repeats z at every coordinate and concatenates, as its code)
  gon        the library's default training step (`model.loss(x).backward()`)
  plain      a decoder step from a given latent: forward, loss, backward (the floor)

Each step includes zero_grad and an Adam update. Peak memory is measured in a fresh
process per formulation: the peak resident size (VmHWM, reset after set-up) during two
steps, less the resident size before them (Linux only).
"""

from __future__ import annotations

import gc
import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from gon.affine_encoder import export_affine_encoder
from gon.config import ModelConfig
from gon.data import load_data
from gon.models import GON, build_model
from gon.origin import OriginStep


@dataclass
class SpeedConfig:
    kind: str = "conv"
    batch_size: int = 64
    repeats: int = 10
    warmup: int = 2
    threads: int = 2
    seed: int = 0


def paper_inner_outer(model: GON, config: ModelConfig, x: Tensor) -> Tensor:
    """One outer loss of the paper's formulation (its scripts' reductions, batch means)."""
    batch = x.shape[0]
    if config.kind == "implicit":
        decoder = model.decoder
        size = config.image_size
        coords = decoder.grid.expand(batch, -1, -1)  # (B, P, 2)
        target = x.permute(0, 2, 3, 1).reshape(batch, -1, config.channels)  # (B, P, C)

        def siren(z: Tensor) -> Tensor:
            h = torch.cat((coords, z.repeat(1, size * size, 1)), dim=-1)
            return decoder.last(decoder.hidden(decoder.first(h)))

        z = torch.zeros(batch, 1, config.latent_dim).requires_grad_()
        inner = ((siren(z) - target) ** 2).sum(1).mean()
        grad = torch.autograd.grad(inner, [z], create_graph=True, retain_graph=True)[0]
        return ((siren(-grad) - target) ** 2).sum(1).mean()
    z = torch.zeros(batch, config.latent_dim).requires_grad_()
    if config.kind == "variational":

        def elbo(output):
            logits, mu, logvar = output
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
            return (bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)).mean()

        grad = torch.autograd.grad(elbo(model.decoder(z)), [z], create_graph=True, retain_graph=True)[0]
        return elbo(model.decoder(-grad))
    inner = ((model.decoder(z) - x) ** 2).sum(1).mean()
    grad = torch.autograd.grad(inner, [z], create_graph=True, retain_graph=True)[0]
    return ((model.decoder(-grad) - x) ** 2).sum(1).mean()


def setup(spec: SpeedConfig) -> tuple[GON, ModelConfig, Tensor, dict[str, Callable[[], None]]]:
    torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    # the paper's inner scale, so the reference formulation and the library's step do the same
    # work on the same numbers (a scale costs nothing; the calibrated default is timed the same)
    config = ModelConfig(kind=spec.kind, origin=OriginStep(inner_scale="paper"))
    model = build_model(config).train()
    data = load_data("mnist5k", "train", image_size=config.image_size, channels=config.channels)
    x = data.batch(torch.randperm(len(data))[: spec.batch_size])
    z_given = torch.randn(spec.batch_size, config.latent_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run(loss_fn: Callable[[], Tensor]) -> Callable[[], None]:
        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            loss_fn().backward()
            optimizer.step()

        return step

    steps = {
        "reference": run(lambda: paper_inner_outer(model, config, x)),
        "gon": run(lambda: model.loss(x)),
        "plain": run(lambda: model.outer_loss(model.decode(z_given), x).mean()),
    }
    return model, config, x, steps


def time_steps(steps: dict[str, Callable[[], None]], warmup: int, repeats: int) -> dict[str, float]:
    """Median seconds of each step function, run interleaved so that drifts in machine
    load hit all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(warmup):
        for step in steps.values():
            step()
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f"no {field} in /proc/self/status")


def _peak_memory_child(spec_dict: dict, formulation: str, queue) -> None:  # noqa: ANN001 - a multiprocessing queue
    _, _, _, steps = setup(SpeedConfig(**spec_dict))
    gc.collect()
    # reset the process's peak resident size (VmHWM), so that set-up peaks do not count
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_mb("VmRSS")
    steps[formulation]()
    steps[formulation]()
    queue.put(max(0.0, _status_mb("VmHWM") - before))


def peak_memory_mb(spec: SpeedConfig, formulation: str) -> float | None:
    """Peak resident-memory growth of two training steps, in a fresh process (Linux only)."""
    try:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=_peak_memory_child, args=(asdict(spec), formulation, queue))
        process.start()
        value = queue.get(timeout=600)
        process.join()
        return float(value)
    except (OSError, ValueError):
        return None


def speed(spec: SpeedConfig, memory: bool = True) -> dict:
    """Median seconds per training step of each formulation, encoding throughput, peak memory."""
    model, config, x, steps = setup(spec)
    result: dict = time_steps(steps, spec.warmup, spec.repeats)
    result["config"] = {
        **asdict(spec),
        "model": config.to_dict(),
        "origin_path": model.origin_path(spec.batch_size),
        "torch": torch.__version__,
    }
    result.update(_encoding_throughput(model, config, spec))
    if memory:
        result["peak_memory_mb"] = {name: peak_memory_mb(spec, name) for name in ("reference", "gon")}
    return result


def _encoding_throughput(model: GON, config: ModelConfig, spec: SpeedConfig, images: int = 1024) -> dict:
    model.eval()
    data = load_data("mnist5k", "test", image_size=config.image_size, channels=config.channels, limit=images)
    x = data.batch(slice(0, images))
    out: dict = {}
    try:
        encoder = export_affine_encoder(model, data.shape, x[:256])
    except Exception:  # noqa: BLE001 - a model without an affine encoder simply has no exported figure
        encoder = None
    for name, fn in (("encode_gradient_images_per_s", model.encode), ("encode_exported_images_per_s", encoder)):
        if fn is None:
            out[name] = None
            continue
        fn(x[:256])
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(0, images, 256):
                fn(x[i : i + 256])
        out[name] = images / (time.perf_counter() - start)
    model.train()
    return out


def format_speed(result: dict) -> str:
    ref, gon, plain = result["reference"], result["gon"], result["plain"]
    c = result["config"]
    lines = [
        f"{c['kind']} GON, batch {c['batch_size']}, {c['threads']} threads, median of {c['repeats']} steps",
        f"  path: {c['origin_path']}",
        f"  reference (paper's formulation): {ref:.4f} s/step",
        f"  gon (library default):           {gon:.4f} s/step  ({ref / gon:.2f}x faster than reference, "
        f"{gon / plain:.2f}x plain)",
        f"  plain decoder step:              {plain:.4f} s/step",
    ]
    if result.get("encode_gradient_images_per_s"):
        lines.append(
            f"  encoding: gradient {result['encode_gradient_images_per_s']:.0f} images/s"
            + (
                f", exported {result['encode_exported_images_per_s']:.0f} images/s"
                if result.get("encode_exported_images_per_s")
                else ""
            )
        )
    memory = result.get("peak_memory_mb")
    if memory:
        lines.append(
            "  peak memory of a training step: "
            + ", ".join(f"{k} {v:.0f} MiB" if v is not None else f"{k} n/a" for k, v in memory.items())
        )
    return "\n".join(lines)
