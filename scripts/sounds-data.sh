#!/usr/bin/env bash
# The `sounds` data set: the npm package supersonic-scsynth-samples (the 207 Sonic Pi samples:
# real recordings of drums, percussion, bass, guitar, ambient sounds and loops, 206 FLAC files and
# one AIFF at 44.1 kHz in samples/), extracted once into DIR (default
# ~/.cache/gon/supersonic-scsynth-samples). Does nothing when DIR already holds it.
# Licence: CC0-1.0 (the package's LICENSE; PROVENANCE.md names the freesound.org recordings).
# The version is pinned so that the split never moves.
set -euo pipefail
VERSION=0.84.2
DIR="${1:-$HOME/.cache/gon/supersonic-scsynth-samples}"
if [ -f "$DIR/package.json" ] && [ -d "$DIR/samples" ]; then
    exit 0
fi
if [ -e "$DIR" ]; then
    echo "sounds data: $DIR exists but holds no package.json and samples/; remove it to reinstall" >&2
    exit 1
fi
if ! command -v npm >/dev/null; then
    echo "sounds data: npm is needed to fetch supersonic-scsynth-samples (apt-get install npm)" >&2
    exit 1
fi
mkdir -p "$(dirname "$DIR")"
# Unpack next to DIR and move it into place at the end, so an interrupted run leaves no half copy.
TMP="$(mktemp -d "$(dirname "$DIR")/.sounds-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
npm pack --silent --pack-destination "$TMP" "supersonic-scsynth-samples@$VERSION" >/dev/null
mkdir "$TMP/package"
tar -xzf "$TMP/supersonic-scsynth-samples-$VERSION.tgz" -C "$TMP/package" --strip-components=1
mv "$TMP/package" "$DIR"
