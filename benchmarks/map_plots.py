"""The map's figures (map.py): the ratio heat map and the curves along
training, drawn from the map's own records (`ratio_table` rows and curve rows)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gon.viz import pyplot


def save_ratio_map(rows: list[dict], path: str | Path) -> Path:
    """The map: a heat map per (data, pair, norm) of the baseline's held-out error over the
    GON's, latent size across, budget down; above 1 (blue) the GON is better."""
    plt = pyplot()
    from matplotlib.colors import TwoSlopeNorm

    panels = list(dict.fromkeys((r["data"], r["gon"], r["baseline"], r["norm"]) for r in rows))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels), 3.4), dpi=110, squeeze=False, gridspec_kw={"wspace": 0.45}
    )  # room for each panel's budget labels
    spread = max([abs(math.log(r["ratio"])) for r in rows if r["ratio"] > 0 and math.isfinite(r["ratio"])] + [0.1])
    scale = TwoSlopeNorm(vcenter=1.0, vmin=math.exp(-spread), vmax=math.exp(spread))
    for ax, (data, gon, baseline, norm) in zip(axes[0], panels):
        mine = [r for r in rows if (r["data"], r["gon"], r["baseline"], r["norm"]) == (data, gon, baseline, norm)]
        ks = sorted({r["latent_dim"] for r in mine})
        budgets = sorted({r["steps"] for r in mine})
        grid = np.full((len(budgets), len(ks)), np.nan)
        for r in mine:
            grid[budgets.index(r["steps"]), ks.index(r["latent_dim"])] = r["ratio"]
        image = ax.imshow(grid, cmap="RdBu", norm=scale, aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):  # white on the darkest cells, so every figure stays legible
                dark = value > 0 and abs(math.log(value)) > 0.6 * spread
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=9, color="white" if dark else "black")
        ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        ax.set_yticks(range(len(budgets)), [f"{b:,}" for b in budgets])
        ax.set_xlabel("latent size k")
        ax.set_title(f"{data}: {baseline}/{gon}, {norm} norm", fontsize=9)
    axes[0][0].set_ylabel("training steps")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="baseline error / GON error")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


_METRIC_LABELS = {"heldout_sse": "held-out SSE per image", "heldout_bits_per_dim": "held-out bits/dim"}


def _map_panel(row: dict) -> tuple:
    return (row["data"], f"{row['gon']}/{row['baseline']}", row["latent_dim"], row["norm"])


def map_curve_panels(rows: list[dict]) -> dict[tuple, int]:
    """The panels of `save_map_curves`: (data, pair, latent size, norm) -> its longest budget."""
    longest: dict[tuple, int] = {}
    for r in rows:
        key = _map_panel(r)
        longest[key] = max(longest.get(key, 0), r["steps"])
    return longest


def save_map_curves(rows: list[dict], path: str | Path) -> Path:
    """Held-out error along training, a panel per (data, pair, latent size, norm) at its
    longest budget, a line per method (mean over seeds), against steps. Each row names its
    pair (`gon`, `baseline`) and the field it is judged by (`metric`); the pairs measure
    different things (SSE, bits/dim), so they never share a panel."""
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    longest = map_curve_panels(rows)
    panels = sorted(longest)
    columns = min(4, len(panels))
    fig, axes = plt.subplots(
        math.ceil(len(panels) / columns),
        columns,
        figsize=(4 * columns, 3.2 * math.ceil(len(panels) / columns)),
        dpi=100,
        squeeze=False,
    )
    for ax, key in zip(axes.flat, panels):
        mine = [r for r in rows if _map_panel(r) == key and r["steps"] == longest[key]]
        gon, metric = mine[0]["gon"], mine[0]["metric"]  # one pair, so one metric, per panel
        for method in sorted(dict.fromkeys(r["method"] for r in mine), key=lambda m: m != gon):
            steps = sorted({r["step"] for r in mine if r["method"] == method})
            mean = [np.mean([r[metric] for r in mine if r["method"] == method and r["step"] == s]) for s in steps]
            # the GON in one colour and its baseline in another, in every panel
            ax.plot(steps, mean, color="C0" if method == gon else "C1", label=method)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_title(f"{key[0]} {key[1]}, k={key[2]}, {key[3]} norm", fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
