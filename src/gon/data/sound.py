"""Sounds: recorded clips read with soundfile, resampled to one rate and cut or padded to one
length, as a torch Dataset (SoundData) of float32 amplitudes in [-1, 1].

``load_sounds(spec, split)`` understands

* ``sounds[:DIR]`` - the 207 Sonic Pi samples of the npm package supersonic-scsynth-samples
  (real recordings, CC0: drums, percussion, bass, guitar, ambient sounds, loops), installed by
  ``bash scripts/setup.sh`` into ~/.cache/gon/supersonic-scsynth-samples; labelled by the
  family their name starts with (``bd``, ``sn``, ``drum``, ``ambi``, ...);
* ``audio:DIR`` - any folder of WAV, FLAC, OGG/Opus, MP3, AIFF, AU, CAF or W64 files (``train/`` and ``test/``
  sub-folders optional).

Both split by a hash of the file name (one file in ten is held out), so that the split
never depends on the order or number of the other files. A clip is the start of its
recording: shorter ones are padded with silence. Limits are checked from each file's header
(soundfile.info) before a sample is read.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch

from ..errors import GONError, NoSplit
from .base import Data, Index
from .images import MAX_IN_MEMORY_BYTES, split_dirs
from .packages import is_test_name, name_key, package_dir
from .sources import SPLITS, DataRequest, DataSource, register_source

# a folder of a few recordings may hold no test file at all: "all" takes every file as one split
WHOLE = "all"
SOUND_SPLITS = (*SPLITS, WHOLE)

logger = logging.getLogger("gon")

SOUNDS_DIR = Path("~/.cache/gon/supersonic-scsynth-samples").expanduser()
SOUNDS_FOLDER = "samples"
INSTALL_HINT = "'bash scripts/setup.sh' (or 'bash scripts/sounds-data.sh DIR')"
# what libsndfile (1.2, in soundfile's wheels) decodes: MP3 and Opus included
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64"})
MAX_FILE_CHANNELS = 64
# the highest rate a file may declare or a model may be resampled to (384 kHz studio audio)
MAX_SAMPLE_RATE = 384000
# the clips a sound model sees by default: 8 kHz (telephone band: speech and most of a drum's
# energy) and half a second (the attack and body of almost every hit in the sounds set), the
# settings of every sound figure in docs/results.md; 16 kHz, 1 s clips cost a modulated or implicit
# model four times as much a step, too much to train in minutes on a few CPU cores
DEFAULT_SAMPLE_RATE, DEFAULT_CLIP_SECONDS = 8000, 0.5
# samples in one clip of a sound model: 2^22 (4.4 minutes at 16 kHz), and at least one spectrogram
# frame of 16 samples, the shortest every sound metric and figure takes (the log-spectral
# distance's STFT hops a quarter frame: 1 to 3 samples made a hop of 0)
MAX_CLIP_SAMPLES, MIN_CLIP_SAMPLES = 1 << 22, 16
# a recording of more than 10 minutes is refused from its header: a clip is its first seconds,
# and a header that declares hours is more often damage than music
MAX_FILE_SECONDS = 600.0
MAX_FILES = 1_000_000
DECODE_BLOCK = 1 << 16  # frames decoded at the end of a file, where a cut shows
# the formats whose size libsndfile takes from the header and clamps to the file (read_clip checks it)
WAVE_FORMATS = ("WAV",)
MAX_WAVE_CHUNKS = 64  # chunks before "data" in a WAV header (fmt, fact, LIST, ...: a handful)


def clip_samples(sample_rate: int, seconds: float) -> int:
    """Samples in a clip of `seconds` at `sample_rate`; GONError outside MIN_CLIP_SAMPLES to
    MAX_CLIP_SAMPLES (checked before rounding: 1e308 seconds is no OverflowError)."""
    return clip_length(
        sample_rate * seconds, f"a clip of {seconds:g} s at {sample_rate} Hz", "clip_seconds or sample_rate"
    )


def clip_length(samples: float, what: str, change: str, maximum: int | None = None) -> int:
    """`samples` rounded, the length of `what`; GONError (naming what to `change`) when it is not
    from MIN_CLIP_SAMPLES to `maximum` (default MAX_CLIP_SAMPLES): the one check of every derived
    clip length."""
    maximum = MAX_CLIP_SAMPLES if maximum is None else maximum
    if not MIN_CLIP_SAMPLES - 0.5 <= samples <= maximum:  # NaN and infinity fail too
        bound = (
            f"the limit is {maximum:,}: lower"
            if samples > MIN_CLIP_SAMPLES
            else f"a clip needs at least {MIN_CLIP_SAMPLES} samples: raise"
        )
        raise GONError(f"{what} has {samples:,.0f} samples; {bound} {change}")
    return max(MIN_CLIP_SAMPLES, round(samples))


def is_test(name: str) -> bool:
    """Whether the audio file ``name`` (e.g. 'bd_haus.aiff') belongs to the test split (by its name's hash)."""
    return is_test_name(name)


def family(name: str) -> str:
    """A sample's family, the start of its name: 'bd' for bd_haus.aiff, 'drum' for drum_roll.flac."""
    return name.split("_", 1)[0].split(".", 1)[0]


@dataclass
class SoundData(Data):
    """A split of a sound data set: float32 clips (N, C, T) in [-1, 1] at `sample_rate`, optional
    int64 labels (N,). The Dataset contract is `Data`'s (gon/data/base.py): `data[i]` is clip i
    (C, T), or `(clip, label)` where the source has labels; `batch(index)` several (B, C, T)."""

    item = "clips"

    clips: torch.Tensor
    labels: torch.Tensor | None
    name: str
    sample_rate: int
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.clips.dtype != torch.float32 or self.clips.ndim != 3:
            raise ValueError(
                f"clips must be a float32 (N, C, T) tensor, got {self.clips.dtype} {tuple(self.clips.shape)}"
            )
        if self.labels is not None and tuple(self.labels.shape) != (self.clips.shape[0],):
            raise ValueError(f"labels must have shape ({self.clips.shape[0]},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(C, T) of one clip."""
        c, t = self.clips.shape[1:]
        return int(c), int(t)

    def batch(self, index: Index) -> torch.Tensor:
        """Clips ``index`` as float32 amplitudes in [-1, 1]."""
        return self.clips[index]

    def subset(self, rows: slice | torch.Tensor | list[int], name: str) -> SoundData:
        """Clips ``rows`` with their labels and file names, named ``name``."""
        labels = self.labels[rows] if self.labels is not None else None
        files = tuple(np.array(self.files, dtype=object)[rows]) if self.files else ()
        return SoundData(self.clips[rows], labels, name, self.sample_rate, files)


def sounds_dir(arg: str, where: str) -> Path:
    return (
        package_dir(
            arg,
            SOUNDS_DIR,
            f"{SOUNDS_FOLDER}/",
            where,
            spec="sounds",
            contents="the extracted npm package supersonic-scsynth-samples",
            what="sounds",
            hint=INSTALL_HINT,
        )
        / SOUNDS_FOLDER
    )


def audio_files(directory: Path, split: str, where: str) -> list[Path]:
    """The audio files of ``split`` in their fixed order: DIR/train/ or DIR/test/ when DIR has
    them, else the files of DIR split by a hash of their names; for split "all", every file."""
    dirs = split_dirs(directory, where)
    if dirs is not None:
        if split == WHOLE:
            return [*audio_files(dirs["train"], WHOLE, where), *audio_files(dirs["test"], WHOLE, where)]
        directory, chosen = dirs[split], None
    else:
        chosen = None if split == WHOLE else split
    names = []
    for path in directory.iterdir():
        if path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".") and path.is_file():
            names.append(path.name)
            if len(names) > MAX_FILES:
                raise GONError(f"{where}: more than {MAX_FILES:,} audio files in {directory}")
    if not names:
        raise GONError(f"{where}: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) in {directory}")
    if chosen is not None:
        every, names = len(names), [n for n in names if is_test(n) == (chosen == "test")]
        if not names:
            raise NoSplit(f"{where}: no {split} files in {directory} ({every} in all: --split all takes every file)")
    return [directory / name for name in sorted(names, key=name_key)]


def read_clip(path: Path, sample_rate: int, length: int, channels: int, where: str) -> np.ndarray:
    """The first `length` samples of `path` at `sample_rate` as float32 (channels, length) in [-1, 1]:
    mixed down to mono (channels=1) or mono repeated to stereo, resampled with a polyphase
    filter (scipy.signal.resample_poly), padded with silence when shorter."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise GONError(f"{where}: {path} is not a readable audio file ({_first_line(error)})") from None
    if info.frames <= 0:
        raise GONError(f"{where}: {path} holds no samples")
    if not 0 < info.samplerate <= MAX_SAMPLE_RATE:
        raise GONError(f"{where}: {path} declares a sample rate of {info.samplerate} Hz (at most {MAX_SAMPLE_RATE})")
    if not 0 < info.channels <= MAX_FILE_CHANNELS:
        raise GONError(f"{where}: {path} declares {info.channels} channels (at most {MAX_FILE_CHANNELS})")
    seconds = info.frames / info.samplerate
    if seconds > MAX_FILE_SECONDS:
        raise GONError(
            f"{where}: {path} declares {seconds:,.0f} s of audio; recordings longer than "
            f"{MAX_FILE_SECONDS:.0f} s are refused (cut the part you want into a file of its own)"
        )
    if info.format in WAVE_FORMATS:
        _check_wave_sizes(path, where)
    # only what the clip needs (plus the resampling filter's reach) is decoded, then the file's last
    # block, where a cut shows: a file of ten minutes costs what its clip does. (A WAV's header
    # was compared with its size above: libsndfile clamps the frames it reports to what is there.)
    needed = min(info.frames, math.ceil(length * info.samplerate / sample_rate) + 64)
    try:
        with _decoder_messages() as messages, soundfile.SoundFile(str(path)) as stream:
            samples = stream.read(needed, dtype="float32", always_2d=True)
            decoded = len(samples)
            if decoded == needed < info.frames and info.format not in WAVE_FORMATS:
                decoded = stream.seek(max(needed, info.frames - DECODE_BLOCK))
                while len(block := stream.read(DECODE_BLOCK, dtype="float32", always_2d=True)):
                    decoded += len(block)
            elif info.format in WAVE_FORMATS:
                decoded = info.frames
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as error:
        raise GONError(f"{where}: {path} could not be decoded ({_first_line(error)})") from None
    if messages:  # mpg123 resyncing over a damaged frame, which it otherwise says on our stderr
        raise GONError(f"{where}: {path} could not be decoded (the decoder says: {messages[0]})")
    # an MP3's length is the decoder's estimate where the file has no Xing/LAME header (VBR files
    # often do not), so only a file that decodes to nothing is refused there
    if decoded < info.frames and (info.format != "MP3" or decoded == 0):
        raise GONError(f"{where}: {path} is truncated: {decoded:,} of its {info.frames:,} samples decode")
    if not np.isfinite(samples).all():
        raise GONError(f"{where}: {path} holds NaN or infinite samples")
    mono = samples.mean(axis=1)
    if info.samplerate != sample_rate:
        common = math.gcd(sample_rate, info.samplerate)
        from scipy.signal import resample_poly  # imported here: it costs every command a second at start-up

        mono = resample_poly(mono, sample_rate // common, info.samplerate // common).astype(np.float32)
    out = np.zeros(length, dtype=np.float32)
    kept = mono[:length]
    out[: len(kept)] = np.clip(kept, -1.0, 1.0)  # float files and resampling ringing may overshoot
    return np.repeat(out[None], channels, axis=0)


def _check_wave_sizes(path: Path, where: str) -> None:
    """GONError unless the sample data a RIFF WAVE file's header declares is in the file: libsndfile
    reads a cut or lying WAV as what is there (the missing part was silence, a declared 2^31 frames
    over 500 real ones read as 500)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        riff, declared, wave = struct.unpack("<4sI4s", f.read(12).ljust(12, b"\0"))
        if riff != b"RIFF" or wave != b"WAVE":
            return  # RF64, W64 and others carry their sizes elsewhere; libsndfile checks those
        if declared + 8 > size:
            raise GONError(
                f"{where}: {path} is truncated or damaged: its header declares {declared + 8:,} bytes, "
                f"the file holds {size:,}"
            )
        for _ in range(MAX_WAVE_CHUNKS):
            header = f.read(8)
            if len(header) < 8:
                return
            name, length = struct.unpack("<4sI", header)
            if name == b"data":
                if f.tell() + length > size:
                    raise GONError(
                        f"{where}: {path} is truncated or damaged: it declares {length:,} bytes of "
                        f"samples, the file holds {size - f.tell():,}"
                    )
                return
            f.seek(length + (length & 1), 1)  # chunks are padded to an even length


@contextlib.contextmanager
def _decoder_messages() -> Iterator[list[str]]:
    """The lines libsndfile's decoders write to the process's stderr (file descriptor 2) while
    inside, captured rather than shown: they mean damage, which the caller reports in one line."""
    lines: list[str] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read(1 << 16).decode("utf-8", "replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_sounds(
    spec: str,
    split: str = "train",
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    seconds: float = DEFAULT_CLIP_SECONDS,
    channels: int = 1,
    limit: int | None = None,
) -> SoundData:
    """Split ``split`` of ``sounds[:DIR]`` or ``audio:DIR`` as clips of ``seconds`` at ``sample_rate``
    Hz, ``channels`` 1 (mono, the default: stereo files are mixed down) or 2; ``limit`` keeps the
    first ``limit`` clips of the split; split "all" reads every file. GONError (one line) for any
    file that cannot be used."""
    if split not in SOUND_SPLITS:
        raise GONError(f"unknown split {split!r}: use 'train', 'test' or 'all'")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 0 < sample_rate <= MAX_SAMPLE_RATE:
        raise GONError(f"sample rate must be an integer from 1 to {MAX_SAMPLE_RATE} Hz, got {sample_rate!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_FILE_SECONDS:
        raise GONError(f"clip length must be from 0 to {MAX_FILE_SECONDS:.0f} seconds, got {seconds!r}")
    if channels not in (1, 2):
        raise GONError(f"sound clips have 1 or 2 channels, got {channels!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GONError(f"limit must be a positive integer, got {limit!r}")
    scheme, _, arg = spec.partition(":")
    scheme = scheme.strip().lower()
    if scheme == "sounds":
        files = audio_files(sounds_dir(arg, spec), split, spec)
    elif scheme == "audio":
        if not arg:
            raise GONError(f"data spec {spec!r} needs a folder after 'audio:'")
        directory = Path(arg).expanduser()
        if not directory.is_dir():
            raise GONError(f"{spec}: {directory} is not a directory")
        files = audio_files(directory, split, spec)
    else:
        raise GONError(f"{spec!r} is not a sound data spec (sounds[:DIR] or audio:DIR)")
    files = files[:limit] if limit is not None else files
    length = clip_samples(sample_rate, seconds)
    size = len(files) * channels * length * 4
    if size > MAX_IN_MEMORY_BYTES:
        raise GONError(
            f"{spec}: {len(files):,} clips of {channels}x{length} samples would take {size / 2**30:.1f} "
            f"GiB in memory (limit {MAX_IN_MEMORY_BYTES >> 30} GiB): use shorter clips or --limit"
        )
    clips = torch.empty((len(files), channels, length), dtype=torch.float32)
    for i, path in enumerate(files):
        clips[i] = torch.from_numpy(read_clip(path, sample_rate, length, channels, spec))
    # said once, as for images: silent conversions hid mistakes
    logger.info(
        "%s: %d clips read as %s at %d Hz, cut or padded to %g s",
        f"{spec}:{split}",
        len(files),
        "mono" if channels == 1 else "stereo",
        sample_rate,
        seconds,
    )
    labels = None
    if scheme == "sounds":
        # label order from the whole package, so train and test agree
        every = sorted(
            {family(p.name) for p in sounds_dir(arg, spec).iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS}
        )
        index = {name: i for i, name in enumerate(every)}
        labels = torch.tensor([index[family(p.name)] for p in files], dtype=torch.int64)
    return SoundData(clips, labels, f"{spec}:{split}", sample_rate, tuple(p.name for p in files))


def _load(request: DataRequest) -> SoundData:
    return load_sounds(
        request.spec,
        request.split,
        request.sample_rate or DEFAULT_SAMPLE_RATE,
        request.clip_seconds or DEFAULT_CLIP_SECONDS,
        request.channels or 1,
        request.limit,
    )


register_source(
    DataSource(
        "sounds",
        "sound",
        _load,
        "sounds[:DIR] (207 recorded Sonic Pi samples, default "
        "~/.cache/gon/supersonic-scsynth-samples; bash scripts/setup.sh)",
        path=True,
        splits=SOUND_SPLITS,
        channels=(1, 2),
    )
)
register_source(
    DataSource(
        "audio",
        "sound",
        _load,
        "audio:DIR (WAV, FLAC, OGG/Opus, MP3, AIFF, AU, CAF, W64 files; train/ and test/ optional)",
        argument="required",
        path=True,
        splits=SOUND_SPLITS,
        channels=(1, 2),
    )
)
