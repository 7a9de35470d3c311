"""The documentation is executable: every Python example of the README and of a model page
runs as written, and every name the package exports says what it does."""

import inspect
import re
import traceback
from pathlib import Path

import pytest
import torch

import gon

ROOT = Path(__file__).resolve().parent.parent
MODEL_DOCS = ROOT / "docs" / "models"
README = ROOT / "README.md"
PAGES = sorted(MODEL_DOCS.glob("*.md"))
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_every_model_page_has_an_example():
    assert {"conv.md", "variational.md", "implicit.md", "classifier.md", "README.md"} <= {p.name for p in PAGES}
    missing = [p.name for p in PAGES if p.name != "README.md" and not python_blocks(p)]
    assert not missing, f"model pages without a ```python example: {missing}"


@pytest.fixture
def one_thread():
    # with other work on the 2 cores, two threads made these examples 10-40x slower
    # (measured: 12 s against 256 s for all pages)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch, one_thread):
    # run directories the examples write land in a temporary directory, not the repository
    monkeypatch.chdir(tmp_path)
    for number, code in enumerate(python_blocks(page), 1):
        try:
            exec(compile(code, f"{page.name}, python block {number}", "exec"), {"__name__": "__docs__"})
        except Exception:  # noqa: BLE001 - any failure of an example is a documentation bug
            pytest.fail(f"docs/models/{page.name}, python block {number} raised:\n{code}\n{traceback.format_exc()}")


def test_the_readme_examples_run(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)  # the model the example saves lands here
    blocks = python_blocks(README)
    assert len(blocks) >= 2, "the README's ```python examples went missing"
    for number, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"README.md, python block {number}", "exec"), {"__name__": "__docs__"})
        except Exception:  # noqa: BLE001 - any failure of an example is a documentation bug
            pytest.fail(f"README.md, python block {number} raised:\n{code}\n{traceback.format_exc()}")
    assert sorted(p.name for p in (tmp_path / "models" / "mine").iterdir()) == ["config.json", "model.safetensors"]


def test_public_api_is_documented():
    undocumented = []
    for name in gon.__all__:
        obj = getattr(gon, name)
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        if not doc or doc.startswith(f"{name}("):  # a dataclass without one gets its signature
            undocumented.append(name)
        if inspect.isclass(obj) and not issubclass(obj, Exception):
            for attribute, value in vars(obj).items():
                function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                if not attribute.startswith("_") and callable(function) and not function.__doc__:
                    undocumented.append(f"{name}.{attribute}")
    assert not undocumented, f"exported without a docstring: {', '.join(undocumented)}"


def test_the_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("pdoc")
    import runpy

    build = runpy.run_path(str(Path(__file__).resolve().parent.parent / "scripts" / "api_docs.py"))["build"]
    assert build(tmp_path) == []
    page = (tmp_path / "gon" / "models" / "gon.html").read_text()
    assert "from_pretrained" in page and "decoder=YourDecoder" in page
    assert (tmp_path / "index.html").is_file() and (tmp_path / "gon" / "data.html").is_file()
