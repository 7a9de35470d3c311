"""Files that appear whole or not at all."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import GONError


def write_atomically(path: str | Path, save: Callable[[Path], Any]) -> Path:
    """Run `save(tmp)` on a hidden sibling of `path`, fsync it, then rename it onto `path`.

    The sibling keeps `path`'s suffix, so writers that infer the format from the name
    (Pillow, matplotlib) still can. If `save` or the rename fails, the sibling is removed
    and `path` is left as it was: a crash never leaves half a file. The file's own folder
    is created if its parent exists (a mistyped path must not grow a tree of folders), and
    a failed write (a full disk, a read-only folder) is a GONError naming the file.
    """
    path = Path(path)
    if not path.parent.is_dir():
        if not path.parent.parent.is_dir():
            raise GONError(f"cannot write {path}: {path.parent.parent} does not exist")
        path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial{path.suffix}")
    try:
        save(tmp)
        with open(tmp, "rb+") as f:  # on disk before the rename makes it visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        raise GONError(f"could not write {path} ({error.strerror or error})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


# safetensors keeps its metadata in a hash map, so two or more keys come out in a different
# order from run to run and identical weights give different bytes: they are stored as one
# key holding sorted JSON, and unpacked by read_tensors (which also reads the older layout)
PACKED_METADATA = "gon"


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """safetensors' save_file with byte-identical output for identical tensors and metadata,
    leaving the file readable like every other output (save_file creates mode 0600) under
    the process's umask; a failed write is an OSError."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata={PACKED_METADATA: json.dumps(metadata, sort_keys=True)})
    except SafetensorError as error:  # its I/O errors (a full disk) are OSErrors to every caller
        raise OSError(errno.EIO, str(error).splitlines()[0]) from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a safetensors file; GONError if it is missing or not one."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise GONError(f"{path}: missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise GONError(f"{path}: not a valid safetensors file ({str(error).splitlines()[0]})") from None
    if set(metadata) == {PACKED_METADATA}:
        try:
            unpacked = json.loads(metadata[PACKED_METADATA])
        except (ValueError, RecursionError):
            unpacked = None
        if not isinstance(unpacked, dict):
            raise GONError(f"{path}: unreadable metadata")
        metadata = {str(k): str(v) for k, v in unpacked.items()}
    return tensors, metadata
