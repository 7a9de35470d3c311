"""Model folders on the Hugging Face Hub: `from_pretrained("owner/name")` reads a repository
holding what `save_pretrained` writes, through the optional `huggingface_hub` package
(`pip install 'gradient-origin-networks[hub]'`).

Only the files a model folder has are fetched (config.json, the safetensors weights and
samplers): never code, never a pickle. The Hub's cache and its offline switch
(HF_HUB_OFFLINE=1, HF_HUB_CACHE) work as for any library that uses it.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import GONError
from ..fields import short
from .saving import CONFIG_FILE, WEIGHTS_FILE

EXTRA = "pip install 'gradient-origin-networks[hub]'"
# owner/name as the Hub spells repository ids; anything else is a path
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
FILES = [CONFIG_FILE, WEIGHTS_FILE, "sampler*.safetensors"]


def model_directory(name: str | Path) -> Path:
    """The local folder of a model: `name` itself when it is a path that exists or not a
    repository id, else a snapshot of the Hub repository `name` (GONError in one line when
    huggingface_hub is missing or the repository cannot be had)."""
    if not isinstance(name, (str, Path)):
        raise GONError(
            f"a model is a folder or a Hugging Face Hub id (owner/name), got {type(name).__name__} {short(name)}"
        )
    path = Path(name)
    try:
        exists = path.exists()
    except OSError as error:  # a name past the system's limits (ENAMETOOLONG)
        raise GONError(f"{short(str(name))}: {error.strerror or error}") from None
    if exists or not isinstance(name, str) or not REPO_ID.match(name):
        return path
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise GONError(f"{name}: no such folder; to read it as a Hugging Face Hub repository: {EXTRA}") from None
    try:
        return Path(snapshot_download(name, allow_patterns=FILES, library_name="gradient-origin-networks"))
    except Exception as error:  # the client's many errors (network, offline, not found, gated) all mean this
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GONError(
            f"{name}: not a local folder, and the Hugging Face Hub repository could not be had ({first})"
        ) from None
