"""Files that appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable


def write_atomically(path: str | Path, save: Callable[[Path], Any]) -> Path:
    """Run `save(tmp)` on a hidden sibling of `path`, then rename it onto `path`.

    The sibling keeps `path`'s suffix, so writers that infer the format from the name
    (Pillow, matplotlib) still can. If `save` or the rename fails, the sibling is removed
    and `path` is left as it was: a crash never leaves half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial{path.suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
