"""Inpainting with a GON (Section 3.5, modality conversion): the inner loss sees only the
top half of each digit, the outer loss the whole digit, so the gradient-origin latent of
the visible half must decode to the full image. Compared with an autoencoder whose
encoder (mirroring the same decoder) sees the masked image, trained on the same loss.

    python -m benchmarks.inpainting --steps 1500 --seeds 0 1 2 --out docs/images/inpainting.png

Prints held-out summed squared error per image over the whole image and over the hidden
bottom half (mnist5k, 1,000 test digits, 32x32, conv decoder f = 16, k = 32).
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from gon.config import TrainConfig, paper_inner_scale
from gon.data import load_data
from gon.decoders import ConvDecoder
from gon.losses import masked_squared_error, squared_error
from gon.models import GON
from gon.models.baselines import Autoencoder, ConvEncoder
from gon.origin import OriginStep
from gon.training import fit, seed_everything
from gon.viz import save_grid

SIZE, LATENT, FILTERS = 32, 32, 16


def visible_mask() -> torch.Tensor:
    mask = torch.zeros(1, 1, SIZE, SIZE)
    mask[..., : SIZE // 2, :] = 1
    return mask


def build(method: str) -> torch.nn.Module:
    decoder = ConvDecoder(LATENT, 1, SIZE, FILTERS, "elu", "group")
    mask = visible_mask()
    if method == "gon":
        step = OriginStep(inner_scale=paper_inner_scale("conv", SIZE, 1))
        return GON(decoder, LATENT, step, inner_loss=masked_squared_error(mask), outer_loss=squared_error)
    return Autoencoder(
        ConvEncoder(LATENT, 1, SIZE, FILTERS, "elu", "group"), decoder, LATENT, corrupt=lambda x: x * mask
    )


@torch.no_grad()
def errors(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, float]:
    model.eval()
    completed = model.reconstruct(x)
    hidden = 1 - visible_mask()
    whole = squared_error(completed, x).mean().item()
    bottom = ((completed - x).pow(2) * hidden).flatten(1).sum(1).mean().item()
    return whole, bottom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("inpainting.png"))
    args = parser.parse_args()
    train = load_data("mnist5k", "train", image_size=SIZE)
    test = load_data("mnist5k", "test", image_size=SIZE)
    x_test = test.batch(slice(0, len(test)))
    results: dict[str, list[tuple[float, float, float]]] = {}
    pictures = {}
    for method in ("gon", "ae"):
        for seed in args.seeds:
            seed_everything(seed)
            model = build(method)
            start = time.perf_counter()
            fit(model, train, TrainConfig(steps=args.steps, lr=1e-3, seed=seed), progress=False)
            seconds = time.perf_counter() - start
            whole, bottom = errors(model, x_test)
            results.setdefault(method, []).append((whole, bottom, seconds))
            print(f"{method} seed {seed}: whole {whole:.2f}, hidden half {bottom:.2f} ({seconds:.0f} s)", flush=True)
            if seed == args.seeds[0]:
                pictures[method] = model.reconstruct(x_test[torch.linspace(0, len(x_test) - 1, 10).long()])
    shown = x_test[torch.linspace(0, len(x_test) - 1, 10).long()]
    save_grid(torch.cat([shown, shown * visible_mask(), pictures["gon"], pictures["ae"]]), args.out, columns=10)
    print(f"\ninpainting the bottom half, mnist5k held-out (1,000 digits), {args.steps} steps, seeds {args.seeds}")
    print(
        "| method | parameters | SSE per image, whole | SSE per image, hidden half | seconds |\n|---|---|---|---|---|"
    )
    for method, rows in results.items():
        params = sum(p.numel() for p in build(method).parameters())
        cells = [f"{statistics.mean(c):.2f} +- {statistics.stdev(c) if len(c) > 1 else 0:.2f}" for c in zip(*rows)]
        print(
            f"| {'GON (inner loss on the top half)' if method == 'gon' else 'autoencoder (masked input)'} "
            f"| {params:,} | {cells[0]} | {cells[1]} | {cells[2]} |"
        )
    print(f"\n{args.out}: rows are held-out digits, what both models see, GON completions, autoencoder completions")


if __name__ == "__main__":
    main()
