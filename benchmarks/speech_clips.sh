#!/usr/bin/env bash
# Twenty clips of speech from another source than the sounds set, for held-out checks of sound
# models (benchmarks/modulated_sound.py --other audio:DIR): ten sentences, each in espeak-ng's
# English male and female voices (Debian package espeak-ng), 22,050 Hz WAV files in DIR.
set -euo pipefail
out="${1:?usage: bash benchmarks/speech_clips.sh DIR}"
command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed (apt-get install espeak-ng)" >&2; exit 2; }
mkdir -p "$out"
i=0
while IFS= read -r sentence; do
    i=$((i + 1))
    for voice in en en+f3; do
        espeak-ng -v "$voice" -s 150 -w "$out/s${i}_${voice/+/_}.wav" "$sentence"
    done
done <<'SENTENCES'
The quick brown fox jumps over the lazy dog
Gradient origin networks need no encoder
She sells sea shells by the sea shore
A sound worth listening to
Seven silver swans swam south
Hello world, this is a test
Peter Piper picked a peck of pickled peppers
Numbers: one two three four five
The rain in Spain stays mainly in the plain
Every clip is held out
SENTENCES
echo "wrote $i sentences in 2 voices to $out"
