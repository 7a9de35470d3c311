"""Sound: clips (C, T) of amplitudes in [-1, 1], T = sample_rate x clip_seconds (`SoundSettings`,
nested in ModelConfig as `sound`); metrics per clip (SNR, PSNR, log-spectral distance); written as
WAV files beside pictures of their waveforms and log-spectrograms (gon.audio); an implicit model
renders at any sample rate (`--sample-rate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..audio import save_sound_figure, write_wav
from ..data.sound import DEFAULT_CLIP_SECONDS, DEFAULT_SAMPLE_RATE, MAX_SAMPLE_RATE, clip_length, clip_samples
from ..errors import GONError
from ..fields import check_fields, option
from ..files import check_outputs
from ..layout import RunLayout
from .base import NATIVE, Rendering, Signal, register_signal


@dataclass(frozen=True)
class SoundSettings:
    """The clips of a sound model (ModelConfig.sound; each field's flag and flat key is its name)."""

    sample_rate: int = option(
        DEFAULT_SAMPLE_RATE,
        "sound: samples per second clips are resampled to",
        minimum=1,
        maximum=MAX_SAMPLE_RATE,
        flat="sample_rate",
    )
    clip_seconds: float = option(
        DEFAULT_CLIP_SECONDS,
        "sound: seconds per clip (the start of each recording, padded with silence)",
        positive=True,
        flat="clip_seconds",
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def samples(self) -> int:
        """Samples per clip, sample_rate x clip_seconds; GONError for a clip too long or too short."""
        return clip_samples(self.sample_rate, self.clip_seconds)


# a clip's energy below this (all but silent) counts as this, so that its SNR stays finite
SILENCE = 1e-10


def log_spectral_distance(y: Tensor, x: Tensor, n_fft: int = 512) -> Tensor:
    """Per clip (B,), in dB: the root mean square over frequencies of the difference of the
    log power spectra of y and x (B, C, T), averaged over frames (Hann window, hop n_fft / 4)."""
    n_fft = min(n_fft, x.shape[-1])
    window = torch.hann_window(n_fft, dtype=torch.float64)

    def power(v: Tensor) -> Tensor:
        spec = torch.stft(v.double().flatten(0, 1), n_fft, n_fft // 4, window=window, return_complex=True)
        return 10 * torch.log10(spec.abs().pow(2) + SILENCE)

    distance = (power(y) - power(x)).pow(2).mean(1).sqrt().mean(1)
    return distance.reshape(x.shape[0], x.shape[1]).mean(1)


def sound_paths(path: str | Path) -> tuple[Path, Path]:
    """(picture, WAV) for an output named `path`: a .wav name gets its picture beside it as .png,
    any other name its WAV beside it as .wav."""
    path = Path(path)
    return (path.with_suffix(".png"), path) if path.suffix.lower() == ".wav" else (path, path.with_suffix(".wav"))


class SoundSignal(Signal):
    name = "sound"
    settings = SoundSettings
    value_range = (-1.0, 1.0)
    coordinate_dim = 1
    item, one, position = "clips", "clip", "sample"
    axes = ("channels", "samples")
    render_flags = ("sample_rate",)
    integers = False
    shown, samples, sample_columns, pairs, steps = 6, 8, 4, 2, 6
    # memory per output sample while clips are rendered, drawn (waveform, log-spectrogram) and written
    # as WAV (measured: docs/reliability.md, "Memory estimates")
    bytes_per_value = 256
    row_metrics = ("snr_db",)
    size_options = "clip_seconds, sample_rate"
    # what a run's figures show (each with the WAV of the same name beside it)
    captions = {
        RunLayout.RECONSTRUCTIONS: "test clips (left) and their reconstructions (right): waveform above "
        "log-spectrogram; the player plays each original then its reconstruction",
        RunLayout.SAMPLES: "decoded latents drawn from the run's sampler",
        RunLayout.INTERPOLATIONS: "spherical interpolation between two encoded test clips, one pair per row",
    }

    def shape(self, config: Any) -> tuple[int, ...]:
        return (config.channels, config.sound.samples)

    def check_config(self, config: Any) -> None:
        if config.channels != 1:  # stereo files are mixed down (gon.data.sound)
            raise GONError(f"sound models are mono (channels 1), got channels {config.channels}")
        config.sound.samples  # noqa: B018 - GONError for a clip too long or too short

    def load_settings(self, config: Any) -> dict[str, Any]:
        return {"sample_rate": config.sound.sample_rate, "clip_seconds": config.sound.clip_seconds}

    def describe(self, config: Any) -> str:
        return f"clip of {config.sound.samples:,} samples"

    def check_batch(self, x: Tensor, shape: tuple[int, ...]) -> None:
        if x.ndim != 3 or tuple(x.shape[1:]) != shape:
            c, t = shape
            raise GONError(
                f"this model takes sound clips of {c} channel(s) and {t} samples, a batch of shape "
                f"(B, {c}, {t}); got {tuple(x.shape)} (load_sounds(..., sample_rate, seconds) fits "
                f"clips)"
            )

    def range_error(self, low: float, high: float) -> str:
        return f"sound amplitudes must lie in [-1, 1], got {low:g} to {high:g}"

    def metrics(self, x: Tensor, sse: Tensor, reconstruct) -> dict[str, Tensor]:
        """snr_db: 10 log10(sum x^2 / sum (x - F(z))^2); psnr_db: the PSNR with amplitudes mapped to
        [0, 1] (COIN++'s audio figure); log_spectral_distance_db (`log_spectral_distance`)."""
        energy = x.double().pow(2).flatten(1).sum(1).clamp_min(SILENCE)
        snr = 10 * torch.log10(energy / sse.double().clamp_min(SILENCE))
        # amplitudes mapped from [-1, 1] to [0, 1] (so squared errors / 4), peak 1
        psnr = -10 * torch.log10((sse.double() / (4 * x[0].numel())).clamp_min(SILENCE))
        return {"snr_db": snr, "psnr_db": psnr, "log_spectral_distance_db": log_spectral_distance(reconstruct(), x)}

    def metric_lines(self, metrics: dict[str, Any]) -> list[str]:
        return [
            f"  signal-to-noise ratio (dB):     {metrics['snr_db']:.2f} (mean over clips)",
            f"  PSNR, amplitudes in [0, 1] (dB): {metrics['psnr_db']:.2f} (mean over clips)",
            f"  log-spectral distance (dB):     {metrics['log_spectral_distance_db']:.2f}",
        ]

    def rendering(self, config: Any, implicit: bool, render: bool = False, **flags: Any) -> Rendering:
        """The rate a command writes at (--sample-rate, else the training rate), and the samples per
        clip an implicit model renders for it (None: the model's own clip)."""
        self.refuse_flags(flags)
        own = config.sound.sample_rate
        rate = flags.get("sample_rate") or own
        if rate == own:
            return Rendering(None, rate, f"{rate}hz")
        if not implicit:
            raise GONError(
                f"--sample-rate renders an implicit model at another rate; this one is {config.kind!r}, "
                f"fixed at {own} Hz"
            )
        # the training clip's duration at the new rate, held to the bounds of a training clip
        samples = clip_length(
            config.sound.samples * rate / own,
            f"a clip of {config.sound.clip_seconds:g} s rendered at {rate} Hz",
            "--sample-rate",
        )
        return Rendering((samples,), rate, f"{rate}hz")

    def files(self, path: str | Path) -> list[Path]:
        return list(sound_paths(path))

    def write_pairs(self, originals: Tensor, reconstructions: Tensor, path: str | Path, config: Any) -> list[Path]:
        """A picture (waveforms, log-spectrograms) and a WAV playing each original then its reconstruction."""
        picture, wav = self.files(path)
        check_outputs(picture, wav)
        rate = config.sound.sample_rate
        save_sound_figure(
            [[a, b] for a, b in zip(originals, reconstructions)], picture, rate, ["original", "reconstruction"]
        )
        write_wav(wav, torch.stack([c for pair in zip(originals, reconstructions) for c in pair]), rate)
        return [picture, wav]

    def write_examples(
        self,
        examples: Tensor,
        path: str | Path,
        config: Any,
        columns: int | None = None,
        rendering: Rendering = NATIVE,
        titles: list[str] | None = None,
        labels: list[str] | None = None,
    ) -> list[Path]:
        """Clips (N, C, T) row-major in `columns`, as a picture and as a WAV playing them in order."""
        picture, wav = self.files(path)
        check_outputs(picture, wav)
        rate = int(rendering.rate or config.sound.sample_rate)
        columns = columns or self.sample_columns
        rows = [list(examples[i : i + columns]) for i in range(0, len(examples), columns)]
        save_sound_figure(rows, picture, rate, titles, labels)
        write_wav(wav, examples, rate)
        return [picture, wav]

    def write_render(
        self, originals: Tensor, rendered: Tensor, path: str | Path, config: Any, rendering: Rendering
    ) -> list[Path]:
        """Each original beside its render at the rendering's rate (audio super-resolution above the
        training rate), and a WAV of the renders."""
        picture, wav = self.files(path)
        check_outputs(picture, wav)
        own, rate = config.sound.sample_rate, int(rendering.rate)
        save_sound_figure(
            [[a, b] for a, b in zip(originals, rendered)],
            picture,
            [own, rate],
            [f"original at {own} Hz", f"rendered at {rate} Hz"],
        )
        write_wav(wav, rendered, rate)
        return [picture, wav]


SOUND = register_signal(SoundSignal())
