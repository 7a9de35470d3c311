"""Pictures of a trained model: reconstructions, samples, interpolations, renders (for a sound
model, pictures of waveforms and spectrograms with WAV files beside them)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor

from .audio import save_sound_figure, write_wav
from .data import ImageData, SoundData
from .files import check_outputs
from .models import ImplicitGON, LatentModel, Variational
from .samplers import GaussianSampler, PriorSampler
from .viz import lerp, slerp

logger = logging.getLogger("gon")


def spread(data: ImageData | SoundData, n: int) -> Tensor:
    """n images evenly spaced through `data` (data sets are often sorted by class); all of them,
    with a notice, where it holds fewer."""
    if n > len(data):
        logger.info("%s holds %d, fewer than the %d asked for: taking all %d", data.name, len(data), n, len(data))
        n = len(data)
    return data.batch(torch.linspace(0, len(data) - 1, n).round().long())


def reconstruction_pairs(model: LatentModel, x: Tensor, columns: int = 8) -> Tensor:
    """Rows alternate originals and their reconstructions: (2 * ceil(N / columns) * columns) images."""
    model.eval()
    recon = model.reconstruct(x)
    rows = []
    for i in range(0, len(x), columns):
        original, rebuilt = x[i:i + columns], recon[i:i + columns]
        pad = columns - len(original)
        if pad:
            blank = torch.ones(pad, *x.shape[1:])
            original, rebuilt = torch.cat([original, blank]), torch.cat([rebuilt, blank])
        rows += [original, rebuilt]
    return torch.cat(rows)


def samples(model: LatentModel, sampler: GaussianSampler | PriorSampler, n: int, seed: int = 0,
            resolution: int | None = None) -> Tensor:
    """n images decoded from latents drawn from `sampler` (a prior sampler draws at the
    variational decoder's input, after its stochastic layer)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, Variational) and isinstance(sampler, PriorSampler):
        return model.sample_prior(n, generator)
    return decode_latents(model, sampler.sample(n, generator), resolution)


def decode_latents(model: LatentModel, z: Tensor, resolution: int | None = None) -> Tensor:
    if resolution is not None and isinstance(model, ImplicitGON):
        return model.render(z, resolution)
    return model.generate(z)


def interpolations(model: LatentModel, start: Tensor, end: Tensor, steps: int = 10, spherical: bool = True,
                   resolution: int | None = None) -> Tensor:
    """For each pair (start[i], end[i]), `steps` images along the path; row-major (pairs x steps)."""
    model.eval()
    t = torch.linspace(0, 1, steps)
    path = (slerp if spherical else lerp)(start, end, t)  # (steps, pairs, k)
    z = path.transpose(0, 1).reshape(-1, start.shape[-1])
    return decode_latents(model, z, resolution)


# sound: each picture comes with a WAV of the same clips (gon.audio)

def sound_paths(path: str | Path) -> tuple[Path, Path]:
    """(picture, WAV) for an output named `path`: a .wav name gets its picture beside it as .png,
    any other name its WAV beside it as .wav. Both are checked before either is written (check_outputs)."""
    path = Path(path)
    paths = (path.with_suffix(".png"), path) if path.suffix.lower() == ".wav" else (path, path.with_suffix(".wav"))
    check_outputs(*paths)
    return paths


def save_sound_reconstructions(model: LatentModel, x: Tensor, path: str | Path, sample_rate: int) -> list[Path]:
    """Test clips beside their reconstructions: a picture (waveforms, log-spectrograms) and a WAV
    playing each original then its reconstruction."""
    picture, wav = sound_paths(path)
    model.eval()
    recon = model.reconstruct(x)
    save_sound_figure([[a, b] for a, b in zip(x, recon)], picture, sample_rate, ["original", "reconstruction"])
    write_wav(wav, torch.stack([c for pair in zip(x, recon) for c in pair]), sample_rate)
    return [picture, wav]


def save_sound_clips(clips: Tensor, path: str | Path, sample_rate: int, columns: int, titles: list[str] | None = None,
                     labels: list[str] | None = None) -> list[Path]:
    """Clips (N, C, T) row-major in `columns`, as a picture and as a WAV playing them in order."""
    picture, wav = sound_paths(path)
    rows = [list(clips[i:i + columns]) for i in range(0, len(clips), columns)]
    save_sound_figure(rows, picture, sample_rate, titles, labels)
    write_wav(wav, clips, sample_rate)
    return [picture, wav]
