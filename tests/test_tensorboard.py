"""TensorBoard logs: the run's scalars and image grids, read back with TensorBoard's own reader."""

import json
import sys

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from gon.config import (
    ModelConfig,  # noqa: E402
    TrainConfig,  # noqa: E402
)
from gon.errors import GONError  # noqa: E402
from gon.training import train  # noqa: E402

MODEL = ModelConfig(kind="conv", hidden_features=4, latent_dim=8)


def test_scalars_and_images_at_their_steps(tmp_path):
    run = train(
        MODEL,
        TrainConfig(steps=6, log_every=2, batch_size=32, limit=128, eval_limit=32, device="cpu", tensorboard=True),
        tmp_path / "run",
        progress=False,
    )
    events = EventAccumulator(str(run.directory / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    history = [json.loads(line) for line in (run.directory / "metrics.jsonl").read_text().splitlines()]
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [2, 4, 6]
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in history[:3]], rel=1e-6)
    assert [e.step for e in events.Scalars("train/steps_per_s")] == [2, 4, 6]
    (sse,) = events.Scalars("eval/sse_per_image")
    assert sse.step == 6 and sse.value == pytest.approx(run.metrics["sse_per_image"], rel=1e-6)
    for name in ("reconstructions", "samples"):
        (image,) = events.Images(name)
        assert image.step == 6 and image.width > 32 and image.height > 32  # a grid, not one digit


def test_requested_without_the_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(GONError, match=r"gradient-origin-networks\[tensorboard\]"):
        train(MODEL, TrainConfig(steps=1, batch_size=32, limit=64, tensorboard=True), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_needs_a_run_directory():
    with pytest.raises(GONError, match="give --out"):
        train(MODEL, TrainConfig(steps=1, batch_size=32, limit=64, tensorboard=True), progress=False)
