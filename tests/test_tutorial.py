"""The tutorial runs: docs/tutorial.ipynb is executed by a Jupyter kernel (nbclient) on
small settings, and is the notebook of its script twin, docs/tutorial.py."""

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK, SCRIPT = ROOT / "docs" / "tutorial.ipynb", ROOT / "docs" / "tutorial.py"


def test_the_notebook_is_written_from_its_script_twin():
    notebook = runpy.run_path(str(ROOT / "scripts" / "tutorial_notebook.py"))["notebook"]
    expected = [(c["cell_type"], "".join(c["source"])) for c in notebook(SCRIPT.read_text())["cells"]]
    saved = [(c["cell_type"], "".join(c["source"])) for c in json.loads(NOTEBOOK.read_text())["cells"]]
    assert saved == expected, "docs/tutorial.ipynb is stale: run python scripts/tutorial_notebook.py"


def test_the_tutorial_notebook_runs_on_small_settings(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("GON_TUTORIAL_QUICK", "1")  # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type == "display_data" and "image/png" in o.data for o in outputs) >= 5  # the figures
    assert sorted(p.name for p in (tmp_path / "my-gon").iterdir()) == ["config.json", "model.safetensors"]
