"""Build the API reference from the docstrings: one HTML page per module of `gon` (pdoc).

    pip install -e '.[docs]'
    python scripts/api_docs.py            # writes docs/api/index.html
    python scripts/api_docs.py OUT_DIR

The tests build it into a temporary folder and fail on any warning (tests/test_docs.py).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from pathlib import Path

import pdoc

import gon

OUT = Path(__file__).resolve().parents[1] / "docs" / "api"


def modules() -> list[str]:
    """`gon` and every module under it that pdoc would not reach by itself: pdoc lists a
    package's submodules unless its `__all__` leaves them out, and gon's packages list the
    names they export, not their modules."""
    names = ["gon"]
    for info in pkgutil.walk_packages(gon.__path__, "gon."):
        parent, _, leaf = info.name.rpartition(".")
        exported = getattr(importlib.import_module(parent), "__all__", None)
        if info.name != "gon.__main__" and exported is not None and leaf not in exported:
            names.append(info.name)
    return names


def build(out: Path = OUT) -> list[str]:
    """Write the reference into `out`; the warnings pdoc gave, one line each."""
    pdoc.render.configure(docformat="markdown", search=True, show_source=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules(), output_directory=out)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    problems = build(target)
    print("\n".join(problems) or f"wrote {target / 'index.html'}")
    sys.exit(1 if problems else 0)
