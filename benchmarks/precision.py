"""Mixed precision and the double backward: final loss, non-finite losses and seconds per step.

Trains each model kind at each precision (torch.autocast of the forward pass, the
gradient-origin step included; fp16 with a GradScaler) for the same steps from the same
seed on mnist5k, and prints one JSON line per run: the mean training loss over the
last tenth of the steps, the held-out summed squared error per image (evaluated in
fp32), how many steps had a non-finite loss (skipped), and seconds per step after the
first tenth (warm-up: CUDA kernels, autotuning).

    python -m benchmarks.precision --device cuda --steps 500
    python -m benchmarks.precision --device cpu --precisions fp32 bf16 --kinds conv --steps 50
"""

import argparse
import json

from gon.config import ModelConfig, TrainConfig
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.training import data_for_model, fit, prepare_run


def run(kind: str, precision: str, args: argparse.Namespace) -> dict:
    model_config = ModelConfig(kind=kind)
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=1e-4 if kind == "implicit" else 1e-3,
        log_every=1,
        skip_nonfinite=True,
        device=args.device,
        precision=precision,
        seed=args.seed,
    )
    data = data_for_model("mnist5k", "train", model_config)
    test = data_for_model("mnist5k", "test", model_config, limit=args.eval_limit)
    model, _, config = prepare_run(model_config, config, data)
    row = {
        "kind": kind,
        "precision": precision,
        "device": args.device,
        "steps": args.steps,
        "batch_size": args.batch_size,
    }
    history: list[dict] = []
    try:
        history = fit(model, data, config, progress=False)
    except GONError as error:  # ten non-finite losses in a row
        return {**row, "error": str(error)}
    # with log_every=1 every finite step is one record; a skipped step leaves none
    row["nonfinite_steps"] = args.steps - len(history)
    tail = history[-max(1, len(history) // 10) :]
    row["final_loss"] = sum(r["loss"] for r in tail) / len(tail)
    warm = history[len(history) // 10]
    row["s_per_step"] = (history[-1]["elapsed_s"] - warm["elapsed_s"]) / max(1, history[-1]["step"] - warm["step"])
    row["test_sse_per_image"] = evaluate(model, test)["sse_per_image"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16", "fp16"])
    parser.add_argument("--kinds", nargs="+", default=["conv", "variational", "implicit"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-limit", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for kind in args.kinds:
        for precision in args.precisions:
            try:
                row = run(kind, precision, args)
            except GONError as error:  # e.g. fp16 on a CPU
                row = {"kind": kind, "precision": precision, "device": args.device, "error": str(error)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
