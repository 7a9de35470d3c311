#!/usr/bin/env bash
# Everything a fresh machine needs: a virtual environment with a CPU build of PyTorch,
# this package with its test extra, and Debian's Fashion-MNIST for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
# The CPU build; a bare `pip install torch` would fetch a multi-GB CUDA build. The
# package itself asks only for torch>=2.1, so users keep their own build.
python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
