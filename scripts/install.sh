#!/usr/bin/env bash
# What the demo needs and nothing more: a virtual environment with a CPU build of PyTorch and
# this package (its mnist5k digits ship inside a dependency, so no data download).
# scripts/setup.sh adds what the tests need on top of it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# The CPU build; a bare `pip install torch` would fetch a multi-GB CUDA build. The
# package itself asks only for torch>=2.1, so users keep their own build.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
