"""ONNX export: a trained model's decoder, and its affine encoder, for runtimes without PyTorch.

    from gon.export import export_run
    result = export_run("runs/conv", encoder=True)   # runs/conv/decoder.onnx, runs/conv/encoder.onnx
    print(result.decoder_error)                      # max |onnxruntime - PyTorch| on real latents

Each file is checked in onnxruntime against PyTorch on latents of real images before it
is put in place, and refused if the two differ by more than a tolerance. The export uses
torch's own exporter (`torch.onnx.export(..., dynamo=True)`, the default since torch 2.9,
which translates through onnxscript); the older TorchScript exporter is deprecated.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .affine_encoder import AffineEncoder, export_affine_encoder
from .errors import GONError
from .files import write_atomically
from .layout import RunLayout
from .models import LatentModel, load_model
from .signals import Signal
from .training import data_for_run

ONNX_FORMAT = "gradient-origin-networks/onnx-v1"
# images lie in [0, 1]; float32 kernels of the two runtimes differ by ~1e-7 there
TOLERANCE = 1e-4
INSTALL_HINT = "pip install 'gradient-origin-networks[onnx]'"


class ImageDecoder(nn.Module):
    """latent (B, k) -> images (B, C, H, W) in [0, 1]: `model.to_images(model.decode(z))` in eval mode.

    - conv (and any decoder whose output is an image): the decoder, as `model.generate`.
    - variational: the deterministic decode path. In eval mode the stochastic layer
      passes on its posterior mean mu(z), with no noise, and the images are the Bernoulli
      means sigmoid(F(mu(z))): what `model.reconstruct` and `model.generate` show.
      Sampling the posterior is left to the caller (add noise to the latent).
    - implicit: the SIREN rendered on the model's training grid (its `image_size`), as
      `model.generate`; other resolutions need `model.render` in PyTorch.
    """

    def __init__(self, model: LatentModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Tensor) -> Tensor:
        return self.model.to_images(self.model.decode(z))


class AffineEncoderModule(nn.Module):
    """images (B, C, H, W) -> latent (B, k): z = W vec(x) + b, an AffineEncoder as a module."""

    def __init__(self, encoder: AffineEncoder) -> None:
        super().__init__()
        self.register_buffer("weight", encoder.weight.detach().clone())
        self.register_buffer("offset", encoder.offset.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return torch.addmm(self.offset, x.flatten(1), self.weight.T)


@dataclass
class OnnxExport:
    """What `export_run` wrote, and the largest difference it measured between onnxruntime and PyTorch."""

    decoder: Path
    decoder_error: float
    latent_dim: int
    image_shape: tuple[int, ...]
    images: int  # real examples (images, clips) whose latents were checked
    data: str
    encoder: Path | None = None
    encoder_error: float | None = None
    item: str = "images"  # what the examples are called: "images", "clips"


def export_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    encoder: bool | str | Path = False,
    data: str | None = None,
    split: str = "test",
    limit: int = 256,
    tolerance: float = TOLERANCE,
) -> OnnxExport:
    """Export the decoder of the run in `run_dir` to `out` (default RUN/decoder.onnx) and, with
    `encoder`, its affine encoder (to that path, or encoder.onnx beside the decoder). Both are
    checked on up to `limit` real examples of `data` (default: the run's own data set)."""
    _require_onnx()
    run_dir = Path(run_dir)
    model, config, document = load_model(run_dir)
    images = data_for_run(document, config, data, split, limit)
    x = images.batch(slice(0, len(images)))
    out = Path(out) if out is not None else RunLayout(run_dir) / RunLayout.DECODER_ONNX
    encoder_out = None
    if encoder:
        encoder_out = out.with_name(RunLayout.ENCODER_ONNX) if encoder is True else Path(encoder)
        if encoder_out.resolve() == out.resolve():
            raise GONError(f"the encoder and the decoder cannot both be written to {out}")
        # before anything is written: a model without an affine encoder is refused whole
        affine = export_affine_encoder(model, images.shape, x)
    z = model.encode(x).detach()
    result = OnnxExport(
        out,
        export_decoder(model, out, z, tolerance),
        config.latent_dim,
        tuple(images.shape),
        len(x),
        images.name,
        item=images.item,
    )
    if encoder_out is not None:
        result.encoder, result.encoder_error = (
            encoder_out,
            export_encoder(affine, encoder_out, x, z, tolerance, model.signal),
        )
    return result


def export_decoder(model: LatentModel, path: str | Path, latents: Tensor, tolerance: float = TOLERANCE) -> float:
    """Write the model's decoder (see ImageDecoder) to `path` as ONNX with a dynamic batch axis,
    check it on `latents` (real ones: encodings of real images), and return the largest absolute
    difference from PyTorch; GONError, and no file, if it exceeds `tolerance`."""
    _require_onnx()
    decoder = ImageDecoder(model)
    words = model.signal or Signal
    with _eval_mode(model), torch.no_grad():
        reference = decoder(latents)
        metadata = {
            "kind": _kind(model),
            "input": "latent (batch, latent_dim)",
            "output": _described(model.signal),
            "latent_dim": str(latents.shape[1]),
            "image_shape": str(list(reference.shape[1:])),
        }
        return _export_checked(decoder, latents, reference, Path(path), ("latent", words.item), metadata, tolerance)


def export_encoder(
    encoder: AffineEncoder,
    path: str | Path,
    images: Tensor,
    latents: Tensor,
    tolerance: float = TOLERANCE,
    signal: Signal | None = None,
) -> float:
    """Write an affine encoder to `path` as ONNX (examples (B, C, ...) of `signal`, images (B, C,
    H, W) when None -> latents (B, k)) and return its largest absolute difference on `images`
    from `latents`, the model's own `encode(images)`; GONError, and no file, if that exceeds
    `tolerance` times the largest latent (at least 1: latents are not bounded like images)."""
    _require_onnx()
    module = AffineEncoderModule(encoder).eval()
    metadata = {
        "kind": "affine-encoder",
        "input": _described(signal),
        "output": "latent (batch, latent_dim)",
        "latent_dim": str(encoder.weight.shape[0]),
        "image_shape": str(list(encoder.input_shape)),
    }
    scale = max(1.0, latents.abs().max().item())
    names = ((signal or Signal).item, "latent")
    return _export_checked(module, images, latents, Path(path), names, metadata, tolerance * scale)


def _described(signal: Signal | None) -> str:
    """What a file's examples are: 'images in [0, 1] (batch, channels, height, width)' for images."""
    words = signal or Signal
    first, last = words.value_range
    return f"{words.item} in [{first:g}, {last:g}] (batch, {', '.join(words.axes)})"


def _export_checked(
    module: nn.Module,
    example: Tensor,
    reference: Tensor,
    path: Path,
    names: tuple[str, str],
    metadata: dict[str, str],
    tolerance: float,
) -> float:
    import onnx
    import onnxruntime

    if path.is_dir():
        raise GONError(f"{path} is a directory: give a file name for the ONNX model")
    measured: list[float] = []

    def export_and_check(tmp: Path) -> None:
        try:
            _onnx_export(module, example[:2], tmp, names)
        except Exception as error:  # the exporter wraps a failed write (a full disk) in errors of its own
            cause = _os_error_in(error)
            if cause is None:
                raise
            raise cause from None
        model_proto = onnx.load(str(tmp))
        onnx.checker.check_model(model_proto)
        onnx.helper.set_model_props(model_proto, {"format": ONNX_FORMAT, **metadata})
        onnx.save(model_proto, str(tmp))
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        output = session.run(None, {names[0]: example.detach().cpu().numpy()})[0]
        error = float((torch.from_numpy(output) - reference.detach().cpu()).abs().max())
        if not error <= tolerance:  # also refuses NaN
            raise GONError(
                f"the ONNX export of {path.name} differs from PyTorch by up to {error:.3g} on "
                f"{len(example)} real inputs (tolerance {tolerance:.3g}); nothing was written"
            )
        measured.append(error)

    write_atomically(path, export_and_check)
    return measured[0]


def _os_error_in(error: BaseException) -> OSError | None:
    """The OSError an exception was raised from, if any, however deeply it was wrapped."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _onnx_export(module: nn.Module, example: Tensor, path: Path, names: tuple[str, str]) -> None:
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise GONError(f"ONNX export needs torch >= 2.5 (this is {torch.__version__})")
    if len(example) < 2:
        # torch.export specialises a batch of one to the constant 1
        example = torch.cat([example, example])
    batch = {0: torch.export.Dim("batch")}
    # the exporter and its graph optimizer log every pass and optional-package note (torchvision)
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (example,),
                str(path),
                input_names=[names[0]],
                output_names=[names[1]],
                dynamic_shapes=(batch,),
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except GONError:
        raise
    except Exception as error:  # an operation the exporter cannot translate: a property of the model
        raise GONError(
            f"torch.onnx cannot export this model ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else 'no detail'})"
        ) from None
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def _require_onnx() -> None:
    for package in ("onnx", "onnxruntime", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise GONError(f"ONNX export needs the package {package!r}: {INSTALL_HINT}") from None


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _kind(model: LatentModel) -> str:
    return model.config.kind if model.config is not None else type(model).__name__
