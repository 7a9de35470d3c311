"""Colour at 64 px on real data: the held-out emoji (gon.data.emoji), one run per model.

- conv GON against the autoencoder with the same decoder, each at its own best rate of
  RATES, chosen on a validation part carved from the training split (the map's rule,
  benchmarks/map.py), then trained on the whole training split;
- variational GON against the VAE (bits/dim), both at the library's default rate;
- an implicit GON trained on Monte Carlo coordinates (gon.models.ImplicitGON), at its
  best rate of IMPLICIT_RATES chosen the same way, rendered at 64, 256 and 512 px
  (colour super-resolution);
- samples (Gaussian and mixture samplers, the prior for the variational GON) and
  spherical interpolations.

Every model is a run directory under --runs (so `gon eval/sample/render RUN` work on
it); the figures go to --images, the numbers to --out (runs.csv, selection.csv, colour.md).

    python -m benchmarks.colour --out docs/results/colour --images docs/images/colour --runs runs/colour
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from benchmarks.map import split_for_selection
from gon import ModelConfig, TrainConfig, evaluate, fit, train
from gon.evaluate import encode_dataset
from gon.gallery import interpolations, reconstruction_pairs, samples, spread
from gon.models import Variational
from gon.samplers import GaussianSampler, MixtureSampler, PriorSampler
from gon.training import data_for_model, prepare_run
from gon.viz import save_grid

DATA = "emoji"
RATES = (3e-4, 1e-3, 3e-3)
IMPLICIT_RATES = (1e-4, 3e-4, 1e-3)  # around the paper's 1e-4 for SIRENs
COLOUR = dict(image_size=64, channels=3, latent_dim=128)  # 64x64x3 = 12,288 values per image


def select_rate(
    kind: str, steps: int, seed: int, rates: tuple[float, ...] = RATES, **extra
) -> tuple[float, list[dict]]:
    """The rate of `rates` with the lowest validation error after `steps` steps (the test split is not read)."""
    config = ModelConfig.from_dict({"kind": kind, **COLOUR, **extra})  # extra: flat keys
    train_part, validation = split_for_selection(data_for_model(DATA, "train", config))
    rows = []
    for lr in rates:
        model, _, train_config = prepare_run(
            config, TrainConfig(data=DATA, steps=steps, lr=lr, seed=seed, log_every=steps), train_part
        )
        started = time.perf_counter()
        fit(model, train_part, train_config, progress=False)
        error = evaluate(model, validation, seed=seed)["sse_per_image"]
        rows.append(
            {
                "kind": kind,
                "lr": lr,
                "steps": steps,
                "validation_sse": error,
                "seconds": time.perf_counter() - started,
                **extra,
            }
        )
        print(f"selection {kind} lr {lr:g}: validation SSE {error:.3f}", flush=True)
    return min(rows, key=lambda r: (r["validation_sse"], r["lr"]))["lr"], rows


def run(kind: str, lr: float, steps: int, seed: int, runs: Path, **extra) -> tuple[dict, object]:
    model_config = ModelConfig.from_dict({"kind": kind, **COLOUR, **extra})
    started = time.perf_counter()
    result = train(
        model_config,
        TrainConfig(data=DATA, steps=steps, lr=lr, seed=seed, log_every=max(1, steps // 10)),
        runs / kind,
        progress=False,
        overwrite=True,
    )
    seconds = time.perf_counter() - started
    row = {
        "kind": kind,
        "lr": lr,
        "steps": steps,
        "seed": seed,
        "heldout_sse": result.metrics["sse_per_image"],
        "heldout_bits_per_dim": result.metrics.get("elbo_bits_per_dim", ""),
        "test_images": result.metrics["images"],
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "seconds": seconds,
        "run": str(result.directory),
        **extra,
    }
    print(f"{kind}: held-out SSE {row['heldout_sse']:.3f} {row['heldout_bits_per_dim']} ({seconds:.0f} s)", flush=True)
    return row, result


def write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def figures(name: str, result, images: Path, seed: int) -> None:
    model, config = result.model, result.model_config
    test = data_for_model(DATA, "test", config)
    train_data = data_for_model(DATA, "train", config)
    shown = spread(test, 16)
    save_grid(reconstruction_pairs(model, shown), images / f"{name}-reconstructions.png", 8)
    if isinstance(model, Variational):
        save_grid(samples(model, PriorSampler(config.latent_dim), 32, seed), images / f"{name}-samples-prior.png", 8)
    else:
        latents = encode_dataset(model, train_data)
        for sampler_name, sampler in (
            ("gaussian", GaussianSampler.fit(latents)),
            ("gmm", MixtureSampler.fit(latents, seed=seed)[0]),
        ):
            save_grid(samples(model, sampler, 32, seed), images / f"{name}-samples-{sampler_name}.png", 8)
    z = model.encode(spread(test, 8))
    save_grid(interpolations(model, z[0::2], z[1::2], steps=8), images / f"{name}-slerp.png", 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="training steps of each final run")
    parser.add_argument("--select-steps", type=int, default=300, help="steps of each rate-selection run")
    parser.add_argument("--variational-steps", type=int, default=500)
    parser.add_argument("--implicit-steps", type=int, default=600)
    parser.add_argument("--coordinates", type=int, default=256, help="implicit: Monte Carlo coordinates per step")
    parser.add_argument("--implicit-hidden", type=int, default=128, help="implicit: SIREN width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only", nargs="+", choices=("conv", "variational", "implicit"), default=["conv", "variational", "implicit"]
    )
    parser.add_argument("--out", type=Path, default=Path("runs/bench/colour"))
    parser.add_argument("--images", type=Path, default=Path("runs/bench/colour/images"))
    parser.add_argument("--runs", type=Path, default=Path("runs/colour"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in (args.out, args.images, args.runs):
        path.mkdir(parents=True, exist_ok=True)
    rows, selection = [], []
    if "conv" in args.only:
        for kind in ("conv", "ae"):
            lr, tried = select_rate(kind, args.select_steps, args.seed)
            selection += tried
            row, result = run(kind, lr, args.steps, args.seed, args.runs)
            rows.append(row)
            figures(kind, result, args.images, args.seed)
    if "variational" in args.only:
        for kind in ("variational", "vae"):
            row, result = run(kind, 1e-3, args.variational_steps, args.seed, args.runs)
            rows.append(row)
            figures(kind, result, args.images, args.seed)
    if "implicit" in args.only:
        implicit = dict(coordinate_samples=args.coordinates, hidden_features=args.implicit_hidden)
        lr, tried = select_rate("implicit", args.select_steps, args.seed, IMPLICIT_RATES, **implicit)
        selection += tried
        row, result = run("implicit", lr, args.implicit_steps, args.seed, args.runs, **implicit)
        rows.append(row)
        figures("implicit", result, args.images, args.seed)
        test = data_for_model(DATA, "test", result.model_config)
        z = result.model.encode(spread(test, 4))
        for size in (64, 256, 512):
            save_grid(result.model.render(z, size), args.images / f"implicit-render-{size}.png", 4)
    suffix = "-".join(args.only)
    write_csv(args.out / f"runs-{suffix}.csv", rows)
    if selection:
        write_csv(args.out / f"selection-{suffix}.csv", selection)
    print(f"wrote {args.out}/runs-{suffix}.csv and figures in {args.images}")


if __name__ == "__main__":
    main()
