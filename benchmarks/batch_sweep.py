"""How training-step time grows with the batch: the paper's formulation against the
library's default step (and the plain decoder step), for each model kind.

    python -m benchmarks.batch_sweep --kinds conv implicit --out docs/images/batch_sweep

writes OUT.csv and OUT.png and prints a Markdown table.
"""

import argparse
import csv
from pathlib import Path

import torch

from benchmarks.speed import SpeedConfig, setup, time_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=["conv", "implicit"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("batch_sweep"))
    args = parser.parse_args()
    rows = []
    for kind in args.kinds:
        for batch in args.batch_sizes:
            _, _, _, steps = setup(SpeedConfig(kind=kind, batch_size=batch))
            medians = time_steps(steps, warmup=1, repeats=args.repeats)
            rows.append({"kind": kind, "batch_size": batch, **medians})
            print(f"{kind} batch {batch}: " + ", ".join(f"{k} {v:.4f} s" for k, v in medians.items()), flush=True)
            del steps
            torch.cuda.empty_cache() if torch.cuda.is_available() else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out.with_suffix(".png"))
    print("\n| model | batch | paper's formulation (s) | library (s) | plain decoder (s) | speed-up |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['kind']} | {r['batch_size']} | {r['reference']:.4f} | {r['gon']:.4f} | {r['plain']:.4f} "
            f"| {r['reference'] / r['gon']:.2f}x |"
        )


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({r["kind"] for r in rows})
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.6), dpi=100, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        mine = [r for r in rows if r["kind"] == kind]
        sizes = [r["batch_size"] for r in mine]
        for key, label in (
            ("reference", "paper's formulation"),
            ("gon", "library default step"),
            ("plain", "plain decoder step"),
        ):
            ax.plot(sizes, [r[key] for r in mine], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("seconds per training step")
        ax.set_title(f"{kind} GON, 2 CPU threads")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
