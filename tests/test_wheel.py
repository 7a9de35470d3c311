"""Installed as a user installs it: a wheel built from this tree, installed (not editable)
into a fresh virtual environment and run from outside the source tree, works: the console
script, the shipped models and a command that reads them.

The fresh environment downloads nothing: it installs the wheel alone (--no-deps --no-index),
and a .pth file lists the site-packages of the interpreter running the tests, where torch and
the other dependencies already are. Lines of a .pth file only extend sys.path (the .pth files
in those folders, such as an editable install's, are not read), so `gon` is the wheel's."""

import importlib.metadata
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "src")


def _run(command, cwd, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh environment's bin folder, a working directory outside the source tree)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so that the build writes nothing into the checkout
    source.mkdir()
    for name in BUILD_INPUTS:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", work / "dist", source],
        cwd=work,
    )
    (wheel,) = (work / "dist").glob("*.whl")
    env = work / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", env], cwd=work)
    python = env / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work).strip()
    Path(purelib, "dependencies.pth").write_text("".join(f"{p}\n" for p in site.getsitepackages()))
    # the fresh interpreter runs pip from the dependencies' folder, and installs into its own
    # environment (--ignore-installed: the checkout's own install there is not this wheel)
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel], cwd=work)
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return env / "bin", elsewhere


def test_the_console_script_answers(installed):
    bin_dir, cwd = installed
    version = importlib.metadata.version("gradient-origin-networks")
    assert _run([bin_dir / "gon", "--version"], cwd).strip() == f"gon {version}"
    assert "reconstruct" in _run([bin_dir / "gon", "--help"], cwd)


def test_the_shipped_models_load_from_the_installed_package(installed):
    bin_dir, cwd = installed
    script = (
        "import gon, torch\n"
        "from gon.pretrained import available\n"
        "print(gon.__file__)\n"
        "for name in available():\n"
        "    model = gon.load_pretrained(name)\n"
        "    size = model.config.image_size\n"
        "    print(name, tuple(model.encode(torch.rand(2, 1, size, size)).shape))\n"
    )
    lines = _run([bin_dir / "python", "-c", script], cwd).splitlines()
    assert Path(lines[0]).is_relative_to(bin_dir.parent) and not Path(lines[0]).is_relative_to(ROOT)
    assert lines[1:] == ["mnist5k-conv (2, 32)", "mnist5k-implicit (2, 32)", "mnist5k-variational (2, 48)"]


def test_a_command_runs_a_shipped_model(installed):
    bin_dir, cwd = installed
    out = _run([bin_dir / "gon", "sample", "--pretrained", "mnist5k-conv", "-n", "4", "--out", "s.png"], cwd)
    assert out.split() == ["wrote", "s.png"] and (cwd / "s.png").stat().st_size > 100
