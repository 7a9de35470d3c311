#!/usr/bin/env bash
# Regenerate every picture of the gallery (docs/results.md) and docs/ from the offline data
# (about 30 minutes on 2 CPU cores). Runs go into runs/, pictures into docs/images/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
img=docs/images
# the committed pictures were made on two threads; the thread count changes the last bits
# of the weights (docs/reliability.md), so it is pinned here to reproduce them
T=(--threads 2)

# convolutional GON: reconstructions, samples, interpolations, latent histogram
gon train --model conv --data mnist5k --steps 2000 --out runs/demo --overwrite --quiet "${T[@]}"
cp runs/demo/reconstructions.png runs/demo/samples.png runs/demo/interpolations.png "$img"/
gon inspect runs/demo --out "$img"/latents.png
gon interpolate runs/demo --gif "$img"/interpolations.gif

# implicit GON: super-resolution renders at 256x256 of a model trained at 28x28
gon train --model implicit --data mnist5k --steps 300 --out runs/implicit --overwrite --quiet "${T[@]}"
gon render runs/implicit --resolution 256 -n 4 --out "$img"/render_256.png
gon reconstruct runs/implicit -n 8 --out "$img"/render_28.png

# GON classifier with a two-dimensional latent (Fig. 12)
gon train --model implicit --classes 10 --latent-dim 2 --hidden-features 128 --num-layers 3 \
    --reconstruction-weight 0 --steps 600 --out runs/classifier-2d --overwrite --quiet "${T[@]}"
gon inspect runs/classifier-2d --out runs/classifier-2d/latents.png
cp runs/classifier-2d/latents-2d.png "$img"/classifier_2d.png

# inpainting against an autoencoder; Monte Carlo coordinates at 64x64; speed
python -m benchmarks.inpainting --steps 1500 --seeds 0 1 2 --out "$img"/inpainting.png
python -m benchmarks.monte_carlo --seconds 240 --samples 1024 --out "$img"/monte_carlo_64.png
python -m benchmarks.batch_sweep --kinds conv implicit --out "$img"/batch_sweep
