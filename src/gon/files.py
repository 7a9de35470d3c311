"""Files that appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import GONError


def write_atomically(path: str | Path, save: Callable[[Path], Any]) -> Path:
    """Run `save(tmp)` on a hidden sibling of `path`, then rename it onto `path`.

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
        os.replace(tmp, path)
    except OSError as error:
        raise GONError(f"could not write {path} ({error.strerror or error})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """safetensors' save_file, leaving the file readable like every other output (it creates
    its files with mode 0600) under the process's umask."""
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
