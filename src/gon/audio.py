"""Sound out: WAV files to listen to, and waveforms and log-spectrograms to look at.

    write_wav(path, clips, sample_rate)          clips (N, C, T) in [-1, 1], one after another
    save_sound_figure(rows, path, sample_rate)   a waveform above a log-spectrogram per clip

Both write whole files or nothing (gon.files.write_atomically).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch import Tensor

from .errors import GONError
from .files import write_atomically
from .viz import pyplot

# silence between the clips of one WAV, so that each can be told apart by ear
GAP_SECONDS = 0.25
# spectrogram frames of about 32 ms, hop a quarter of that; colours span 80 dB under the loudest bin
FRAME_SECONDS, DYNAMIC_RANGE_DB = 0.032, 80.0


def write_wav(path: str | Path, clips: Tensor, sample_rate: int, gap: float = GAP_SECONDS) -> Path:
    """Clips (N, C, T), or one (C, T), in [-1, 1] as one 16-bit WAV at `sample_rate`, each followed
    by `gap` seconds of silence."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise GONError(f"{path}: sound is written as WAV: name a .wav file")
    clips = clips.detach().float().cpu().nan_to_num(0.0).clamp(-1, 1)
    clips = clips[None] if clips.ndim == 2 else clips
    silence = torch.zeros(clips.shape[1], round(gap * sample_rate))
    sequence = torch.cat([part for clip in clips for part in (clip, silence)], dim=1)
    return write_atomically(
        path, lambda tmp: soundfile.write(str(tmp), sequence.T.numpy(), sample_rate, subtype="PCM_16", format="WAV")
    )


def log_spectrogram(clip: Tensor, sample_rate: int) -> np.ndarray:
    """Power in dB (frequencies, frames) of a mono clip (T,) or the mean of a clip's channels."""
    signal = clip.detach().double().cpu().reshape(-1, clip.shape[-1]).mean(0)
    n_fft = min(len(signal), 2 ** max(4, round(math.log2(FRAME_SECONDS * sample_rate))))
    spec = torch.stft(
        signal, n_fft, max(1, n_fft // 4), window=torch.hann_window(n_fft, dtype=torch.float64), return_complex=True
    )
    return (10 * torch.log10(spec.abs().pow(2) + 1e-12)).numpy()


def save_sound_figure(
    rows: list[list[Tensor]],
    path: str | Path,
    sample_rates: int | list[int],
    titles: list[str] | None = None,
    labels: list[str] | None = None,
) -> Path:
    """A figure of clips: for each row of clips (each (C, T) in [-1, 1]), their waveforms above their
    log-spectrograms; `sample_rates` one rate, or one per column; `titles` per column, `labels` per row."""
    plt = pyplot()
    columns = max(len(r) for r in rows)
    rates = [sample_rates] * columns if isinstance(sample_rates, int) else list(sample_rates)
    spectra = [[log_spectrogram(clip, rates[c]) for c, clip in enumerate(row)] for row in rows]
    # one colour scale for the whole figure, so that a quiet reconstruction looks quiet
    top = max(float(s.max()) for row in spectra for s in row)
    fig, axes = plt.subplots(
        2 * len(rows),
        columns,
        figsize=(2.6 * columns, 2.4 * len(rows)),
        dpi=72,
        squeeze=False,
        gridspec_kw={"height_ratios": [1, 1.6] * len(rows)},
    )
    for r, row in enumerate(rows):
        for c in range(columns):
            wave_ax, spec_ax = axes[2 * r, c], axes[2 * r + 1, c]
            if c >= len(row):
                wave_ax.axis("off"), spec_ax.axis("off")
                continue
            clip, rate = row[c].detach().float().cpu(), rates[c]
            seconds = clip.shape[-1] / rate
            wave = clip.reshape(-1, clip.shape[-1]).mean(0).numpy()
            wave_ax.plot(np.arange(len(wave)) / rate, wave, linewidth=0.4, color="#1f4e79")
            wave_ax.set_ylim(-1, 1), wave_ax.set_xlim(0, seconds)
            wave_ax.set_xticks([]), wave_ax.set_yticks([])
            spec_ax.imshow(
                spectra[r][c],
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=top - DYNAMIC_RANGE_DB,
                vmax=top,
                extent=(0, seconds, 0, rate / 2000),
            )
            spec_ax.tick_params(labelsize=6)
            if c == 0:
                spec_ax.set_ylabel("kHz", fontsize=7)
                if labels:
                    wave_ax.set_ylabel(labels[r], fontsize=7)
            if r == 0 and titles:
                wave_ax.set_title(titles[c], fontsize=8)
    fig.tight_layout(pad=0.3)
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return Path(path)
