"""Pictures: image grids, loss curves, latent plots and interpolation paths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def pyplot():
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
        canvas[:, top : top + h, left : left + w] = torch.nan_to_num(image.float().cpu(), 0.0).clamp_(0, 1)
    array = canvas.mul_(255).round_().to(torch.uint8).numpy()
    return Image.fromarray(array[0] if c == 1 else array.transpose(1, 2, 0))


def save_grid(images: Tensor, path: str | Path, columns: int | None = None) -> Path:
    path = Path(path)
    image_grid(images, columns).save(path)
    return path


def save_gif(
    frames: list[Tensor], path: str | Path, columns: int | None = None, frame_ms: int = 120, bounce: bool = True
) -> Path:
    """An animated GIF, one grid per frame, played forwards then (`bounce`) backwards, looping."""
    images = [image_grid(frame, columns) for frame in frames]
    if bounce:
        images = images + images[-2:0:-1]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return Path(path)


def save_loss_plot(steps: list[int], losses: list[float], path: str | Path, ylabel: str = "training loss") -> Path:
    plt = pyplot()

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
    plt = pyplot()

    values = latents.double().flatten().numpy()
    mean, std = values.mean(), values.std()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.hist(values, bins=100, density=True, alpha=0.7, label="latent values")
    grid = np.linspace(values.min(), values.max(), 400)
    ax.plot(
        grid, np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi)), label=f"N({mean:.2f}, {std:.2f}²)"
    )
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
    plt = pyplot()

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
    plt = pyplot()

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
