"""Several inner steps against one, per model kind and seed, through the command line:

    python -m benchmarks.inner_steps --out runs/inner-steps --kinds conv variational \
        --steps-list 1 10 --seeds 0 1 2 [--descent backtracking] [--step-size 0.1] [--training-steps 500]

Each run is `gon train --data mnist5k ...` then `gon eval RUN --json` on the 1,000 test digits;
one JSON row per run (its commands, the inner scale the model resolved, held-out SSE per image,
seconds) is appended to OUT/runs.jsonl, and a run already there is skipped, so the script can
be stopped and started again. Rows are the raw results behind docs/results.md ("Several inner
steps").
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path


def _gon(*args: str) -> list[str]:
    return [sys.executable, "-m", "gon", *args]


def run_name(kind: str, steps: int, seed: int, args: argparse.Namespace) -> str:
    size = f"-size{args.step_size:g}" if args.step_size else ""
    return f"{kind}-k{steps}-{args.descent or 'default'}-s{seed}{size}"


def run_one(out: Path, kind: str, steps: int, seed: int, args: argparse.Namespace) -> dict:
    name = run_name(kind, steps, seed, args)
    run_dir = out / name
    train = [
        "train",
        "--model", kind,
        "--data", args.data,
        "--steps", str(args.training_steps),
        "--inner-steps", str(steps),
        "--seed", str(seed),
        "--threads", "1",
        "--quiet",
        "--out", str(run_dir),
    ]  # fmt: skip
    if args.descent and steps > 1:
        train += ["--inner-descent", args.descent]
    if args.step_size:
        train += ["--inner-step-size", f"{args.step_size:g}"]
    start = time.perf_counter()
    trained = subprocess.run(_gon(*train), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    row = {
        "run": name,
        "command": "gon " + shlex.join(train),
        "kind": kind,
        "inner_steps": steps,
        "descent": args.descent if steps > 1 else None,
        "seed": seed,
        "training_steps": args.training_steps,
        "train_seconds": round(seconds, 1),
    }
    if trained.returncode != 0:
        row["error"] = (trained.stderr.strip().splitlines() or ["?"])[-1]
        return row
    evaluated = subprocess.run(_gon("eval", str(run_dir), "--json", "--threads", "1"), capture_output=True, text=True)
    if evaluated.returncode != 0:
        row["error"] = (evaluated.stderr.strip().splitlines() or ["?"])[-1]
        return row
    result = json.loads(evaluated.stdout.strip().splitlines()[-1])
    config = json.loads((run_dir / "config.json").read_text())
    row.update(
        eval_command=f"gon eval {run_dir} --json",
        origin=config["model"].get("origin"),
        inner_scale=config.get("resolved_step", {}).get("inner_scale"),
        sse_per_image=result.get("sse_per_image"),
        images=result.get("images"),
        **{k: result[k] for k in ("elbo_bits_per_dim",) if k in result},
    )
    return row


def table(rows: list[dict]) -> str:
    """One markdown line per run: kind, inner steps and their size and descent, seed, training
    steps, the calibrated scale, held-out SSE per image, seconds."""
    lines = [
        "| kind | inner steps | step size | descent | seed | training steps | inner scale | held-out SSE per image | ELBO (bits/dim) | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def order(r: dict) -> tuple:
        return (
            r["kind"],
            r["training_steps"],
            r["inner_steps"],
            -(r.get("origin") or {}).get("step_size", 1),
            r["seed"],
        )

    for r in sorted(rows, key=order):
        origin = r.get("origin") or {}
        size = f"{origin['step_size']:g}" if "step_size" in origin else "-"
        scale = f"{r['inner_scale']:.3g}" if isinstance(r.get("inner_scale"), float) else "-"
        elbo = f"{r['elbo_bits_per_dim']:.4f}" if "elbo_bits_per_dim" in r else "-"
        sse = f"{r['sse_per_image']:.2f}" if r.get("sse_per_image") is not None else r.get("error", "-")
        lines.append(
            f"| {r['kind']} | {r['inner_steps']} | {size} | "
            f"{origin.get('descent', '-') if r['inner_steps'] > 1 else '-'} | {r['seed']} | {r['training_steps']} | "
            f"{scale} | {sse} | {elbo} | "
            f"{r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder of the runs and their runs.jsonl (to train)")
    parser.add_argument("--kinds", nargs="+", default=["conv"])
    parser.add_argument("--steps-list", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--descent", choices=("backtracking", "plain"), default=None)
    parser.add_argument("--step-size", type=float, default=None)
    parser.add_argument("--training-steps", type=int, default=500)
    parser.add_argument("--data", default="mnist5k")
    parser.add_argument("--table", nargs="+", type=Path, help="print a markdown table of these runs.jsonl files")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for path in args.table for line in path.read_text().splitlines()]))
        return 0
    if args.out is None:
        parser.error("give --out (to train) or --table (to print)")
    args.out.mkdir(parents=True, exist_ok=True)
    rows_file = args.out / "runs.jsonl"
    done = {json.loads(line)["run"] for line in rows_file.read_text().splitlines()} if rows_file.exists() else set()
    for seed in args.seeds:
        for kind in args.kinds:
            for steps in args.steps_list:
                if run_name(kind, steps, seed, args) in done:
                    continue
                row = run_one(args.out, kind, steps, seed, args)
                print(json.dumps(row), flush=True)
                with rows_file.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
