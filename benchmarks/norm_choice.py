"""How the choice of normalisation affects a convolutional GON's held-out error.

The paper's decoder uses BatchNorm in training mode at every step, inner pass included,
which couples the samples of a batch (a latent depends on its batch) and leaves running
statistics that do not match the inner pass at the origin. This compares, on mnist5k
(4,000 training digits, 1,000 held-out), at the paper's size (32 px, f = 16, k = 32):

  group  GroupNorm, per sample (the library's default)
  batch  the paper's train-mode BatchNorm, evaluated both as the paper does (batch
         statistics over test batches of 64) and in eval mode (running statistics)
  none   no normalisation

    python -m benchmarks.norm_choice --steps 2000 --seeds 0 1
"""

import argparse
import statistics
import time

from gon.config import ModelConfig, TrainConfig
from gon.decoders import ConvOptions
from gon.evaluate import evaluate
from gon.training import data_for_model, fit, prepare_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--norms", nargs="+", default=["group", "batch", "none"])
    args = parser.parse_args()
    rows = []
    for norm in args.norms:
        scores: dict[str, list[float]] = {}
        for seed in args.seeds:
            config = ModelConfig(kind="conv", conv=ConvOptions(norm=norm))
            data, test = data_for_model("mnist5k", "train", config), data_for_model("mnist5k", "test", config)
            model, _, train_config = prepare_run(config, TrainConfig(steps=args.steps, lr=args.lr, seed=seed), data)
            start = time.perf_counter()
            fit(model, data, train_config, progress=False)
            seconds = time.perf_counter() - start
            scores.setdefault("eval mode", []).append(evaluate(model, test)["sse_per_image"])
            if norm == "batch":
                scores.setdefault("batch statistics (B=64)", []).append(
                    evaluate(model, test, batch_size=64, batch_statistics=True)["sse_per_image"]
                )
            print(
                f"{norm} seed {seed}: "
                + ", ".join(f"{k} {v[-1]:.3f}" for k, v in scores.items())
                + f" ({seconds:.0f} s)",
                flush=True,
            )
        for how, values in scores.items():
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            rows.append(f"| {norm} | {how} | {statistics.mean(values):.2f} +- {spread:.2f} |")
    print(f"\nheld-out SSE per image, mnist5k, {args.steps} steps, lr {args.lr}, seeds {args.seeds}")
    print("| norm | evaluated | SSE per image |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
