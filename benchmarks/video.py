"""Held-out figures of video models beside their references, and pictures of their clips: the map's
video preset (`python -m benchmarks map --preset video`: the conv GON, its autoencoder and the
modulated implicit GON, each at the rate chosen on validation, three seeds) summarised per method with
PSNR, next to the mean training clip and PCA at the same latent budget (whole clips, and per tile
as the implicit GON's latents are), on the same clips; and trained runs of each method (`gon train`,
seed 0, the map's settings) drawn on held-out clips.

    python -m benchmarks map --preset video --out runs/video-map
    gon train --model video-conv --data videos --channels 3 --frames 8 --fps 12 --frame-size 32 \\
        --latent-dim 256 --batch-size 8 --steps 300 --lr RATE --out runs/video/conv
    ...
    python -m benchmarks.video runs/video-map --show runs/video/conv runs/video/ae runs/video/modulated \\
        --out docs/results/video

Writes into --out: runs.jsonl (the map's grid rows), references.json, results.md (the table) and,
with --show, reconstructions.png (one held-out clip a row, one frame a column: each clip, then
PCA's and each run's reconstruction of it) and reconstructions.gif (the same, playing).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from gon.config import ModelConfig
from gon.models import load_model
from gon.signals.video import VIDEO
from gon.tiling import Tiling
from gon.training import data_for_model, data_for_run

from .map import VIDEO_KINDS
from .references import mean_reconstruction, pca_reconstruction
from .tables import mean_std

NAMES = {"gon": "conv GON", "ae": "autoencoder", "igon": "implicit GON"}  # the map's methods in words


def clip_scores(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Mean SSE and PSNR per clip (the video signal's metric) of reconstructions y of clips x."""
    sse = (x - y).double().pow(2).flatten(1).sum(1)
    return {"sse_per_clip": float(sse.mean()), "psnr_db": float(VIDEO.metrics(x, sse, lambda: y)["psnr_db"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("map", type=Path, help="the folder of a finished video map (its runs.jsonl)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/video"))
    parser.add_argument("--show", type=Path, nargs="*", default=[], help="trained runs whose reconstructions are drawn")
    parser.add_argument("--clips", type=int, nargs="*", default=[0, 2, 4], help="held-out clips drawn (indices)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in (args.map / "runs.jsonl").read_text().splitlines() if line.strip()]
    grid = [r for r in records if r["stage"] == "grid"]
    if not grid:
        raise SystemExit(f"{args.map}: no grid runs yet")
    (args.out / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in grid))
    first = grid[0]
    config = ModelConfig.from_dict(
        {"kind": "video-conv", **{k: first[k] for k in ("signal", "channels", "frames", "fps", "frame_size")}}
    )
    train, test = data_for_model(first["data"], "train", config), data_for_model(first["data"], "test", config)
    a, b = train.batch(torch.arange(len(train))), test.batch(torch.arange(len(test)))
    budget = first["latent_dim"]
    references = [
        {"method": "mean training clip", "latent_values_per_clip": 0, **clip_scores(b, mean_reconstruction(a, b))},
        {
            "method": f"PCA, whole clips, {budget} components (the training clips span {len(a) - 1})",
            "latent_values_per_clip": budget,
            **clip_scores(b, pca_reconstruction(a, b, tuple(b.shape[2:]), budget, VIDEO.value_range)),
        },
    ]
    for r in grid:
        if r.get("tile") and r["latent_per_tile"] != r["latent_dim"]:
            tile = Tiling.of(tuple(b.shape[2:]), r["tile"]).tile
            name = f"PCA, {r['latent_per_tile']} per tile of {'x'.join(map(str, tile))}"
            if all(ref["method"] != name for ref in references):
                references.append(
                    {
                        "method": name,
                        "latent_values_per_clip": budget,
                        **clip_scores(b, pca_reconstruction(a, b, tile, r["latent_per_tile"], VIDEO.value_range)),
                    }
                )
    (args.out / "references.json").write_text(json.dumps(references, indent=1) + "\n")
    lines = [
        f"Held-out clips of {first['data']}: {len(b)} clips ({len(a)} for training) of {first['frames']} frames "
        f"at {first['fps']} fps, {first['frame_size']}x{first['frame_size']}, {first['channels']} channel(s); "
        f"{budget} latent values a clip. Mean ± std over seeds; seconds: the mean training time of a run on one thread.",
        "",
        "| method | latent values per clip | lr | seeds | steps | held-out PSNR (dB) | held-out SSE per clip | "
        "seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ref in references:
        lines.append(
            f"| {ref['method']} | {ref['latent_values_per_clip']} | | | | {ref['psnr_db']:.2f} | "
            f"{ref['sse_per_clip']:.1f} | |"
        )
    for method, steps in dict.fromkeys((r["method"], r["steps"]) for r in grid):
        rows = [r for r in grid if (r["method"], r["steps"]) == (method, steps) and not r["diverged"]]
        if not rows:
            lines.append(f"| {NAMES.get(method, method)} | | | | {steps} | diverged in every run | | |")
            continue
        what = f"{NAMES.get(method, method)} ({VIDEO_KINDS[method]})"
        if rows[0]["latent_per_tile"] != rows[0]["latent_dim"]:
            what += f", {rows[0]['latent_per_tile']} per tile of {rows[0]['tile']} positions per axis"
        lines.append(
            f"| {what} | {rows[0]['latent_dim']} | {rows[0]['lr']:g} | {len(rows)} | {rows[0]['steps']} | "
            f"{mean_std([r['heldout_psnr_db'] for r in rows])} | "
            f"{mean_std([r['heldout_sse'] for r in rows])} | {statistics.mean(r['seconds'] for r in rows):.0f} |"
        )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.show:
        shown = [load_model(path) for path in args.show]
        _, run_config, document = shown[0]
        held = data_for_run(document, run_config)
        x = held.batch(args.clips)
        train_clips = data_for_run(document, run_config, split="train")
        pca = pca_reconstruction(
            train_clips.batch(torch.arange(len(train_clips))), x, tuple(x.shape[2:]), budget, VIDEO.value_range
        )
        with torch.no_grad():
            columns = [x, pca] + [model.reconstruct(x) for model, _, _ in shown]
        rows = torch.stack([c[i] for i in range(len(x)) for c in columns])
        written = VIDEO.write_examples(rows, args.out / "reconstructions.png", run_config, columns=len(columns))
        order = ["original", "PCA (whole clips)"] + [Path(p).name for p in args.show]
        print(f"wrote {', '.join(map(str, written))}: each held-out clip, then {', '.join(order[1:])}")


if __name__ == "__main__":
    main()
