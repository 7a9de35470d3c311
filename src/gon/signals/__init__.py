"""Signals: what a model's examples are, one module each (`gon/signals/base.py` says what a
signal owns). The ones that ship register themselves on import, in this order."""

# isort: off
from .base import RENDER_FLAGS, SIGNALS, Rendering, Signal, register_signal, signal_named, signal_of
from . import image, sound, video  # noqa: F401
from .image import IMAGE
# isort: on

__all__ = ["IMAGE", "RENDER_FLAGS", "SIGNALS", "Rendering", "Signal", "register_signal", "signal_named", "signal_of"]
