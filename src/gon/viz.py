"""Pictures: image grids, loss curves, and latent interpolation paths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display here or in CI),
    imported on first use: it costs a second at start-up that most commands never need."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images: Tensor, columns: int | None = None, padding: int = 1) -> Image.Image:
    """(N, C, H, W) images in [0, 1] -> one PIL image, row-major, with `padding` px gaps."""
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = torch.ones(c, rows * (h + padding) + padding, columns * (w + padding) + padding)
    for i, image in enumerate(images.detach()):  # one image at a time: no copy of the whole set
        top, left = padding + (i // columns) * (h + padding), padding + (i % columns) * (w + padding)
        canvas[:, top:top + h, left:left + w] = torch.nan_to_num(image.float().cpu(), 0.0).clamp_(0, 1)
    array = canvas.mul_(255).round_().to(torch.uint8).numpy()
    return Image.fromarray(array[0] if c == 1 else array.transpose(1, 2, 0))


def save_grid(images: Tensor, path: str | Path, columns: int | None = None) -> Path:
    path = Path(path)
    image_grid(images, columns).save(path)
    return path


def save_gif(frames: list[Tensor], path: str | Path, columns: int | None = None, frame_ms: int = 120) -> Path:
    """An animated GIF, one grid per frame, played forwards then backwards, looping."""
    images = [image_grid(frame, columns) for frame in frames]
    images = images + images[-2:0:-1]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return Path(path)


def save_loss_plot(steps: list[int], losses: list[float], path: str | Path, ylabel: str = "training loss") -> Path:
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(steps, losses)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of a and b at fractions t (Fig. 6); linear when nearly parallel."""
    t = t.reshape(-1, *([1] * a.dim()))
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((a_n * b_n).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    linear = (1 - t) * a + t * b
    spherical = torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b
    return torch.where(so.abs() < 1e-6, linear, spherical)


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    t = t.reshape(-1, *([1] * a.dim()))
    return (1 - t) * a + t * b


def save_latent_histogram(latents: Tensor, path: str | Path, title: str = "") -> Path:
    """Histogram of all latent values against the normal with their mean and variance (Figs. 13-14)."""
    plt = _pyplot()

    values = latents.double().flatten().numpy()
    mean, std = values.mean(), values.std()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.hist(values, bins=100, density=True, alpha=0.7, label="latent values")
    grid = np.linspace(values.min(), values.max(), 400)
    ax.plot(grid, np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi)),
            label=f"N({mean:.2f}, {std:.2f}²)")
    ax.set_xlabel("latent value")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def save_latent_scatter(latents: Tensor, labels: Tensor, path: str | Path, title: str = "") -> Path:
    """Two-dimensional latents coloured by class (the paper's Fig. 12)."""
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    points = ax.scatter(latents[:, 0].numpy(), latents[:, 1].numpy(), c=labels.numpy(), cmap="tab10", s=4)
    ax.legend(*points.legend_elements(), title="class", loc="best", fontsize=7)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def save_curves(rows: list[dict], path: str | Path, title: str, train: bool = False) -> Path:
    """Ablation curves: a panel per rows' "panel", a line per "label" (mean over seeds) of
    held-out "test_sse" against "step"; with `train`, "train_sse" dashed in the same colour."""
    plt = _pyplot()

    panels = list(dict.fromkeys(r["panel"] for r in rows))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), dpi=100, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        mine = [r for r in rows if r["panel"] == panel]
        for i, label in enumerate(dict.fromkeys(r["label"] for r in mine)):
            steps = sorted({r["step"] for r in mine if r["label"] == label})
            for key, style in (("test_sse", "-"), ("train_sse", "--")) if train else (("test_sse", "-"),):
                mean = [np.mean([r[key] for r in mine if r["label"] == label and r["step"] == s]) for s in steps]
                name = f"{label} ({'test' if key == 'test_sse' else 'train'})" if train else label
                ax.plot(steps, mean, style, color=f"C{i % 10}", label=name)
        ax.set_title(panel)
        ax.set_xlabel("training step")
        ax.set_ylabel("summed squared error per image")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def save_ratio_map(rows: list[dict], path: str | Path) -> Path:
    """The map: a heat map per (data, pair, norm) of the baseline's held-out error over the
    GON's, latent size across, budget down; above 1 (blue) the GON is better."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    panels = list(dict.fromkeys((r["data"], r["gon"], r["baseline"], r["norm"]) for r in rows))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), dpi=110, squeeze=False,
                             gridspec_kw={"wspace": 0.45})  # room for each panel's budget labels
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
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=9,
                        color="white" if dark else "black")
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
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    longest = map_curve_panels(rows)
    panels = sorted(longest)
    columns = min(4, len(panels))
    fig, axes = plt.subplots(math.ceil(len(panels) / columns), columns, figsize=(4 * columns,
                             3.2 * math.ceil(len(panels) / columns)), dpi=100, squeeze=False)
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
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
