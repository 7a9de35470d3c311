#!/usr/bin/env bash
# The `sounds` data set: the npm package supersonic-scsynth-samples (the 207 Sonic Pi samples:
# real recordings of drums, percussion, bass, guitar, ambient sounds and loops, 206 FLAC files and
# one AIFF at 44.1 kHz in samples/), extracted once into DIR (default
# ~/.cache/gon/supersonic-scsynth-samples). Does nothing when DIR already holds it.
# Licence: CC0-1.0 (the package's LICENSE; PROVENANCE.md names the freesound.org recordings).
# The version is pinned so that the split never moves.
set -euo pipefail
bash "$(dirname "$0")/npm-data.sh" sounds supersonic-scsynth-samples 0.84.2 \
    "${1:-$HOME/.cache/gon/supersonic-scsynth-samples}" package.json samples
