#!/usr/bin/env bash
# Install what the demo needs (idempotent; scripts/install.sh: no test extras, Chromium or
# emoji), then train a convolutional GON on the 5,000 embedded MNIST digits and write
# reconstructions, samples, interpolations and the loss plot into runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/gon train --model conv --data mnist5k --steps 2000 --out runs/demo --overwrite "$@"
