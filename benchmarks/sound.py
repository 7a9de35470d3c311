"""The sound comparison's figures and numbers, from three trained runs on the sounds set: the
implicit GON, the conv GON and the autoencoder with the conv GON's decoder.

    gon train --model audio-implicit --data sounds --sample-rate 8000 --clip-seconds 0.5 \\
        --steps 900 --batch-size 32 --coordinate-samples 1024 --inner-scale paper --out runs/sound/implicit
    gon train --model audio-conv --data sounds --sample-rate 8000 --clip-seconds 0.5 \\
        --steps 2000 --batch-size 32 --inner-scale paper --out runs/sound/conv
    gon train --model audio-ae --data sounds --sample-rate 8000 --clip-seconds 0.5 \\
        --steps 2000 --batch-size 32 --out runs/sound/ae
    python -m benchmarks.sound runs/sound --out docs/results/sound

Writes into --out: results.json (held-out metrics, one row per clip and model), results.md,
reconstructions.png/.wav (held-out clips beside each model's reconstruction),
interpolation.png/.wav (a kick to a snare through the conv GON's latent space) and
render.png/.wav (the implicit GON trained at 8 kHz, rendered at 32 kHz, beside the
recording itself at 32 kHz).
"""

import argparse
import json
from pathlib import Path

import torch

from gon.audio import save_sound_figure, write_wav
from gon.data import load_sounds
from gon.evaluate import evaluate
from gon.gallery import interpolations
from gon.models import load_model
from gon.training import data_for_run

MODELS = (("implicit", "implicit GON"), ("conv", "conv GON"), ("ae", "autoencoder"))
SHOWN = ("bd_boom.flac", "elec_mid_snare.flac", "drum_bass_hard.flac", "guit_em9.flac")
KICK, SNARE = "bd_boom.flac", "elec_mid_snare.flac"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="a folder holding the runs implicit/, conv/ and ae/")
    parser.add_argument("--out", type=Path, default=Path("docs/results/sound"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models, rows, lines = {}, {}, []
    for name, label in MODELS:
        model, config, document = load_model(args.runs / name)
        test = data_for_run(document, config)
        metrics = evaluate(model, test, per_clip=True)
        history = [json.loads(line) for line in (args.runs / name / "metrics.jsonl").read_text().splitlines()]
        last = [r for r in history if "loss" in r][-1]
        snrs = torch.tensor([c["snr_db"] for c in metrics["clips"]])
        fitted = evaluate(model, data_for_run(document, config, split="train"))
        rows[name] = {
            **metrics,
            "train_sse_per_image": fitted["sse_per_image"],
            "train_snr_db": fitted["snr_db"],
            "training_loss": last["loss"],
            "steps": last["step"],
            "seconds": last["elapsed_s"],
            "median_snr_db": float(snrs.median()),
            "parameters": document["parameters"],
        }
        models[name] = (model, config, test)
        lines.append(
            f"| {label} | {config.kind} | {document['parameters']:,} | {last['step']} | "
            f"{fitted['sse_per_image']:.1f} | {fitted['snr_db']:.2f} | "
            f"{metrics['sse_per_image']:.1f} | {metrics['snr_db']:.2f} | {float(snrs.median()):.2f} | "
            f"{metrics['log_spectral_distance_db']:.1f} |"
        )
    test = models["conv"][2]
    energy = test.clips.pow(2).sum((1, 2))
    rows["silence"] = {"sse_per_image": float(energy.mean()), "snr_db": 0.0}
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    train_energy = load_sounds("sounds", "train", test.sample_rate, models["conv"][1].sound.clip_seconds).clips.pow(2)
    table = [
        "| model | kind | parameters | steps | training clips: SSE per clip | training clips: mean SNR (dB) | "
        "held-out SSE per clip | held-out mean SNR (dB) | held-out median SNR (dB) | "
        "held-out log-spectral distance (dB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *lines,
        f"| silence (all zeros) | | | | {float(train_energy.sum((1, 2)).mean()):.1f} | 0 | "
        f"{float(energy.mean()):.1f} | 0 | 0 | |",
    ]
    (args.out / "results.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))

    # the same held-out clips through each model
    index = [test.files.index(name) for name in SHOWN]
    x = test.batch(index)
    columns = [x] + [models[name][0].reconstruct(x) for name, _ in MODELS]
    rate = test.sample_rate
    save_sound_figure(
        [[c[i] for c in columns] for i in range(len(index))],
        args.out / "reconstructions.png",
        rate,
        ["original"] + [label for _, label in MODELS],
        list(SHOWN),
    )
    write_wav(args.out / "reconstructions.wav", torch.stack([c[i] for i in range(len(index)) for c in columns]), rate)

    # a kick to a snare through the conv GON's latent space
    conv = models["conv"][0]
    z = conv.encode(test.batch([test.files.index(KICK), test.files.index(SNARE)]))
    path = interpolations(conv, z[:1], z[1:], steps=6)
    save_sound_figure(
        [list(path)],
        args.out / "interpolation.png",
        rate,
        [f"t = {t:.1f}" for t in torch.linspace(0, 1, 6).tolist()],
        ["kick -> snare"],
    )
    write_wav(args.out / "interpolation.wav", path, rate)

    # super-resolution: the implicit GON at 8 kHz rendered at 32 kHz, against the recording at 32 kHz
    implicit, config, _ = models["implicit"]
    high = load_sounds("sounds", "test", 4 * rate, config.sound.clip_seconds)
    pick = [test.files.index(name) for name in SHOWN[:2]]
    rendered = implicit.render(implicit.encode(test.batch(pick)), 4 * config.sound.samples)
    truth = high.batch([high.files.index(name) for name in SHOWN[:2]])
    save_sound_figure(
        [[test.batch(i), r, t] for i, r, t in zip(pick, rendered, truth)],
        args.out / "render.png",
        [rate, 4 * rate, 4 * rate],
        ["original at 8 kHz", "implicit GON rendered at 32 kHz", "the recording at 32 kHz"],
        list(SHOWN[:2]),
    )
    write_wav(args.out / "render.wav", rendered, 4 * rate)
    print(f"wrote {args.out}/results.json, results.md, reconstructions, interpolation and render (.png, .wav)")


if __name__ == "__main__":
    main()
