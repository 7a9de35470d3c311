import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gon.data import load_data
from gon.data.emoji import EMOJI_DIR, IMAGE_FOLDER

# the command line's default: on a shared machine two threads were up to 2.7x slower than one (README)
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


@pytest.fixture(scope="session")
def emoji_dir():
    """The emoji-datasource-google package directory (the emoji spec's default), installed with
    scripts/emoji-data.sh (as scripts/setup.sh does) when it is missing and npm is there."""
    directory = EMOJI_DIR.expanduser()
    if not (directory / IMAGE_FOLDER).is_dir():
        if shutil.which("npm") is None:
            pytest.skip(f"the emoji images are not in {directory} and npm, which fetches them, is not installed")
        script = Path(__file__).resolve().parents[1] / "scripts" / "emoji-data.sh"
        done = subprocess.run(["bash", str(script), str(directory)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"scripts/emoji-data.sh could not install the emoji images: {done.stderr.strip()}")
    return directory


@pytest.fixture(scope="session")
def sounds_dir():
    """The supersonic-scsynth-samples package directory (the sounds spec's default), installed with
    scripts/sounds-data.sh (as scripts/setup.sh does) when it is missing and npm is there."""
    from gon.data.sound import SOUNDS_DIR, SOUNDS_FOLDER

    directory = SOUNDS_DIR.expanduser()
    if not (directory / SOUNDS_FOLDER).is_dir():
        if shutil.which("npm") is None:
            pytest.skip(f"the sounds are not in {directory} and npm, which fetches them, is not installed")
        script = Path(__file__).resolve().parents[1] / "scripts" / "sounds-data.sh"
        done = subprocess.run(["bash", str(script), str(directory)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"scripts/sounds-data.sh could not install the sounds: {done.stderr.strip()}")
    return directory
