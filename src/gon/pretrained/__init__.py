"""Models that ship inside the package, trained on the embedded digits (mnist5k): try a GON
with no training.

    import gon
    model = gon.load_pretrained("mnist5k-conv")    # a GON in eval mode
    gon sample --pretrained mnist5k-conv            # the same from the shell

Each model is a folder beside this file holding what a run directory holds for its model
(config.json, model.safetensors, and sampler.safetensors where the model is sampled from
fitted latents), `card.json` (the command that trained it, its held-out figures, the data
and their licence) and MODEL_CARD.md, written from card.json by
`scripts/train_pretrained.py`, which trains them all. The tests check that each held-out
figure reproduces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import GONError
from ..files import read_json
from ..models import LatentModel, load_model

HERE = Path(__file__).parent
CARD_FILE, CARD_PAGE = "card.json", "MODEL_CARD.md"


def available() -> list[str]:
    """The names of the models that ship with the package."""
    return sorted(p.name for p in HERE.iterdir() if (p / CARD_FILE).is_file())


def pretrained_dir(name: str) -> Path:
    """The folder of the shipped model `name` (read it, never write into it); GONError naming
    the shipped models for any other name."""
    names = available()
    if not isinstance(name, str) or name not in names:
        raise GONError(f"no pretrained model {name!r}: the package ships {', '.join(names) or 'none'}")
    return HERE / name


def load_pretrained(name: str) -> LatentModel:
    """The shipped model `name` (see `available()`), in eval mode, as the class its config
    names; its card (how it was trained, held-out figures, data licence) is `card(name)`."""
    model, _, _ = load_model(pretrained_dir(name))
    return model


def card(name: str) -> dict[str, Any]:
    """The model card of the shipped model `name`: command, data, licence, held-out metrics."""
    return read_json(pretrained_dir(name) / CARD_FILE, "missing")
