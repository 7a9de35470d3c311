import pytest
import torch

from gon.data import load_data

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
