"""Image, sound and video data sets: `load_data(spec, split)` (load.py) reads real images as uint8 tensors
from one of the sources (mnist5k.py, idx.py, folder.py, npz.py, torchvision_sets.py) and fits
them to one size and channel count (images.py)."""

from .images import ImageData, LazyImages
from .load import KNOWN_SPECS, data_for_model, data_for_run, load_data
from .sound import SoundData, load_sounds
from .video import VideoData, load_videos

__all__ = ["ImageData", "LazyImages", "KNOWN_SPECS", "load_data", "data_for_model", "data_for_run", "SoundData",
           "load_sounds", "VideoData", "load_videos"]
