"""What the data sets that come as npm packages (emoji.py, sound.py) share: the package
directory a spec names, and the split fixed by a hash of each file's name."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import GONError

TEST_EVERY = 10  # one file in ten, by its name's hash, is held out


def name_key(name: str) -> int:
    """A file name's SHA-1 as an integer: the same on every machine, whatever the file order."""
    return int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest(), "big")


def is_test_name(name: str) -> bool:
    """Whether the file ``name`` belongs to the test split (its key divisible by TEST_EVERY)."""
    return name_key(name) % TEST_EVERY == 0


def package_dir(
    arg: str, default: Path, folder: str | Path, where: str, *, spec: str, contents: str, what: str, hint: str
) -> Path:
    """An installed data package (an extracted npm package, clips taken from a wheel): ``arg``, or
    ``default`` when ``arg`` is empty; GONError when it is missing or has no ``folder`` (e.g.
    'samples/'), saying what ``spec``:DIR must hold (``contents``) and how ``hint`` installs it."""
    directory = Path(arg or default).expanduser()
    if not directory.is_dir():
        if arg:
            raise GONError(f"{where}: {directory} is not a directory")
        raise GONError(
            f"{where}: {directory} does not exist; install the {what} with {hint}, or give its directory as {spec}:DIR"
        )
    if not (directory / Path(folder)).is_dir():
        raise GONError(
            f"{where}: {directory} has no {folder} folder; {spec}:DIR wants {contents}, as {hint} installs it"
        )
    return directory
