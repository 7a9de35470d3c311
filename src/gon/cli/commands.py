"""The `gon` commands: one function per command, each building a config or loading a run
and calling the library (`main` in gon/cli/__init__.py dispatches to them)."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

import torch

from ..affine_encoder import export_affine_encoder
from ..config import ModelConfig, TrainConfig, flat_fields, split_flat
from ..errors import GONError
from ..evaluate import encode_dataset, evaluate, latent_statistics
from ..export import export_run
from ..files import check_outputs, json_line, read_json, write_atomically
from ..gallery import interpolations, samples, spread
from ..kinds import kinds
from ..layout import RunLayout
from ..models import ImplicitGON, Variational, available_memory, load_model
from ..pretrained import pretrained_dir
from ..report import write_report
from ..samplers import GaussianSampler, MixtureSampler, PriorSampler, load_sampler, sampler_file, save_sampler
from ..signals import RENDER_FLAGS, Rendering, Signal, signal_of
from ..signals.base import PICTURE_BYTES_PER_VALUE  # noqa: F401 - the memory tests read it here
from ..training import data_for_run, resume, train
from ..training.prepare import data_signal
from ..viz import save_latent_histogram, save_latent_scatter


def _load_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model values, train values) of a --config file: a run's config.json ("model" and
    "train" sections) or a flat object of the flags' keys."""
    document = read_json(path, "no such config file")
    if not isinstance(document, dict):
        raise GONError(f"{path}: a config must be a JSON object")
    if "model" in document or "train" in document:
        model, train = document.get("model", {}), document.get("train", {})
        if not isinstance(model, dict) or not isinstance(train, dict):
            raise GONError(f"{path}: 'model' and 'train' must be JSON objects")
        return dict(model), dict(train)
    return split_flat(document, str(path))


def cmd_train(args: argparse.Namespace) -> int:
    flags = {key: getattr(args, key) for key in flat_fields() if getattr(args, key) is not None}
    if args.resume is not None:
        given = [k for k in (*flags, "config", "out") if getattr(args, k, None) is not None and k != "lr"]
        if given:
            raise GONError(
                f"--resume continues a run with its saved configuration (only --lr may lower its rate); "
                f"drop --{given[0].replace('_', '-')}"
            )
        run = resume(args.resume, progress=not args.quiet, lr=args.lr)
        return _report_written(run, lambda: f"wrote {args.resume}/ (resumed)")

    if args.steps is not None and args.epochs is not None:
        raise GONError("give --steps or --epochs, not both: each sets the length of training")
    model_values, train_values = _load_config_file(args.config) if args.config else ({}, {})
    model_flags, train_flags = split_flat(flags, "flags")
    train_config = TrainConfig.from_dict({**train_values, **train_flags})
    model_values = {**model_values, **model_flags}
    if model_values.get("signal") is None and model_values.get("kind", "conv") in kinds():
        # a kind of several signals takes the training data's (settings of that signal apply)
        model_values["signal"] = data_signal(model_values.get("kind", "conv"), train_config.data)
    model_config = ModelConfig.from_dict(model_values)
    # without --out, a new versioned folder (runs/conv, runs/conv-2, ...): nothing is ever replaced
    out = args.out if args.out is not None else Path("runs") / model_config.kind
    run = train(
        model_config, train_config, out, progress=not args.quiet, overwrite=args.overwrite, version=args.out is None
    )
    return _report_written(
        run, lambda: f"wrote {run.directory}/ ({', '.join(sorted(p.name for p in run.directory.iterdir()))})"
    )


def _report_written(run, wrote) -> int:
    """Say what a training command wrote, and its held-out metrics; under torchrun only
    rank 0 has written the run (the others get no directory) and only it speaks."""
    if run.directory is None:
        return 0
    print(wrote())
    if run.metrics:
        print(_describe(run.metrics, signal_of(run.model_config)))
    return 0


def _describe(metrics: dict[str, Any], signal: Signal | None) -> str:
    # the keys keep the image names (files written since the first release read them); the words are the signal's
    words = signal if signal is not None else Signal
    lines = [f"{metrics.get('data', '')} {metrics.get('split', '')}: {metrics['images']} {words.item}".strip()]
    for name, value in (
        (f"summed squared error per {words.one}:", f"{metrics['sse_per_image']:.4f}"),
        (f"mean squared error per {words.position}:", f"{metrics['mse_per_pixel']:.6f}"),
    ):
        lines.append(f"  {name:<32}{value}")
    if "accuracy" in metrics:
        lines.append(f"  classification accuracy:        {metrics['accuracy']:.4f}")
    if "elbo_bits_per_dim" in metrics:
        lines.append(f"  negative ELBO (bits/dim):       {metrics['elbo_bits_per_dim']:.4f}")
    if signal is not None:
        lines += signal.metric_lines(metrics)
    return "\n".join(lines)


def _load(args: argparse.Namespace):
    """The model of args.run, or of --pretrained NAME; sets args.home, where pictures go by
    default: the run directory, or the working directory for a shipped model (never the package)."""
    if getattr(args, "pretrained", None):
        if args.run is not None:
            raise GONError(f"give a run directory or --pretrained {args.pretrained}, not both")
        args.run, args.home = pretrained_dir(args.pretrained), Path(".")
    elif args.run is None:
        raise GONError(f"give a run directory (gon {args.command} RUN) or a shipped model (--pretrained NAME)")
    else:
        args.home = args.run
    return load_model(args.run)


def _data_for(args: argparse.Namespace, config, document: dict[str, Any], limit: int | None = None):
    return data_for_run(document, config, args.data, args.split, limit)


def cmd_eval(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    data = _data_for(args, config, document, args.limit)
    metrics = evaluate(model, data, args.batch_size, args.seed, args.batch_statistics, per_clip=args.json)
    metrics = {
        **metrics,
        "data": args.data or document.get("train", {}).get("data"),
        "split": args.split,
        "model": config.kind,
        "run": str(args.run),
    }
    print(_describe(metrics, signal_of(config)))
    if args.json:
        print(json_line(metrics))
    return 0


# the largest set of examples a command draws: 2^28 values (1 GiB as float32)
MAX_PICTURE_VALUES = 1 << 28


def _check_output_size(signal: Signal, count: int, shape: tuple[int, ...]) -> None:
    """GONError before allocating `count` examples of `shape` beyond MAX_PICTURE_VALUES, or beyond
    the memory available to render, draw and write them (the signal's bytes per value)."""
    values = count * math.prod(shape)
    what = f"{count} {signal.item} of {'x'.join(map(str, shape))}"
    if values > MAX_PICTURE_VALUES:
        raise GONError(
            f"{what} would take {values * 4 / 2**30:.1f} GiB; the limit is "
            f"{MAX_PICTURE_VALUES * 4 / 2**30:.0f} GiB: ask for fewer or smaller {signal.item}"
        )
    need = values * signal.bytes_per_value + (64 << 20)  # + the rendering chunk's hidden layers
    if need > available_memory():
        raise GONError(
            f"{what} would need about {need / 2**30:.1f} GiB to render, draw and write; "
            f"{available_memory() / 2**30:.1f} GiB are available: ask for fewer or smaller {signal.item}"
        )


def _rendering(args: argparse.Namespace, model, config: ModelConfig, count: int, render: bool = False) -> Rendering:
    """What the command renders (the signal reads its flags: --resolution, --sample-rate, --fps),
    `count` examples of it checked against memory first."""
    signal = signal_of(config)
    rendering = signal.rendering(
        config, isinstance(model, ImplicitGON), render, **{flag: getattr(args, flag, None) for flag in RENDER_FLAGS}
    )
    shape = signal.shape(config)
    _check_output_size(signal, count, shape[:1] + tuple(rendering.size) if rendering.size else shape)
    return rendering


def _wrote(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")


def cmd_reconstruct(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    signal = signal_of(config)
    out = args.out or RunLayout(args.home) / RunLayout.RECONSTRUCTIONS
    check_outputs(*signal.files(out))
    x = spread(_data_for(args, config, document), args.n)
    model.eval()
    _wrote(signal.write_pairs(x, model.reconstruct(x), out, config))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    signal = signal_of(config)
    rendering = _rendering(args, model, config, args.n)
    out = args.out or RunLayout(args.home) / RunLayout.SAMPLES
    check_outputs(*signal.files(out))
    kind = args.sampler if args.sampler != "auto" else ("prior" if isinstance(model, Variational) else "gaussian")
    if kind == "prior" and not isinstance(model, Variational):
        raise GONError("the prior sampler needs a variational model; use --sampler gaussian or gmm")
    if kind == "prior":
        sampler = PriorSampler(config.latent_dim)
    elif sampler_file(args.run, kind).exists():
        sampler = load_sampler(args.run, kind, config.latent_dim)
    else:  # fitted once on the training latents, then saved next to the model
        args.split, args.data = "train", None
        latents = encode_dataset(model, _data_for(args, config, document, 5000))
        if kind == "gmm":
            sampler, scores = MixtureSampler.fit(latents)
            print(
                "held-out log-likelihood per latent by components: "
                + ", ".join(f"{k}: {v:.2f}" for k, v in scores.items())
                + f" -> {len(sampler.weights)}"
            )
        else:
            sampler = GaussianSampler.fit(latents)
        if args.pretrained:  # the package's folder is read-only to us
            print(f"fitted a {kind} sampler to {len(latents)} training latents")
        else:
            print(f"wrote {save_sampler(args.run, sampler)} (fitted to {len(latents)} training latents)")
    examples = samples(model, sampler, args.n, args.seed, rendering.size)
    _wrote(signal.write_examples(examples, out, config, None, rendering))
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    signal = signal_of(config)
    rendering = _rendering(args, model, config, args.pairs * args.steps)
    out = args.out or RunLayout(args.home) / RunLayout.INTERPOLATIONS
    check_outputs(*signal.files(out), *([args.gif] if args.gif else []))
    if args.gif:
        signal.check_steps_gif()
    data = _data_for(args, config, document)
    args.pairs = _pairs_in(data, args.pairs)
    z = model.encode(spread(data, 2 * args.pairs))
    examples = interpolations(model, z[0::2], z[1::2], args.steps, not args.linear, rendering.size)
    labels = [f"pair {i + 1}" for i in range(args.pairs)]
    titles = [f"t = {t:.2f}" for t in torch.linspace(0, 1, args.steps).tolist()]
    _wrote(signal.write_examples(examples, out, config, args.steps, rendering, titles, labels))
    if args.gif:
        signal.write_steps_gif(examples, args.pairs, args.steps, args.gif)
        print(f"wrote {args.gif}")
    return 0


def _pairs_in(data, pairs: int) -> int:
    """`pairs`, or as many pairs as `data` holds, with a notice."""
    if len(data) < 2:
        raise GONError(f"{data.name}: {len(data)} item(s); an interpolation needs two")
    if 2 * pairs > len(data):
        logging.getLogger("gon").info(
            "%s holds %d, fewer than the %d asked for: %d pair(s)", data.name, len(data), 2 * pairs, len(data) // 2
        )
    return min(pairs, len(data) // 2)


def cmd_render(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    if not isinstance(model, ImplicitGON):
        raise GONError(f"{args.run}: `gon render` needs an implicit model, this one is {config.kind!r}")
    signal = signal_of(config)
    rendering = _rendering(args, model, config, 2 * args.n, render=True)
    out = args.out or args.home / f"render-{rendering.label}.png"
    check_outputs(*signal.files(out))
    x = spread(_data_for(args, config, document), args.n)
    rendered = model.render(model.encode(x), rendering.size or signal.shape(config)[1:])
    _wrote(signal.write_render(x, rendered, out, config, rendering))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    out = args.out or RunLayout(args.run) / RunLayout.LATENTS_PLOT
    scatter = out.with_name(out.stem + "-2d.png")
    check_outputs(out, *([scatter] if config.latent_dim == 2 else []))
    data = _data_for(args, config, document, args.limit)
    latents = encode_dataset(model, data)
    if not torch.isfinite(latents).all():
        raise GONError(
            f"{args.run}: the model's latents are not finite (its weights hold NaN or infinity): nothing to inspect"
        )
    stats = {**latent_statistics(latents), "data": data.name, "model": config.kind}
    write_atomically(out, lambda tmp: save_latent_histogram(latents, tmp, f"{config.kind} latents, {data.name}"))
    print(f"{stats['images']} latents of {data.name} ({stats['latent_dim']} dimensions)")
    print(
        f"  per-dimension means: {stats['mean_of_means']:.3f} +- {stats['std_of_means']:.3f}; "
        f"standard deviations: {stats['mean_of_stds']:.3f} +- {stats['std_of_stds']:.3f}"
    )
    print(
        f"  standardised and pooled: skewness {stats['skewness']:.3f}, excess kurtosis "
        f"{stats['excess_kurtosis']:.3f}, KS distance to N(0, 1) {stats['ks_distance_to_normal']:.4f}"
    )
    print(f"wrote {out}")
    if config.latent_dim == 2 and data.labels is not None:
        write_atomically(
            scatter,
            lambda tmp: save_latent_scatter(
                latents, data.labels[: len(latents)], tmp, f"{config.kind} latents by class"
            ),
        )
        print(f"wrote {scatter}")
    if args.json:
        print(json_line(stats))
    return 0


def cmd_export_encoder(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    data = _data_for(args, config, document, 256)
    encoder = export_affine_encoder(model, data.shape, data.batch(slice(0, len(data))))
    out = write_atomically(args.out or RunLayout(args.run) / RunLayout.ENCODER, encoder.save)
    print(
        f"wrote {out}: z = W x + b with W {tuple(encoder.weight.shape)}, checked on {len(data)} {data.item} of {data.name}"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:

    print(f"wrote {write_report(args.run, args.out)}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:

    result = export_run(args.run, args.out, args.encoder_out or args.encoder, args.data, args.split)
    shape = ", ".join(map(str, result.image_shape))
    print(f"wrote {result.decoder}: latent (batch, {result.latent_dim}) -> {result.item} (batch, {shape})")
    print(
        f"  onnxruntime vs PyTorch on the latents of {result.images} {result.item} of {result.data}: "
        f"max abs difference {result.decoder_error:.2e}"
    )
    if result.encoder is not None:
        print(f"wrote {result.encoder}: {result.item} (batch, {shape}) -> latent (batch, {result.latent_dim})")
        print(f"  onnxruntime vs model.encode on the same {result.item}: max abs difference {result.encoder_error:.2e}")
    return 0
