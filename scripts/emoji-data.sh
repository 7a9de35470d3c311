#!/usr/bin/env bash
# The `emoji` data set: the npm package emoji-datasource-google (3,786 Noto colour emoji as
# 64x64 RGBA PNGs in img/google/64/, and emoji.json with each emoji's category), extracted once
# into DIR (default ~/.cache/gon/emoji-datasource-google). Does nothing when DIR already holds it.
# Licences (the package's README.md and LICENSE): the Google/Noto images are Apache License 2.0,
# the package itself MIT. The version is pinned so that the split and the labels never move.
set -euo pipefail
VERSION=16.0.0
DIR="${1:-$HOME/.cache/gon/emoji-datasource-google}"
if [ -f "$DIR/emoji.json" ] && [ -d "$DIR/img/google/64" ]; then
    exit 0
fi
if [ -e "$DIR" ]; then
    echo "emoji data: $DIR exists but holds no emoji.json and img/google/64/; remove it to reinstall" >&2
    exit 1
fi
if ! command -v npm >/dev/null; then
    echo "emoji data: npm is needed to fetch emoji-datasource-google (apt-get install npm)" >&2
    exit 1
fi
mkdir -p "$(dirname "$DIR")"
# Unpack next to DIR and move it into place at the end, so an interrupted run leaves no half copy.
TMP="$(mktemp -d "$(dirname "$DIR")/.emoji-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
npm pack --silent --pack-destination "$TMP" "emoji-datasource-google@$VERSION" >/dev/null
mkdir "$TMP/package"
# the sprite sheets (50 MB) are not needed: only the single images
tar -xzf "$TMP/emoji-datasource-google-$VERSION.tgz" -C "$TMP/package" --strip-components=1 \
    --exclude='package/img/google/sheets*'
mv "$TMP/package" "$DIR"
