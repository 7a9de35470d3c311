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

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from scipy.signal import resample_poly

from ..config import DEFAULT_CLIP_SECONDS, DEFAULT_SAMPLE_RATE, MAX_SAMPLE_RATE, clip_samples
from .packages import is_test_name, name_key, package_dir
from ..errors import GONError, NoSplit
from .images import MAX_IN_MEMORY_BYTES, SPLITS

# a folder of a few recordings may hold no test file at all: "all" takes every file as one split
WHOLE = "all"
SOUND_SPLITS = (*SPLITS, WHOLE)

logger = logging.getLogger("gon")

SOUNDS_DIR = Path("~/.cache/gon/supersonic-scsynth-samples").expanduser()
SOUNDS_FOLDER = "samples"
INSTALL_HINT = "'bash scripts/setup.sh' (or 'bash scripts/sounds-data.sh DIR')"
# what libsndfile (1.2, in soundfile's wheels) decodes: MP3 and Opus included
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64"})
SOUND_SCHEMES = ("sounds", "audio")
MAX_FILE_CHANNELS = 64
# a recording of more than 10 minutes is refused from its header: a clip is its first seconds,
# and a header that declares hours is more often damage than music
MAX_FILE_SECONDS = 600.0
MAX_FILES = 1_000_000
DECODE_BLOCK = 1 << 16  # frames decoded at a time when checking a file to its end


def is_test(name: str) -> bool:
    """Whether the audio file ``name`` (e.g. 'bd_haus.aiff') belongs to the test split (by its name's hash)."""
    return is_test_name(name)


def family(name: str) -> str:
    """A sample's family, the start of its name: 'bd' for bd_haus.aiff, 'drum' for drum_roll.flac."""
    return name.split("_", 1)[0].split(".", 1)[0]


@dataclass
class SoundData(torch.utils.data.Dataset):
    """A split of a sound data set: float32 clips (N, C, T) in [-1, 1] at `sample_rate`, optional
    int64 labels (N,). `data[i]` is clip i (C, T); `batch(index)` several (B, C, T)."""

    clips: torch.Tensor
    labels: torch.Tensor | None
    name: str
    sample_rate: int
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.clips.dtype != torch.float32 or self.clips.ndim != 3:
            raise ValueError(f"clips must be a float32 (N, C, T) tensor, got {self.clips.dtype} {tuple(self.clips.shape)}")
        if self.labels is not None and tuple(self.labels.shape) != (self.clips.shape[0],):
            raise ValueError(f"labels must have shape ({self.clips.shape[0]},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.clips[index]

    @property
    def shape(self) -> tuple[int, int]:
        """(C, T) of one clip."""
        c, t = self.clips.shape[1:]
        return int(c), int(t)

    def batch(self, index: int | slice | torch.Tensor | list[int]) -> torch.Tensor:
        """Clips ``index`` as float32 amplitudes in [-1, 1]."""
        return self.clips[index]


def sounds_dir(arg: str, where: str) -> Path:
    return package_dir(arg, SOUNDS_DIR, f"{SOUNDS_FOLDER}/", where, spec="sounds",
                       package="supersonic-scsynth-samples", what="sounds", hint=INSTALL_HINT) / SOUNDS_FOLDER


def audio_files(directory: Path, split: str, where: str) -> list[Path]:
    """The audio files of ``split`` in their fixed order: DIR/train/ or DIR/test/ when DIR has
    them, else the files of DIR split by a hash of their names; for split "all", every file."""
    if (directory / "train").is_dir() and (directory / "test").is_dir():
        if split == WHOLE:
            return [*audio_files(directory / "train", WHOLE, where), *audio_files(directory / "test", WHOLE, where)]
        directory, chosen = directory / split, None
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
            raise NoSplit(f"{where}: no {split} files in {directory} ({every} in all: "
                           f"--split all takes every file)")
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
        raise GONError(f"{where}: {path} declares {seconds:,.0f} s of audio; recordings longer than "
                       f"{MAX_FILE_SECONDS:.0f} s are refused (cut the part you want into a file of its own)")
    # only what the clip needs (plus the resampling filter's reach) is kept; the rest is decoded
    # block by block and dropped, so that a file damaged after the clip is refused all the same
    needed = min(info.frames, math.ceil(length * info.samplerate / sample_rate) + 64)
    try:
        with soundfile.SoundFile(str(path)) as stream:
            samples = stream.read(needed, dtype="float32", always_2d=True)
            decoded = len(samples)
            while len(block := stream.read(DECODE_BLOCK, dtype="float32", always_2d=True)):
                decoded += len(block)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as error:
        raise GONError(f"{where}: {path} could not be decoded ({_first_line(error)})") from None
    # an MP3's length is the decoder's estimate where the file has no Xing/LAME header (VBR files
    # often do not), so only a file that decodes to nothing is refused there
    if decoded < info.frames and (info.format != "MP3" or decoded == 0):
        raise GONError(f"{where}: {path} is truncated: {decoded:,} of its {info.frames:,} samples decode")
    if not np.isfinite(samples).all():
        raise GONError(f"{where}: {path} holds NaN or infinite samples")
    mono = samples.mean(axis=1)
    if info.samplerate != sample_rate:
        common = math.gcd(sample_rate, info.samplerate)
        mono = resample_poly(mono, sample_rate // common, info.samplerate // common).astype(np.float32)
    out = np.zeros(length, dtype=np.float32)
    kept = mono[:length]
    out[: len(kept)] = np.clip(kept, -1.0, 1.0)  # float files and resampling ringing may overshoot
    return np.repeat(out[None], channels, axis=0)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_sounds(spec: str, split: str = "train", sample_rate: int = DEFAULT_SAMPLE_RATE,
                seconds: float = DEFAULT_CLIP_SECONDS, channels: int = 1, limit: int | None = None) -> SoundData:
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
        raise GONError(f"{spec}: {len(files):,} clips of {channels}x{length} samples would take {size / 2 ** 30:.1f} "
                       f"GiB in memory (limit {MAX_IN_MEMORY_BYTES >> 30} GiB): use shorter clips or --limit")
    clips = torch.empty((len(files), channels, length), dtype=torch.float32)
    for i, path in enumerate(files):
        clips[i] = torch.from_numpy(read_clip(path, sample_rate, length, channels, spec))
    # said once, as for images: silent conversions hid mistakes
    logger.info("%s: %d clips read as %s at %d Hz, cut or padded to %g s", f"{spec}:{split}", len(files),
                "mono" if channels == 1 else "stereo", sample_rate, seconds)
    labels = None
    if scheme == "sounds":
        # label order from the whole package, so train and test agree
        every = sorted({family(p.name) for p in sounds_dir(arg, spec).iterdir()
                        if p.suffix.lower() in AUDIO_EXTENSIONS})
        index = {name: i for i, name in enumerate(every)}
        labels = torch.tensor([index[family(p.name)] for p in files], dtype=torch.int64)
    return SoundData(clips, labels, f"{spec}:{split}", sample_rate, tuple(p.name for p in files))
