"""Monte Carlo coordinates for implicit GONs at 64x64, against full-grid training at
equal wall-clock time (the paper's discussion leaves Monte Carlo integration open).

Both runs train the paper-sized implicit GON (SIREN 4x256, k = 32, Adam 1e-4, batch 64)
on the mnist5k digits resized to 64x64 for the same number of seconds; one integrates
Eq. 12 over the whole 4,096-point grid, the other over N random coordinates per step.
Both are evaluated on the whole grid of held-out digits.

    python -m benchmarks.monte_carlo --seconds 240 --samples 1024 --out docs/images/monte_carlo_64.png
"""

import argparse
from pathlib import Path

import torch

from gon.config import ModelConfig, MonteCarloOptions, TrainConfig
from gon.evaluate import evaluate
from gon.gallery import spread
from gon.training import data_for_model, fit, prepare_run
from gon.viz import save_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=240)
    parser.add_argument("--samples", type=int, default=1024, help="coordinates per step for the Monte Carlo run")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--eval-images", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("monte_carlo.png"))
    args = parser.parse_args()
    rows, pictures = [], []
    for name, samples in (("full grid", None), (f"{args.samples} random coordinates", args.samples)):
        config = ModelConfig(
            kind="implicit", image_size=args.image_size, monte_carlo=MonteCarloOptions(coordinate_samples=samples)
        )
        data = data_for_model("mnist5k", "train", config)
        test = data_for_model("mnist5k", "test", config, limit=args.eval_images)
        model, _, train_config = prepare_run(
            config, TrainConfig(steps=10**6, lr=1e-4, time_limit=args.seconds, log_every=10), data
        )
        history = fit(model, data, train_config, progress=False)
        metrics = evaluate(model, test)
        rows.append(
            (name, history[-1]["step"], history[-1]["elapsed_s"], metrics["sse_per_image"], metrics["mse_per_pixel"])
        )
        print(
            f"{name}: {history[-1]['step']} steps in {history[-1]['elapsed_s']:.0f} s, held-out SSE/image "
            f"{metrics['sse_per_image']:.2f}",
            flush=True,
        )
        x = spread(test, 8)
        pictures.append(model.reconstruct(x))
    save_grid(torch.cat([x, *pictures]), args.out, columns=8)
    print(
        f"\nimplicit GON at {args.image_size}x{args.image_size}, equal wall-clock ({args.seconds:.0f} s), "
        f"{args.eval_images} held-out mnist5k digits"
    )
    print("| training | steps | seconds | held-out SSE per image | MSE per pixel |\n|---|---|---|---|---|")
    for name, steps, seconds, sse, mse in rows:
        print(f"| {name} | {steps} | {seconds:.0f} | {sse:.2f} | {mse:.5f} |")
    print(f"\n{args.out}: rows are held-out digits, full-grid reconstructions, Monte Carlo reconstructions")


if __name__ == "__main__":
    main()
