"""Data sources: one declaration each (`DataSource`), registered beside its loader.

    register_source(DataSource("npz", "image", load=_load_npz, usage="npz:FILE (x_train/x_test, ...)",
                               argument="required"))

A spec names its source by the part before the first ':' (its scheme); what follows is the
source's argument (a path, a name). `load_data` (load.py) finds the source here and calls
`source.load(request)`, so adding a source is one module that calls `register_source` and
one import of it (gon/data/load.py); a test file may register one of its own the same way.
Every source returns a `Data` (base.py): the one Dataset contract of every signal.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import GONError
from .base import Data

SPLITS = ("train", "test")
ARGUMENTS = ("optional", "required", "none")


@dataclass(frozen=True)
class DataRequest:
    """What `load_data` asks of a source: `argument` (the spec after its scheme's ':') and
    `split`, the first `limit` examples; images fitted to `image_size` and `channels` by
    `fit`, `stream`ed from disk and composited onto `background`; audio clips at
    `sample_rate` Hz, `clip_seconds` long; video clips of `frames` frames at `fps` (and
    `image_size` pixels a side). None leaves a setting to the source (an image's own size, the
    audio sources' 8 kHz). A source reads the settings of its signal and leaves the others."""

    spec: str
    argument: str
    split: str = "train"
    limit: int | None = None
    channels: int | None = None
    image_size: int | None = None
    fit: str = "resize"
    stream: bool = False
    background: str = "white"
    sample_rate: int | None = None
    clip_seconds: float | None = None
    frames: int | None = None
    fps: float | None = None

    @property
    def name(self) -> str:
        """The data set's name: 'spec:split'."""
        return f"{self.spec}:{self.split}"


@dataclass(frozen=True)
class DataSource:
    """One data source.

    scheme: the spec's part before ':' (`--data SCHEME[:ARGUMENT]`); signal: what its examples
    are, a signal's name (gon/signals: "image", "video", ...; a model kind says which it takes,
    KindSpec.signals); load: `load(request) ->
    Data`, raising GONError (one line) for anything a user can fix; usage: one line for the
    help, the spec's form and what it holds; argument: whether a path or name after ':' is
    "required", "optional" or refused ("none"); path: whether that argument is a path on this
    machine (a run records it resolved, so that its commands work from any folder); splits: the
    split names it reads (an audio folder's "all" besides train and test); channels: the channel
    counts it can give its examples.
    """

    scheme: str
    signal: str
    load: Callable[[DataRequest], Data]
    usage: str
    argument: str = "optional"
    path: bool = False
    splits: tuple[str, ...] = SPLITS
    channels: tuple[int, ...] = (1, 3)

    def __post_init__(self) -> None:
        if not self.scheme or self.scheme != self.scheme.strip().lower() or ":" in self.scheme:
            raise GONError(f"a data source's scheme is a lower-case word without ':', got {self.scheme!r}")
        # the signal itself is looked up where a model meets the data (gon.training.prepare): the
        # data layer sits below the signals, and a source may be registered before its signal is
        if not isinstance(self.signal, str) or not self.signal or self.signal != self.signal.strip().lower():
            raise GONError(
                f"data source {self.scheme!r}: signal must be a signal's name, a lower-case word, got {self.signal!r}"
            )
        if self.argument not in ARGUMENTS:
            raise GONError(
                f"data source {self.scheme!r}: argument must be one of {', '.join(ARGUMENTS)}, got {self.argument!r}"
            )


# scheme -> source, in registration order (the order the help lists them)
SOURCES: dict[str, DataSource] = {}


def register_source(source: DataSource) -> DataSource:
    """Add `source` to the ones `load_data` reads; a second source under a registered
    scheme is an error (two modules claiming one scheme)."""
    if source.scheme in SOURCES and SOURCES[source.scheme] is not source:
        raise GONError(f"data source {source.scheme!r} is registered twice")
    SOURCES[source.scheme] = source
    return source


def parse_spec(spec: str) -> tuple[DataSource, str]:
    """The source a spec names and its argument; GONError naming the known specs otherwise."""
    if not isinstance(spec, str) or not spec.strip():
        raise GONError(f"empty data spec; known specs: {scheme_names()}")
    scheme, sep, argument = spec.partition(":")
    source = SOURCES.get(scheme.strip().lower())
    if source is None:
        hint = f" (to read the path {spec!r} use folder:{spec} or npz:{spec})" if os.path.exists(spec) else ""
        raise GONError(f"unknown data spec {spec!r}{hint}; known specs: {scheme_names()}")
    if source.argument == "required" and not argument:
        raise GONError(f"data spec {spec!r} needs an argument after '{source.scheme}:' ({source.usage.split()[0]})")
    if source.argument == "none" and sep:
        raise GONError(f"data spec {spec!r}: {source.scheme} takes no argument")
    return source, argument


def resolved_spec(spec: str) -> str:
    """`spec` with its path made absolute (`~` expanded, links resolved), what a run records: a
    relative `audio:aud` named another folder, or none, for a command run from elsewhere."""
    source, argument = parse_spec(spec)
    if not source.path or not argument:
        return spec
    return f"{spec.partition(':')[0]}:{Path(argument).expanduser().resolve()}"


def known_specs() -> list[str]:
    """One line per registered source: its spec's form and what it holds."""
    return [source.usage for source in SOURCES.values()]


def scheme_names() -> str:
    return ", ".join(source.usage.split()[0] for source in SOURCES.values())
