"""What each normalisation does to the gradient-origin latent at initialisation: the size
of the latents of one batch of 64 held-out digits, and how much of it all the images
share (the norm of the batch mean against the norm of the per-dimension spread).

    python -m benchmarks.origin_latents > docs/results/gon-vs-ae/origin-latents.txt
"""

import torch

from gon import ConvOptions, ModelConfig, build_model, load_data


def main() -> None:
    torch.set_num_threads(1)
    x = load_data("mnist5k", "test", image_size=32, limit=64).batch(slice(0, 64))
    print("conv GON, k = 256, train mode, one batch of 64 mnist5k test digits, seeds 0-2")
    print("| norm | seed | norm of the batch mean of z | norm of the per-dimension std of z | mean / std |")
    print("|---|---|---|---|---|")
    for norm in ("batch", "group"):
        for seed in range(3):
            torch.manual_seed(seed)
            model = build_model(ModelConfig(kind="conv", latent_dim=256, conv=ConvOptions(norm=norm))).train()
            z = model.encode(x, create_graph=False)
            mean, spread = z.mean(0).norm().item(), z.std(0).norm().item()
            print(f"| {norm} | {seed} | {mean:.3e} | {spread:.3e} | {mean / spread:.2f} |")


if __name__ == "__main__":
    main()
