"""Data sets: `load_data(spec, split)` (load.py) finds the source a spec names among the
registered ones (sources.py; each source registers itself beside its loader: mnist5k.py,
idx.py, folder.py, emoji.py, npz.py, torchvision_sets.py, sound.py, video.py) and returns a
`Data` (base.py), the one Dataset contract: images (ImageData, images.py: uint8 tensors fitted
to one size and channel count), sound clips (SoundData, sound.py) or video clips (VideoData,
video.py)."""

from .base import Data
from .images import ImageData, LazyImages
from .load import load_data
from .sound import SoundData, load_sounds
from .sources import DataRequest, DataSource, known_specs, register_source, resolved_spec
from .video import VideoData, load_videos

__all__ = [
    "Data",
    "ImageData",
    "LazyImages",
    "SoundData",
    "DataRequest",
    "DataSource",
    "known_specs",
    "load_data",
    "load_sounds",
    "register_source",
    "resolved_spec",
    "VideoData",
    "load_videos",
]
