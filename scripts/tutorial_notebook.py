"""Write docs/tutorial.ipynb from docs/tutorial.py, its twin in the percent format that
jupytext and editors read (`# %%` starts a code cell, `# %% [markdown]` a text cell whose
lines are comments). The script is the source: edit it, then run

    python scripts/tutorial_notebook.py

The tests check that the notebook is the script's (tests/test_tutorial.py) and run it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
MARKER = re.compile(r"^# %%( \[markdown\])?[ \t]*$", re.MULTILINE)


def cells(script: str) -> list[tuple[str, str]]:
    """(kind, source) of each cell of a percent-format script: kind "code" or "markdown"."""
    found = []
    marks = list(MARKER.finditer(script))
    for mark, following in zip(marks, marks[1:] + [None]):
        body = script[mark.end():following.start() if following else len(script)].strip("\n")
        if mark.group(1):
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            found.append(("markdown", body))
        else:
            found.append(("code", body))
    return found


def notebook(script: str) -> dict:
    """The nbformat 4 notebook of a percent-format script, outputs empty."""
    def lines(text: str) -> list[str]:
        return text.splitlines(keepends=True)
    return {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": lines(source)} if kind == "markdown" else
                  {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": lines(source)} for kind, source in cells(script)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def write(source: Path = DOCS / "tutorial.py", target: Path = DOCS / "tutorial.ipynb") -> Path:
    document = notebook(source.read_text())
    for number, cell in enumerate(document["cells"]):
        cell["id"] = f"cell-{number}"  # stable ids: the file changes only when a cell does
    target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return target


if __name__ == "__main__":
    print(f"wrote {write(*map(Path, sys.argv[1:3]))}")
