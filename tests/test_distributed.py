"""Data-parallel training (torch.distributed, gloo on CPU) equals one process on the same global batch."""

import json
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from gon.config import ModelConfig, TrainConfig
from gon.errors import GONError
from gon.models import build_model
from gon.training import data_for_model, fit, train
from gon.training.distributed import Ranks, local_batch_size, shard

# 16 base filters: every GroupNorm group has 2+ channels. With one channel per group the bias
# before it gets an exactly-zero gradient, whose float noise Adam would blow up to full steps.
MODEL = ModelConfig(kind="conv", hidden_features=16, latent_dim=8)
CONFIG = TrainConfig(steps=5, batch_size=32, limit=256, lr=1e-3, log_every=1, device="cpu")


def _trained(config=CONFIG):
    torch.manual_seed(0)
    model = build_model(MODEL)
    history = fit(model, data_for_model("mnist5k", "train", MODEL, limit=config.limit), config, progress=False)
    return model, history


def _rank(rank, world_size, init_file, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        model, history = _trained()
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()},
            f"{out}/rank{rank}.safetensors",
            metadata={"losses": ",".join(repr(r["loss"]) for r in history)},
        )
    finally:
        dist.destroy_process_group()


def test_two_processes_train_the_weights_of_one(tmp_path):
    mp.spawn(_rank, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    # the gradients are all-reduced: both ranks take the same optimizer steps, bit for bit
    assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
    single, history = _trained()
    assert ranks[0].keys() == single.state_dict().keys()
    for key, value in single.state_dict().items():
        # to a tenth of one Adam step (lr 1e-3): Adam divides by the root of the squared gradient,
        # so weights with tiny gradients turn float summation order into visible differences
        torch.testing.assert_close(ranks[0][key], value, rtol=1e-4, atol=1e-4)
    assert [float(v) for v in _losses(tmp_path / "rank0.safetensors")] == pytest.approx(
        [r["loss"] for r in history], rel=1e-5
    )  # the logged loss is the global batch's


def _losses(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata()["losses"].split(",")


def test_torchrun_writes_one_complete_run(tmp_path):
    out = tmp_path / "run"
    args = [
        "--steps",
        "3",
        "--limit",
        "128",
        "--eval-limit",
        "32",
        "--batch-size",
        "16",
        "--hidden-features",
        "16",
        "--latent-dim",
        "8",
        "--log-every",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--quiet",
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "gon",
            "train",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("wrote ") == 1  # rank 0 alone writes and reports
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # renamed into place, no partial left
    for name in (
        "config.json",
        "model.safetensors",
        "metrics.jsonl",
        "loss.png",
        "reconstructions.png",
        "samples.png",
        "interpolations.png",
        "sampler.safetensors",
    ):
        assert (out / name).is_file(), name
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 3]

    single = train(
        MODEL, TrainConfig(steps=3, limit=128, eval_limit=32, batch_size=16, log_every=1, device="cpu"), progress=False
    )
    weights = load_file(str(out / "model.safetensors"))
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-4)


def test_each_rank_takes_its_share_of_the_global_batch():
    index = torch.arange(8)
    shares = [shard(index, Ranks(r, r, 4)) for r in range(4)]
    assert torch.equal(torch.sort(torch.cat(shares)).values, index)
    assert shares[1].tolist() == [1, 5]
    assert local_batch_size(64, Ranks(0, 0, 4)) == 16
    with pytest.raises(GONError, match="global batch and must divide evenly among 3 processes"):
        local_batch_size(64, Ranks(0, 0, 3))
