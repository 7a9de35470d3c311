"""The `gon` command line: parse, build a config, call the library."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .errors import GONError

def _config_fields(name: str) -> tuple[str, ...]:
    """The fields of gon.models.ModelConfig or gon.train.TrainConfig: each has a flag of the
    same name (kind: --model) and is a key of a flat --config file (tests/test_cli.py checks both)."""
    import dataclasses
    import importlib

    module, cls = {"model": ("gon.models", "ModelConfig"), "train": ("gon.train", "TrainConfig")}[name]
    return tuple(f.name for f in dataclasses.fields(getattr(importlib.import_module(module), cls)))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


class Parser(argparse.ArgumentParser):
    """argparse, with one line and a hint for a bad argument instead of the whole usage (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# CPU threads of every computing command: one, unless told. Two threads are faster only
# on an idle machine, and the weights depend on the thread count, so a fixed default gives
# the same numbers anywhere (measured in docs/design.md, "Threads").
DEFAULT_THREADS = 1


def _common_flags(q: argparse.ArgumentParser, threads: bool = True) -> None:
    if threads:
        q.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                       help="CPU threads (default %(default)s; more is faster only on an idle machine)")
    q.add_argument("--verbose", action="store_true", help="also log details (which gradient-origin path runs)")


def build_parser() -> argparse.ArgumentParser:
    from .data import KNOWN_SPECS
    from .decoders import ACTIVATIONS, NORMS
    from .distributed import DEVICES, PRECISIONS
    from .losses import LIKELIHOODS
    from .models import GON_KINDS, MODEL_KINDS

    from . import __version__
    from .train import TrainConfig

    parser = Parser(prog="gon", description="Gradient Origin Networks: encoder-free latent models.")
    parser.add_argument("--version", action="version", version=f"gon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_help = "data spec: " + ", ".join(KNOWN_SPECS)

    p = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a GON. Flags override values from --config.")
    p.add_argument("--config", type=Path, help="JSON file with 'model' and 'train' sections (as a run's config.json)")
    p.add_argument("--model", dest="kind", choices=MODEL_KINDS, help="model kind (default conv)")
    p.add_argument("--data", help=data_help + " (default mnist5k)")
    p.add_argument("--steps", type=_positive_int, help="training steps (default 1000)")
    p.add_argument("--epochs", type=_number, help="training length in epochs (instead of --steps)")
    p.add_argument("--batch-size", type=_positive_int, help=f"images per step (default {TrainConfig.batch_size})")
    p.add_argument("--lr", type=_number, help="Adam learning rate (default 1e-3; 1e-4 for implicit)")
    p.add_argument("--seed", type=int, help=f"seed of the weights and the batch order (default {TrainConfig.seed})")
    p.add_argument("--latent-dim", type=_positive_int, help="latent size k (default 32; 48 for variational)")
    p.add_argument("--hidden-features", type=_positive_int, help="base filters (conv) or SIREN width (implicit)")
    p.add_argument("--num-layers", type=_positive_int, help="SIREN hidden layers (implicit)")
    p.add_argument("--image-size", type=_positive_int, help="image side in pixels (default 32; 28 for implicit)")
    p.add_argument("--channels", type=_positive_int, help="1 (grey) or 3 (RGB) (default 1)")
    p.add_argument("--activation", choices=ACTIVATIONS)
    p.add_argument("--norm", choices=NORMS)
    p.add_argument("--w0", type=_number, help="SIREN frequency (implicit, default 30)")
    p.add_argument("--likelihood", choices=LIKELIHOODS, help="variational decoder likelihood")
    p.add_argument("--inner-steps", type=_positive_int, help="gradient steps from the origin (default 1)")
    p.add_argument("--inner-step-size", type=_number)
    p.add_argument("--detach", action="store_true", default=None, help="detach the latent (ablation)")
    p.add_argument("--origin-std", type=_number, help="noisy origin z0 ~ N(0, sigma^2) (Appendix C)")
    p.add_argument("--latent-form", choices=("negative_gradient", "descent"))
    p.add_argument("--inner-scale", type=_number, help="inner-loss scale (default: the paper's at batch 64)")
    p.add_argument("--coordinate-samples", type=_positive_int,
                   help="implicit: train on N random coordinates per step (Monte Carlo), not the whole grid")
    p.add_argument("--classes", type=_positive_int, help="train a GON classifier (Eq. 13) with this many classes")
    p.add_argument("--train-images", type=_positive_int,
                   help="GLO: rows of the code table (default: the number of training images)")
    p.add_argument("--latent-lr", type=_number, help="GLO: Adam rate of the codes and of encoding (default 0.1)")
    p.add_argument("--inference-steps", type=_positive_int,
                   help="GLO: optimisation steps that encode a new image (default 200)")
    p.add_argument("--reconstruction-weight", type=_number,
                   help="classifier: weight of the reconstruction loss trained with it (default 0.01; 0: classifier alone)")
    p.add_argument("--fit", choices=("resize", "pad"), help="how images are fitted to the model's size")
    p.add_argument("--limit", type=_positive_int, help="use only the first N training images")
    p.add_argument("--eval-limit", type=_positive_int, help="evaluate on only the first N test images")
    p.add_argument("--log-every", type=_positive_int)
    p.add_argument("--time-limit", type=_number, help="stop training after this many seconds")
    p.add_argument("--checkpoint-every", type=_positive_int, help="write a resumable checkpoint every N steps")
    p.add_argument("--keep-checkpoints", type=_positive_int, help="how many checkpoints to keep (default 2)")
    p.add_argument("--skip-nonfinite", action="store_true", default=None,
                   help="skip batches with a NaN or infinite loss instead of stopping")
    p.add_argument("--stream", action="store_true", default=None,
                   help="keep IDX and folder data out of memory (memory-mapped, decoded per batch)")
    p.add_argument("--device", choices=DEVICES, help="auto (default): cuda if available, else mps, else cpu")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="fp32 (default); bf16 or fp16 autocast (fp16 on CUDA only, with gradient scaling)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the decoder (baseline models; GONs need a double backward it cannot do)")
    p.add_argument("--sync-batchnorm", action="store_true", default=None,
                   help="under torchrun: BatchNorm statistics over the global batch (--norm batch, CUDA)")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="TensorBoard scalars and images in OUT/tensorboard (pip install '.[tensorboard]')")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the interrupted run that was to be written to DIR, from its newest checkpoint")
    p.add_argument("--out", type=Path,
                   help="run directory to create (default runs/<model>, or runs/<model>-2, ... if taken)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run directory (a gon run or an empty folder) once the new run is complete")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def run_command(name: str, help_text: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text, description=help_text)
        q.add_argument("run", type=Path, help="run directory written by `gon train`")
        return q

    def with_data(q: argparse.ArgumentParser) -> None:
        q.add_argument("--data", help=data_help + " (default: the run's training data)")
        q.add_argument("--split", choices=("train", "test"), default="test")

    q = run_command("eval", "evaluate a trained model on held-out data")
    with_data(q)
    q.add_argument("--batch-size", type=_positive_int, default=256)
    q.add_argument("--limit", type=_positive_int, help="evaluate on the first N images only")
    q.add_argument("--seed", type=int, default=0, help="seed of the posterior samples (variational ELBO)")
    q.add_argument("--batch-statistics", action="store_true",
                   help="normalise BatchNorm with batch statistics, as the paper's scripts (use --batch-size 64)")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    q = run_command("reconstruct", "write a grid of images (odd rows) and their reconstructions (even rows)")
    with_data(q)
    q.add_argument("-n", type=_positive_int, default=32, help="number of images (default %(default)s)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/reconstructions.png)")

    q = run_command("sample", "write a grid of samples")
    q.add_argument("-n", type=_positive_int, default=64, help="number of samples (default %(default)s)")
    q.add_argument("--sampler", choices=("auto", "prior", "gaussian", "gmm"), default="auto",
                   help="prior N(0, I) (variational); gaussian or gmm (a Gaussian mixture whose size is chosen by "
                        "held-out likelihood) fitted to training latents; auto: prior or gaussian")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--resolution", type=_positive_int, help="render resolution (implicit models)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/samples.png)")

    q = run_command("interpolate", "write spherical interpolations between encoded images")
    with_data(q)
    q.add_argument("--pairs", type=_positive_int, default=8, help="image pairs (default %(default)s)")
    q.add_argument("--steps", type=_positive_int, default=10, help="images per interpolation (default %(default)s)")
    q.add_argument("--linear", action="store_true", help="linear instead of spherical interpolation")
    q.add_argument("--resolution", type=_positive_int, help="render resolution (implicit models)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/interpolations.png)")
    q.add_argument("--gif", type=Path, help="also write an animated GIF: one frame per step, all pairs side by side")

    q = run_command("render", "render reconstructions of an implicit GON at any resolution")
    with_data(q)
    q.add_argument("--resolution", type=_positive_int, default=256, help="pixels per side (default %(default)s)")
    q.add_argument("-n", type=_positive_int, default=16, help="number of images (default %(default)s)")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/render-<resolution>.png)")
    q = run_command("inspect", "latent statistics: how normal a model's latents are, with a histogram (Figs. 13-14)")
    with_data(q)
    q.add_argument("--limit", type=_positive_int, default=5000, help="encode at most N images")
    q.add_argument("--out", type=Path, help="PNG file (default RUN/latents.png)")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    q = run_command("export-encoder", "write the affine encoder of a trained model as a matrix and offset")
    with_data(q)
    q.add_argument("--out", type=Path, help="safetensors file (default RUN/encoder.safetensors)")

    q = run_command("report", "write a run's config, loss curve, figures and evaluation as one self-contained HTML page")
    q.add_argument("--out", type=Path, help="HTML file (default RUN/report.html)")

    q = run_command("export-onnx", "export a trained model's decoder, and its affine encoder, to ONNX "
                                   "(checked in onnxruntime against PyTorch on real images)")
    with_data(q)
    q.add_argument("--out", type=Path, help="ONNX file of the decoder (default RUN/decoder.onnx)")
    q.add_argument("--encoder", action="store_true", help="also export the affine encoder z = W x + b")
    q.add_argument("--encoder-out", type=Path,
                   help="ONNX file of the encoder (default encoder.onnx beside the decoder; implies --encoder)")

    bench = sub.add_parser("bench", help="benchmarks that print figures").add_subparsers(
        dest="bench", required=True, metavar="BENCHMARK")
    q = bench.add_parser("speed", help="seconds per training step: paper's formulation, library, plain decoder")
    q.add_argument("--model", dest="kind", choices=GON_KINDS, default="conv")
    q.add_argument("--batch-size", type=_positive_int, default=64)
    q.add_argument("--repeats", type=_positive_int, default=10)
    q.add_argument("--threads", type=_positive_int, default=2)
    q.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    from .experiments import ABLATION_NAMES, QUICK_DATA
    for name, what in (("table1", "Table 1: held-out summed squared error of GONs, autoencoders, detached and "
                                  "multi-step GONs, and GLO"),
                       ("table2", "Table 2: held-out negative ELBO (bits/dim) of a variational GON and a VAE")):
        q = bench.add_parser(name, help=what, description=what + ". Writes NAME.md, NAME.csv and runs.jsonl.")
        q.add_argument("--quick", action="store_true",
                       help="the CPU preset (minutes; docs/results.md) instead of the paper's epoch counts")
        q.add_argument("--data", nargs="+", default=list(QUICK_DATA), help="data specs (default: %(default)s)")
        q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        q.add_argument("--steps", type=_positive_int, help="training steps per run (overrides the preset)")
        q.add_argument("--out", type=Path, help=f"output directory (default runs/bench/{name})")
    from .comparison import METHODS, describe_presets
    what = ("When a GON beats an autoencoder with the same decoder: held-out error over latent size, budget and "
            "normalisation, each method at its best learning rate (chosen on a validation split)")
    q = bench.add_parser("map", help="the map: GON against autoencoder (and variational GON against VAE)",
                         description=what + ". Writes runs.jsonl, runs.csv, selection.csv, curves.csv, map.md, "
                         "ratio.png and curves.png; a rerun into the same --out continues it. Presets: "
                         + describe_presets() + ".")
    q.add_argument("--quick", action="store_true", help="the CPU preset (minutes) instead of the full map")
    q.add_argument("--data", nargs="+", help="data specs (default: the preset's)")
    q.add_argument("--methods", nargs="+", choices=list(METHODS), help="default: gon ae")
    q.add_argument("--latent-dims", type=_positive_int, nargs="+", help="restrict the preset's latent sizes")
    q.add_argument("--norms", nargs="+", choices=["group", "batch"], help="restrict the preset's normalisations")
    q.add_argument("--budgets", type=_positive_int, nargs="+", help="restrict the preset's budgets (steps)")
    q.add_argument("--seeds", type=int, nargs="+", help="override the preset's seeds")
    q.add_argument("--stages", nargs="+", choices=["selection", "grid"], default=["selection", "grid"])
    q.add_argument("--workers", type=_positive_int, default=2,
                   help="runs trained side by side, each in its own process (default %(default)s)")
    q.add_argument("--threads", type=_positive_int, default=1, help="threads per run (default %(default)s)")
    q.add_argument("--out", type=Path, help="output directory (default runs/bench/map, or map-quick)")
    q = bench.add_parser("ablation", help="an ablation of the paper's figures: curves as PNG and CSV",
                         description="Run one ablation: " + ", ".join(ABLATION_NAMES) + ".")
    q.add_argument("name", choices=ABLATION_NAMES)
    q.add_argument("--quick", action="store_true", help="the CPU preset (short runs)")
    q.add_argument("--data", default="mnist5k", help="data spec (default mnist5k)")
    q.add_argument("--seeds", type=int, nargs="+", default=[0])
    q.add_argument("--steps", type=_positive_int, help="training steps per curve (overrides the preset)")
    q.add_argument("--eval-images", type=_positive_int, default=500, help="held-out images evaluated (default 500)")
    q.add_argument("--out", type=Path, help="output directory (default runs/bench/ablations)")
    for name, command in sub.choices.items():
        if name != "bench":
            _common_flags(command)
    for name, command in bench.choices.items():  # speed and map set threads per measurement or per worker
        _common_flags(command, threads=name not in ("speed", "map"))
    return parser


def _load_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from .checkpoint import read_json

    document = read_json(path, "no such config file")
    if not isinstance(document, dict):
        raise GONError(f"{path}: a config must be a JSON object")
    if "model" in document or "train" in document:
        model, train = document.get("model", {}), document.get("train", {})
        if not isinstance(model, dict) or not isinstance(train, dict):
            raise GONError(f"{path}: 'model' and 'train' must be JSON objects")
        return dict(model), dict(train)
    unknown = sorted(set(document) - set(_config_fields("model")) - set(_config_fields("train")))
    if unknown:
        raise GONError(f"{path}: unknown config key(s): {', '.join(unknown)}")
    return ({k: v for k, v in document.items() if k in _config_fields("model")},
            {k: v for k, v in document.items() if k in _config_fields("train")})


def cmd_train(args: argparse.Namespace) -> int:
    from .models import ModelConfig
    from .train import TrainConfig, resume, train

    if args.resume is not None:
        given = [k for k in (*_config_fields("model"), *_config_fields("train"), "config", "out") if getattr(args, k, None) is not None
                 and k != "lr"]
        if given:
            raise GONError(f"--resume continues a run with its saved configuration (only --lr may lower its rate); "
                           f"drop --{given[0].replace('_', '-')}")
        run = resume(args.resume, progress=not args.quiet, lr=args.lr)
        return _report_written(run, lambda: f"wrote {args.resume}/ (resumed)")

    model_values, train_values = _load_config_file(args.config) if args.config else ({}, {})
    model_values.update({k: getattr(args, k) for k in _config_fields("model") if getattr(args, k) is not None})
    train_values.update({k: getattr(args, k) for k in _config_fields("train") if getattr(args, k) is not None})
    model_config = ModelConfig.from_dict(model_values)
    train_config = TrainConfig.from_dict(train_values)
    # without --out, a new versioned folder (runs/conv, runs/conv-2, ...): nothing is ever replaced
    out = args.out if args.out is not None else Path("runs") / model_config.kind
    run = train(model_config, train_config, out, progress=not args.quiet, overwrite=args.overwrite,
                version=args.out is None)
    return _report_written(run, lambda: f"wrote {run.directory}/ "
                           f"({', '.join(sorted(p.name for p in run.directory.iterdir()))})")


def _report_written(run, wrote) -> int:
    """Say what a training command wrote, and its held-out metrics; under torchrun only
    rank 0 has written the run (the others get no directory) and only it speaks."""
    if run.directory is None:
        return 0
    print(wrote())
    if run.metrics:
        print(_describe(run.metrics))
    return 0


def _describe(metrics: dict[str, Any]) -> str:
    lines = [f"{metrics.get('data', '')} {metrics.get('split', '')}: {metrics['images']} images".strip()]
    lines.append(f"  summed squared error per image: {metrics['sse_per_image']:.4f}")
    lines.append(f"  mean squared error per pixel:   {metrics['mse_per_pixel']:.6f}")
    if "accuracy" in metrics:
        lines.append(f"  classification accuracy:        {metrics['accuracy']:.4f}")
    if "elbo_bits_per_dim" in metrics:
        lines.append(f"  negative ELBO (bits/dim):       {metrics['elbo_bits_per_dim']:.4f}")
    return "\n".join(lines)


def _load(args: argparse.Namespace):
    from .checkpoint import load_model

    return load_model(args.run)


def _data_for(args: argparse.Namespace, config, document: dict[str, Any], limit: int | None = None):
    from .train import load_for_run

    return load_for_run(document, config, args.data, args.split, limit)


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    model, config, document = _load(args)
    data = _data_for(args, config, document, args.limit)
    metrics = evaluate(model, data, args.batch_size, args.seed, args.batch_statistics)
    metrics = {**metrics, "data": args.data or document.get("train", {}).get("data"), "split": args.split,
               "model": config.kind, "run": str(args.run)}
    print(_describe(metrics))
    if args.json:
        print(json.dumps(metrics))
    return 0


# the largest set of pictures a command draws: 2^28 values (1 GiB as float32)
MAX_PICTURE_VALUES = 1 << 28


def _check_picture_size(count: int, channels: int, size: int) -> None:
    """GONError before allocating `count` images of `size` x `size` beyond MAX_PICTURE_VALUES."""
    values = count * channels * size * size
    if values > MAX_PICTURE_VALUES:
        raise GONError(f"{count} images of {channels}x{size}x{size} would take {values * 4 / 2 ** 30:.1f} GiB; "
                       f"the limit is {MAX_PICTURE_VALUES * 4 / 2 ** 30:.0f} GiB: ask for fewer or smaller images")


def _write_png(images, path: Path, columns: int | None = None) -> None:
    """In the format the suffix names, written to a temporary file then renamed, so a failure
    never leaves half an image."""
    from .files import write_atomically
    from .viz import image_grid

    from PIL import Image

    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format not in Image.SAVE:
        raise GONError(f"{path}: cannot write images as {path.suffix or 'a file without a suffix'}: "
                       f"name a .png, .jpg, .webp, .bmp or .tif file")
    write_atomically(path, lambda tmp: image_grid(images, columns).save(tmp, format=image_format))
    print(f"wrote {path}")


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .figures import reconstruction_pairs, spread

    model, config, document = _load(args)
    x = spread(_data_for(args, config, document), args.n)
    _write_png(reconstruction_pairs(model, x), args.out or args.run / "reconstructions.png", 8)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from .checkpoint import load_sampler, sampler_file, save_sampler
    from .evaluate import encode_dataset
    from .figures import samples
    from .models import ImplicitGON, VariationalGON
    from .samplers import GaussianSampler, MixtureSampler, PriorSampler

    model, config, document = _load(args)
    _check_picture_size(args.n, config.channels, args.resolution or config.image_size)
    kind = args.sampler if args.sampler != "auto" else ("prior" if isinstance(model, VariationalGON) else "gaussian")
    if kind == "prior" and not isinstance(model, VariationalGON):
        raise GONError("the prior sampler needs a variational model; use --sampler gaussian or gmm")
    if kind == "prior":
        sampler = PriorSampler(config.latent_dim)
    elif sampler_file(args.run, kind).exists():
        sampler = load_sampler(args.run, kind)
    else:  # fitted once on the training latents, then saved next to the model
        args.split, args.data = "train", None
        latents = encode_dataset(model, _data_for(args, config, document, 5000))
        if kind == "gmm":
            sampler, scores = MixtureSampler.fit(latents)
            print("held-out log-likelihood per latent by components: "
                  + ", ".join(f"{k}: {v:.2f}" for k, v in scores.items()) + f" -> {len(sampler.weights)}")
        else:
            sampler = GaussianSampler.fit(latents)
        print(f"wrote {save_sampler(args.run, sampler)} (fitted to {len(latents)} training latents)")
    if args.resolution and not isinstance(model, ImplicitGON):
        raise GONError("--resolution needs an implicit model")
    images = samples(model, sampler, args.n, args.seed, args.resolution)
    _write_png(images, args.out or args.run / "samples.png")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from .figures import interpolations, spread
    from .models import ImplicitGON

    model, config, document = _load(args)
    if args.resolution and not isinstance(model, ImplicitGON):
        raise GONError("--resolution needs an implicit model")
    _check_picture_size(args.pairs * args.steps, config.channels, args.resolution or config.image_size)
    z = model.encode(spread(_data_for(args, config, document), 2 * args.pairs))
    images = interpolations(model, z[0::2], z[1::2], args.steps, not args.linear, args.resolution)
    _write_png(images, args.out or args.run / "interpolations.png", args.steps)
    if args.gif:
        from .files import write_atomically
        from .viz import save_gif

        by_pair = images.reshape(args.pairs, args.steps, *images.shape[1:])
        write_atomically(args.gif, lambda tmp: save_gif([by_pair[:, t] for t in range(args.steps)], tmp,
                                                        columns=args.pairs))
        print(f"wrote {args.gif}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .figures import spread
    from .models import ImplicitGON

    model, config, document = _load(args)
    if not isinstance(model, ImplicitGON):
        raise GONError(f"{args.run}: `gon render` needs an implicit model, this one is {config.kind!r}")
    _check_picture_size(args.n, config.channels, args.resolution)
    z = model.encode(spread(_data_for(args, config, document), args.n))
    _write_png(model.render(z, args.resolution), args.out or args.run / f"render-{args.resolution}.png")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .evaluate import encode_dataset, latent_statistics
    from .viz import save_latent_histogram

    model, config, document = _load(args)
    data = _data_for(args, config, document, args.limit)
    latents = encode_dataset(model, data)
    stats = {**latent_statistics(latents), "data": data.name, "model": config.kind}
    out = args.out or args.run / "latents.png"
    save_latent_histogram(latents, out, f"{config.kind} GON latents, {data.name}")
    print(f"{stats['images']} latents of {data.name} ({stats['latent_dim']} dimensions)")
    print(f"  per-dimension means: {stats['mean_of_means']:.3f} +- {stats['std_of_means']:.3f}; "
          f"standard deviations: {stats['mean_of_stds']:.3f} +- {stats['std_of_stds']:.3f}")
    print(f"  standardised and pooled: skewness {stats['skewness']:.3f}, excess kurtosis "
          f"{stats['excess_kurtosis']:.3f}, KS distance to N(0, 1) {stats['ks_distance_to_normal']:.4f}")
    print(f"wrote {out}")
    if config.latent_dim == 2 and data.labels is not None:
        from .viz import save_latent_scatter

        scatter = out.with_name(out.stem + "-2d.png")
        save_latent_scatter(latents, data.labels[: len(latents)], scatter, f"{config.kind} GON latents by class")
        print(f"wrote {scatter}")
    if args.json:
        print(json.dumps(stats))
    return 0


def cmd_export_encoder(args: argparse.Namespace) -> int:
    from .encoder import export_affine_encoder
    from .files import write_atomically

    model, config, document = _load(args)
    data = _data_for(args, config, document, 256)
    encoder = export_affine_encoder(model, data.shape, data.batch(slice(0, len(data))))
    out = write_atomically(args.out or args.run / "encoder.safetensors", encoder.save)
    print(f"wrote {out}: z = W x + b with W {tuple(encoder.weight.shape)}, checked on {len(data)} images of {data.name}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import SpeedConfig, format_speed, speed
    from . import experiments

    if args.bench in ("table1", "table2"):
        run = experiments.table1 if args.bench == "table1" else experiments.table2
        result = run(args.out or Path("runs/bench") / args.bench, quick=args.quick, data=tuple(args.data),
                     seeds=tuple(args.seeds), steps=args.steps)
        print(result.markdown)
        print(f"wrote {result.directory}/{args.bench}.md, {args.bench}.csv and runs.jsonl")
        return 0
    if args.bench == "map":
        from .comparison import gon_vs_ae

        out = args.out or Path("runs/bench") / ("map-quick" if args.quick else "map")
        result = gon_vs_ae(out, quick=args.quick, data=_tuple(args.data), methods=_tuple(args.methods),
                           latent_dims=_tuple(args.latent_dims), norms=_tuple(args.norms),
                           budgets=_tuple(args.budgets), seeds=_tuple(args.seeds), workers=args.workers,
                           threads=args.threads, stages=tuple(args.stages))
        print(result.markdown)
        print(f"wrote {result.directory}/map.md, runs.csv, selection.csv, curves.csv, ratio.png and curves.png")
        return 0
    if args.bench == "ablation":
        out = experiments.ablation(args.name, args.out or Path("runs/bench/ablations"), quick=args.quick,
                                   data=args.data, seeds=tuple(args.seeds), steps=args.steps,
                                   eval_images=args.eval_images)
        print(f"wrote {out}/{args.name}.png and {args.name}.csv")
        return 0
    result = speed(SpeedConfig(kind=args.kind, batch_size=args.batch_size, repeats=args.repeats,
                               threads=args.threads), memory=not args.no_memory)
    print(format_speed(result))
    if args.json:
        print(json.dumps(result))
    return 0


def _tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    print(f"wrote {write_report(args.run, args.out)}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .export import export_run

    result = export_run(args.run, args.out, args.encoder_out or args.encoder, args.data, args.split)
    shape = ", ".join(map(str, result.image_shape))
    print(f"wrote {result.decoder}: latent (batch, {result.latent_dim}) -> images (batch, {shape})")
    print(f"  onnxruntime vs PyTorch on the latents of {result.images} images of {result.data}: "
          f"max abs difference {result.decoder_error:.2e}")
    if result.encoder is not None:
        print(f"wrote {result.encoder}: images (batch, {shape}) -> latent (batch, {result.latent_dim})")
        print(f"  onnxruntime vs model.encode on the same images: max abs difference {result.encoder_error:.2e}")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "reconstruct": cmd_reconstruct, "sample": cmd_sample,
            "interpolate": cmd_interpolate, "render": cmd_render, "export-encoder": cmd_export_encoder,
            "inspect": cmd_inspect, "report": cmd_report, "export-onnx": cmd_export_onnx,
            "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="gon: %(message)s")
    logging.getLogger("gon").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if getattr(args, "threads", None) is not None and not (args.command == "bench" and args.bench in ("speed", "map")):
        import torch

        torch.set_num_threads(args.threads)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 speaks for all; the others only warn
        logging.getLogger("gon").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except GONError as error:
        print(f"gon: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        command = getattr(interrupt, "resume_command", None)
        print(f"gon: interrupted after step {interrupt.step}; checkpoint written: continue with `{command}`"
              if command else "gon: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not bad input: say so in one line; GON_DEBUG=1 shows the traceback
        if os.environ.get("GON_DEBUG"):
            raise
        print(f"gon: internal error: {type(error).__name__}: {error} (rerun with GON_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
