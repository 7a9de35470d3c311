#!/usr/bin/env bash
# The `emoji` data set: the npm package emoji-datasource-google (3,786 Noto colour emoji as
# 64x64 RGBA PNGs in img/google/64/, and emoji.json with each emoji's category), extracted once
# into DIR (default ~/.cache/gon/emoji-datasource-google). Does nothing when DIR already holds it.
# Licences (the package's README.md and LICENSE): the Google/Noto images are Apache License 2.0,
# the package itself MIT. The version is pinned so that the split and the labels never move.
set -euo pipefail
bash "$(dirname "$0")/npm-data.sh" emoji emoji-datasource-google 16.0.0 \
    "${1:-$HOME/.cache/gon/emoji-datasource-google}" emoji.json img/google/64 \
    --exclude='package/img/google/sheets*'   # the sprite sheets (50 MB) are not needed: only the single images
