"""Held-out figures of sound models beside their linear bound: trained runs on the sounds set,
each scored per clip on the test split (mean and median SNR, COIN++'s PSNR with amplitudes in
[0, 1], log-spectral distance), next to silence and to PCA with the same latent budget (the best
linear code of the training clips with the run's tile and latent size: what any linear encoder
and decoder of that size reaches).

    gon train --model audio-modulated --data sounds --sample-rate 8000 --clip-seconds 0.5 \\
        --steps 1500 --batch-size 16 --out runs/modulated/k1-learned
    ...
    python -m benchmarks.modulated_sound runs/modulated/* --out docs/results/modulated-sound

Writes into --out: runs.jsonl (one row per run, appended; a run already there is replaced),
results.md (the table of every row), reconstructions.png/.wav (four held-out clips through each
run given with --show, beside PCA at the first shown run's budget) and, with --render, the
first shown run rendered at four times its rate beside the recording at that rate.
"""

import argparse
import json
import math
from pathlib import Path

import torch

from gon.audio import save_sound_figure, write_wav
from gon.data import load_sounds
from gon.evaluate import evaluate
from gon.models import load_model
from gon.signals.sound import SOUND
from gon.training import data_for_run

from . import references

SHOWN = ("bd_boom.flac", "elec_mid_snare.flac", "drum_bass_hard.flac", "guit_em9.flac")


def pca_reconstruction(train: torch.Tensor, test: torch.Tensor, tile: int, latent_dim: int) -> torch.Tensor:
    """Test clips (N, C, T) through the best linear code of the training clips' tiles of `tile`
    samples (the whole clip when tile = T): benchmarks.references."""
    return references.pca_reconstruction(train, test, (tile,), latent_dim, (-1.0, 1.0))


def clip_metrics(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """The sound signal's metrics (gon.signals.sound) for reconstructions y of clips x, as means
    over clips, and the median SNR."""
    sse = (x - y).double().pow(2).flatten(1).sum(1)
    metrics = SOUND.metrics(x, sse, lambda: y)
    return {
        "sse_per_clip": float(sse.mean()),
        "median_snr_db": float(metrics["snr_db"].median()),
        **{key: float(value.mean()) for key, value in metrics.items()},
    }


def run_row(path: Path, other: str | None = None) -> tuple[dict, object, object]:
    model, config, document = load_model(path)
    test = data_for_run(document, config)
    metrics = evaluate(model, test, per_clip=True)
    snrs = torch.tensor([c["snr_db"] for c in metrics["clips"]])
    fitted = evaluate(model, data_for_run(document, config, split="train"))
    history = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in history if "loss" in r][-1]
    tile = config.modulation.tile if config.modulation.tile is not None else config.sound.samples
    latent_values = model.latent_dim
    row = {
        "run": str(path),
        "kind": config.kind,
        "tile": tile if config.kind == "audio-modulated" else None,
        "latent_dim": config.latent_dim,
        "latent_values_per_clip": latent_values,
        "inner_steps": config.origin.steps,
        "step_sizes": config.origin.step_sizes,
        "hidden_features": config.hidden_features,
        "num_layers": config.siren.num_layers,
        "basis_features": config.modulation.basis_features,
        "first_w0": config.siren.first_w0,
        "lr": document["train"]["lr"],
        "seed": document["train"]["seed"],
        "steps": last["step"],
        "seconds": last["elapsed_s"],
        "parameters": document["parameters"],
        "sample_rate": config.sound.sample_rate,
        "clip_seconds": config.sound.clip_seconds,
        "test_clips": len(test),
        "sse_per_clip": metrics["sse_per_image"],
        "snr_db": metrics["snr_db"],
        "median_snr_db": float(snrs.median()),
        "psnr_db": metrics["psnr_db"],
        "log_spectral_distance_db": metrics["log_spectral_distance_db"],
        "train_snr_db": fitted["snr_db"],
    }
    if other is not None:  # every file of another folder, at the model's rate and length
        scores = evaluate(model, data_for_run(document, config, spec=other, split="all"), per_clip=True)
        row.update(
            other=other,
            other_snr_db=scores["snr_db"],
            other_psnr_db=scores["psnr_db"],
            other_median_snr_db=float(torch.tensor([c["snr_db"] for c in scores["clips"]]).median()),
        )
    return row, model, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="*", help="trained sound runs to score")
    parser.add_argument("--out", type=Path, default=Path("docs/results/modulated-sound"))
    parser.add_argument("--show", type=Path, nargs="*", default=[], help="runs whose reconstructions are drawn")
    parser.add_argument("--render", action="store_true", help="render the first shown run at 4x its rate")
    parser.add_argument(
        "--pca",
        nargs="*",
        default=["4000:32"],
        metavar="TILE:K",
        help="further PCA references: K values per TILE samples (4000:32, one 32-value latent per "
        "0.5 s clip at 8 kHz, is the budget of the paper's implicit GON)",
    )
    parser.add_argument(
        "--other",
        metavar="SPEC",
        help="also score every clip of this audio:DIR (recordings from "
        "another source: bash benchmarks/speech_clips.sh DIR)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    rows_path = args.out / "runs.jsonl"
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()] if rows_path.exists() else []
    for path in args.runs:
        row, _, _ = run_row(path, args.other)
        rows = [r for r in rows if r["run"] != row["run"]] + [row]
        print(json.dumps(row))
    rows_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # references at every latent budget of the rows, on the same clips
    references = []
    settings = sorted({(r["sample_rate"], r["clip_seconds"]) for r in rows})
    for rate, seconds in settings:
        train, test = (load_sounds("sounds", split, rate, seconds).clips for split in ("train", "test"))
        references.append(
            {
                "method": "silence",
                "sample_rate": rate,
                "clip_seconds": seconds,
                **clip_metrics(test, torch.zeros_like(test)),
            }
        )
        budgets = sorted(
            {
                (r["tile"] or test.shape[-1], r["latent_dim"])
                for r in rows
                if (r["sample_rate"], r["clip_seconds"]) == (rate, seconds)
            }
            | {(min(int(t), test.shape[-1]), int(k)) for t, k in (b.split(":") for b in args.pca)}
        )
        for tile, k in budgets:
            references.append(
                {
                    "method": f"PCA, {k} per {tile} samples",
                    "sample_rate": rate,
                    "clip_seconds": seconds,
                    "latent_values_per_clip": k * math.ceil(test.shape[-1] / tile),
                    **clip_metrics(test, pca_reconstruction(train, test, tile, k)),
                }
            )
        if args.other:
            other = load_sounds(args.other, "all", rate, seconds).clips
            references.append(
                {
                    "method": "silence",
                    "data": args.other,
                    "sample_rate": rate,
                    "clip_seconds": seconds,
                    **clip_metrics(other, torch.zeros_like(other)),
                }
            )
            for tile, k in budgets:
                references.append(
                    {
                        "method": f"PCA, {k} per {tile} samples",
                        "data": args.other,
                        "sample_rate": rate,
                        "clip_seconds": seconds,
                        "latent_values_per_clip": k * math.ceil(other.shape[-1] / tile),
                        **clip_metrics(other, pca_reconstruction(train, other, tile, k)),
                    }
                )
    (args.out / "references.json").write_text(json.dumps(references, indent=1) + "\n")
    head = (
        "| method | latent values per clip | inner steps | step sizes | seed | steps | seconds | "
        "held-out mean SNR (dB) | median SNR (dB) | PSNR [0, 1] (dB) | log-spectral distance (dB) | "
        "training clips: mean SNR (dB) | other source: mean SNR (dB) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def other_of(r: dict) -> str:
        twin = [
            o
            for o in references
            if o.get("data")
            and o["method"] == r["method"]
            and (o["sample_rate"], o["clip_seconds"]) == (r["sample_rate"], r["clip_seconds"])
        ]
        return f"{twin[0]['snr_db']:.2f}" if twin else ""

    for r in references:
        if "data" not in r:  # the other source's references stand in their twin's last column
            lines.append(
                f"| {r['method']} | {r.get('latent_values_per_clip', 0)} | | | | | | {r['snr_db']:.2f} | "
                f"{r['median_snr_db']:.2f} | {r['psnr_db']:.2f} | {r['log_spectral_distance_db']:.1f} | | "
                f"{other_of(r)} |"
            )
    for r in rows:
        what = r["kind"] + (f", {r['latent_dim']} per {r['tile']} samples" if r["tile"] else f", k = {r['latent_dim']}")
        if r.get("basis_features") is not None:
            what += f", basis {r['basis_features']}"
        other = f"{r['other_snr_db']:.2f}" if "other_snr_db" in r else ""
        lines.append(
            f"| {what} | {r['latent_values_per_clip']} | {r['inner_steps']} | {r['step_sizes']} | {r['seed']} | "
            f"{r['steps']} | {r['seconds']:.0f} | {r['snr_db']:.2f} | {r['median_snr_db']:.2f} | "
            f"{r['psnr_db']:.2f} | {r['log_spectral_distance_db']:.1f} | {r['train_snr_db']:.2f} | {other} |"
        )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.show:
        shown = [run_row(path) for path in args.show]
        _, first, test = shown[0]
        index = [test.files.index(name) for name in SHOWN]
        x = test.batch(index)
        train = load_sounds("sounds", "train", test.sample_rate, first.config.sound.clip_seconds).clips
        tile = first.config.modulation.tile or x.shape[-1]
        pca = pca_reconstruction(train, x, tile, first.config.latent_dim)
        columns = [x, pca] + [model.reconstruct(x) for _, model, _ in shown]
        titles = ["original", f"PCA, {first.config.latent_dim} per {tile}"] + [Path(r["run"]).name for r, _, _ in shown]
        save_sound_figure(
            [[c[i] for c in columns] for i in range(len(index))],
            args.out / "reconstructions.png",
            test.sample_rate,
            titles,
            list(SHOWN),
        )
        write_wav(
            args.out / "reconstructions.wav",
            torch.stack([c[i] for i in range(len(index)) for c in columns]),
            test.sample_rate,
        )
        if args.render:
            rate = 4 * test.sample_rate
            high = load_sounds("sounds", "test", rate, first.config.sound.clip_seconds)
            pick = index[:2]
            rendered = first.render(first.encode(test.batch(pick)), 4 * first.config.sound.samples)
            truth = high.batch([high.files.index(name) for name in SHOWN[:2]])
            save_sound_figure(
                [[test.batch(i), r, t] for i, r, t in zip(pick, rendered, truth)],
                args.out / "render.png",
                [test.sample_rate, rate, rate],
                [f"original at {test.sample_rate} Hz", f"rendered at {rate} Hz", f"the recording at {rate} Hz"],
                list(SHOWN[:2]),
            )
            write_wav(args.out / "render.wav", rendered, rate)
        print(f"wrote {args.out}: reconstructions (.png, .wav){' and render' if args.render else ''}")


if __name__ == "__main__":
    main()
