"""The `gon` commands: one function per command, each building a config or loading a run
and calling the library (`main` in gon/cli/__init__.py dispatches to them)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..affine_encoder import export_affine_encoder
from ..audio import save_sound_figure, write_wav
from ..config import ModelConfig, TrainConfig, flat_fields, split_flat
from ..data.sound import clip_length
from ..errors import GONError
from ..evaluate import encode_dataset, evaluate, latent_statistics
from ..export import export_run
from ..files import check_outputs, json_line, read_json, write_atomically
from ..gallery import (
    interpolations,
    reconstruction_pairs,
    samples,
    save_sound_clips,
    save_sound_reconstructions,
    sound_paths,
    spread,
)
from ..layout import RunLayout
from ..models import ImplicitGON, Variational, available_memory, load_model
from ..pretrained import pretrained_dir
from ..report import write_report
from ..samplers import GaussianSampler, MixtureSampler, PriorSampler, load_sampler, sampler_file, save_sampler
from ..training import data_for_run, resume, train
from ..viz import image_grid, save_gif, save_latent_histogram, save_latent_scatter


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
            raise GONError(f"--resume continues a run with its saved configuration (only --lr may lower its rate); "
                           f"drop --{given[0].replace('_', '-')}")
        run = resume(args.resume, progress=not args.quiet, lr=args.lr)
        return _report_written(run, lambda: f"wrote {args.resume}/ (resumed)")

    if args.steps is not None and args.epochs is not None:
        raise GONError("give --steps or --epochs, not both: each sets the length of training")
    model_values, train_values = _load_config_file(args.config) if args.config else ({}, {})
    model_flags, train_flags = split_flat(flags, "flags")
    model_config = ModelConfig.from_dict({**model_values, **model_flags})
    train_config = TrainConfig.from_dict({**train_values, **train_flags})
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
    if "snr_db" in metrics:
        lines.append(f"  signal-to-noise ratio (dB):     {metrics['snr_db']:.2f} (mean over clips)")
        lines.append(f"  PSNR, amplitudes in [0, 1] (dB): {metrics['psnr_db']:.2f} (mean over clips)")
        lines.append(f"  log-spectral distance (dB):     {metrics['log_spectral_distance_db']:.2f}")
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
    metrics = {**metrics, "data": args.data or document.get("train", {}).get("data"), "split": args.split,
               "model": config.kind, "run": str(args.run)}
    print(_describe(metrics))
    if args.json:
        print(json_line(metrics))
    return 0


# the largest set of pictures a command draws: 2^28 values (1 GiB as float32)
MAX_PICTURE_VALUES = 1 << 28
# memory per output value while pictures are drawn and saved: the float32 output, the grid
# image's canvas and one image's temporary, the 8-bit copy (measured: docs/reliability.md,
# "Memory estimates")
PICTURE_BYTES_PER_VALUE = 16


def _check_picture_size(count: int, channels: int, size: int) -> None:
    """GONError before allocating `count` images of `size` x `size` beyond MAX_PICTURE_VALUES."""
    values = count * channels * size * size
    if values > MAX_PICTURE_VALUES:
        raise GONError(f"{count} images of {channels}x{size}x{size} would take {values * 4 / 2 ** 30:.1f} GiB; "
                       f"the limit is {MAX_PICTURE_VALUES * 4 / 2 ** 30:.0f} GiB: ask for fewer or smaller images")
    need = values * PICTURE_BYTES_PER_VALUE + (64 << 20)  # + the rendering chunk's hidden layers
    if need > available_memory():
        raise GONError(f"{count} images of {channels}x{size}x{size} would need about {need / 2 ** 30:.1f} GiB to "
                       f"draw and save; {available_memory() / 2 ** 30:.1f} GiB are available: ask for fewer or "
                       f"smaller images")


# memory per output sample while clips are rendered, drawn (waveform, log-spectrogram) and written
# as WAV (measured: docs/reliability.md, "Memory estimates")
SOUND_BYTES_PER_SAMPLE = 256


def _check_sound_size(count: int, samples: int) -> None:
    """GONError before allocating `count` clips of `samples` beyond MAX_PICTURE_VALUES, or beyond
    the memory available to render, draw and write them. (Each clip's length is bounded as a
    training clip's, `clip_length`, which bounds the time one takes.)"""
    if count * samples > MAX_PICTURE_VALUES:
        raise GONError(f"{count} clips of {samples:,} samples would take {count * samples * 4 / 2 ** 30:.1f} GiB; "
                       f"the limit is {MAX_PICTURE_VALUES * 4 / 2 ** 30:.0f} GiB: ask for fewer or shorter clips")
    need = count * samples * SOUND_BYTES_PER_SAMPLE + (64 << 20)  # + the rendering chunk's hidden layers
    if need > available_memory():
        raise GONError(f"{count} clips of {samples:,} samples would need about {need / 2 ** 30:.1f} GiB to render, "
                       f"draw and write; {available_memory() / 2 ** 30:.1f} GiB are available: ask for fewer clips "
                       f"or a lower --sample-rate")


def _wrote(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")


def _write_png(images, path: Path, columns: int | None = None) -> None:
    """In the format the suffix names, written to a temporary file then renamed, so a failure
    never leaves half an image."""


    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format not in Image.SAVE:
        raise GONError(f"{path}: cannot write images as {path.suffix or 'a file without a suffix'}: "
                       f"name a .png, .jpg, .webp, .bmp or .tif file")
    write_atomically(path, lambda tmp: image_grid(images, columns).save(tmp, format=image_format))
    print(f"wrote {path}")


def cmd_reconstruct(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    x = spread(_data_for(args, config, document), args.n)
    if config.sound:
        _wrote(save_sound_reconstructions(model, x, args.out or RunLayout(args.home) / RunLayout.RECONSTRUCTIONS,
                                          config.sample_rate))
        return 0
    _write_png(reconstruction_pairs(model, x), args.out or RunLayout(args.home) / RunLayout.RECONSTRUCTIONS, 8)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    sound, resolution = config.sound, args.resolution
    if sound:
        rate, resolution = _sound_rate(args, model, config)
        _check_sound_size(args.n, resolution or config.clip_samples)
    else:
        _image_only(args)
        _check_picture_size(args.n, config.channels, args.resolution or config.image_size)
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
            print("held-out log-likelihood per latent by components: "
                  + ", ".join(f"{k}: {v:.2f}" for k, v in scores.items()) + f" -> {len(sampler.weights)}")
        else:
            sampler = GaussianSampler.fit(latents)
        if args.pretrained:  # the package's folder is read-only to us
            print(f"fitted a {kind} sampler to {len(latents)} training latents")
        else:
            print(f"wrote {save_sampler(args.run, sampler)} (fitted to {len(latents)} training latents)")
    if args.resolution and not isinstance(model, ImplicitGON):
        raise GONError("--resolution needs an implicit model")
    images = samples(model, sampler, args.n, args.seed, resolution)
    if sound:
        _wrote(save_sound_clips(images, args.out or RunLayout(args.home) / RunLayout.SAMPLES, rate, 4))
        return 0
    _write_png(images, args.out or RunLayout(args.home) / RunLayout.SAMPLES)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    if config.sound:
        return _interpolate_sound(args, model, config, document)
    _image_only(args)
    if args.resolution and not isinstance(model, ImplicitGON):
        raise GONError("--resolution needs an implicit model")
    _check_picture_size(args.pairs * args.steps, config.channels, args.resolution or config.image_size)
    out = args.out or RunLayout(args.home) / RunLayout.INTERPOLATIONS
    check_outputs(out, *([args.gif] if args.gif else []))
    data = _data_for(args, config, document)
    args.pairs = _pairs_in(data, args.pairs)
    z = model.encode(spread(data, 2 * args.pairs))
    images = interpolations(model, z[0::2], z[1::2], args.steps, not args.linear, args.resolution)
    _write_png(images, out, args.steps)
    if args.gif:

        by_pair = images.reshape(args.pairs, args.steps, *images.shape[1:])
        write_atomically(args.gif, lambda tmp: save_gif([by_pair[:, t] for t in range(args.steps)], tmp,
                                                        columns=args.pairs))
        print(f"wrote {args.gif}")
    return 0


def _pairs_in(data, pairs: int) -> int:
    """`pairs`, or as many pairs as `data` holds, with a notice."""
    if len(data) < 2:
        raise GONError(f"{data.name}: {len(data)} item(s); an interpolation needs two")
    if 2 * pairs > len(data):
        logging.getLogger("gon").info("%s holds %d, fewer than the %d asked for: %d pair(s)", data.name, len(data),
                                      2 * pairs, len(data) // 2)
    return min(pairs, len(data) // 2)


def _interpolate_sound(args: argparse.Namespace, model, config: ModelConfig, document: dict[str, Any]) -> int:
    if args.gif:
        raise GONError("--gif draws images; a sound model's interpolations are a picture and a WAV")
    rate, samples_out = _sound_rate(args, model, config)
    _check_sound_size(args.pairs * args.steps, samples_out or config.clip_samples)
    data = _data_for(args, config, document)
    args.pairs = _pairs_in(data, args.pairs)
    x = spread(data, 2 * args.pairs)
    clips = interpolations(model, *_pairs(model.encode(x)), args.steps, not args.linear, samples_out)
    labels = [f"pair {i + 1}" for i in range(args.pairs)]
    titles = [f"t = {t:.2f}" for t in torch.linspace(0, 1, args.steps).tolist()]
    _wrote(save_sound_clips(clips, args.out or RunLayout(args.home) / RunLayout.INTERPOLATIONS, rate,
                            args.steps, titles, labels))
    return 0


def _image_only(args: argparse.Namespace) -> None:
    if args.sample_rate:
        raise GONError("--sample-rate renders a sound model; give an image model --resolution")


def _sound_rate(args: argparse.Namespace, model, config: ModelConfig) -> tuple[int, int | None]:
    """The rate a sound command writes at (--sample-rate, else the training rate), and the
    samples per clip an implicit model renders for it (None: the model's own clip)."""
    if args.resolution:
        raise GONError("--resolution sizes images; a sound model has none (an implicit one renders at another rate "
                       "with --sample-rate R)")
    rate = args.sample_rate or config.sample_rate
    if rate == config.sample_rate:
        return rate, None
    if not isinstance(model, ImplicitGON):
        raise GONError(f"--sample-rate renders an implicit model at another rate; this one is {config.kind!r}, "
                       f"fixed at {config.sample_rate} Hz")
    # the training clip's duration at the new rate, held to the bounds of a training clip
    return rate, clip_length(config.clip_samples * rate / config.sample_rate,
                             f"a clip of {config.clip_seconds:g} s rendered at {rate} Hz", "--sample-rate")


def _pairs(z):
    return z[0::2], z[1::2]


def _render_sound(args: argparse.Namespace, model, config: ModelConfig, document: dict[str, Any]) -> int:
    """Reconstructions of an implicit sound model at any sample rate: its time axis sampled
    `sample_rate` times per second of the clip (audio super-resolution above the training rate)."""
    rate, samples_out = _sound_rate(args, model, config)
    samples_out = samples_out or config.clip_samples
    _check_sound_size(2 * args.n, samples_out)
    picture, wav = sound_paths(args.out or args.home / f"render-{rate}hz.png")
    x = spread(_data_for(args, config, document), args.n)
    rendered = model.render(model.encode(x), samples_out)
    save_sound_figure([[a, b] for a, b in zip(x, rendered)], picture, [config.sample_rate, rate],
                      [f"original at {config.sample_rate} Hz", f"rendered at {rate} Hz"])
    write_wav(wav, rendered, rate)
    _wrote([picture, wav])
    return 0


def cmd_render(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    if not isinstance(model, ImplicitGON):
        raise GONError(f"{args.run}: `gon render` needs an implicit model, this one is {config.kind!r}")
    if config.sound:
        return _render_sound(args, model, config, document)
    _image_only(args)
    args.resolution = args.resolution or 256
    _check_picture_size(args.n, config.channels, args.resolution)
    z = model.encode(spread(_data_for(args, config, document), args.n))
    _write_png(model.render(z, args.resolution), args.out or args.home / f"render-{args.resolution}.png")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    out = args.out or RunLayout(args.run) / RunLayout.LATENTS_PLOT
    scatter = out.with_name(out.stem + "-2d.png")
    check_outputs(out, *([scatter] if config.latent_dim == 2 else []))
    data = _data_for(args, config, document, args.limit)
    latents = encode_dataset(model, data)
    if not torch.isfinite(latents).all():
        raise GONError(f"{args.run}: the model's latents are not finite (its weights hold NaN or infinity): "
                       f"nothing to inspect")
    stats = {**latent_statistics(latents), "data": data.name, "model": config.kind}
    write_atomically(out, lambda tmp: save_latent_histogram(latents, tmp, f"{config.kind} latents, {data.name}"))
    print(f"{stats['images']} latents of {data.name} ({stats['latent_dim']} dimensions)")
    print(f"  per-dimension means: {stats['mean_of_means']:.3f} +- {stats['std_of_means']:.3f}; "
          f"standard deviations: {stats['mean_of_stds']:.3f} +- {stats['std_of_stds']:.3f}")
    print(f"  standardised and pooled: skewness {stats['skewness']:.3f}, excess kurtosis "
          f"{stats['excess_kurtosis']:.3f}, KS distance to N(0, 1) {stats['ks_distance_to_normal']:.4f}")
    print(f"wrote {out}")
    if config.latent_dim == 2 and data.labels is not None:
        write_atomically(scatter, lambda tmp: save_latent_scatter(latents, data.labels[: len(latents)], tmp,
                                                                  f"{config.kind} latents by class"))
        print(f"wrote {scatter}")
    if args.json:
        print(json_line(stats))
    return 0


def cmd_export_encoder(args: argparse.Namespace) -> int:

    model, config, document = _load(args)
    data = _data_for(args, config, document, 256)
    encoder = export_affine_encoder(model, data.shape, data.batch(slice(0, len(data))))
    out = write_atomically(args.out or RunLayout(args.run) / RunLayout.ENCODER, encoder.save)
    print(f"wrote {out}: z = W x + b with W {tuple(encoder.weight.shape)}, checked on {len(data)} images of {data.name}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:

    print(f"wrote {write_report(args.run, args.out)}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:

    result = export_run(args.run, args.out, args.encoder_out or args.encoder, args.data, args.split)
    shape = ", ".join(map(str, result.image_shape))
    print(f"wrote {result.decoder}: latent (batch, {result.latent_dim}) -> images (batch, {shape})")
    print(f"  onnxruntime vs PyTorch on the latents of {result.images} images of {result.data}: "
          f"max abs difference {result.decoder_error:.2e}")
    if result.encoder is not None:
        print(f"wrote {result.encoder}: images (batch, {shape}) -> latent (batch, {result.latent_dim})")
        print(f"  onnxruntime vs model.encode on the same images: max abs difference {result.encoder_error:.2e}")
    return 0
