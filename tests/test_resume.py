"""Checkpoints, exact resume after SIGKILL, determinism, refusal of pickles, divergence."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from gon.checkpoint import load_model
from gon.cli import main
from gon.models import ModelConfig
from gon.train import TrainConfig, train

RUN = ["--model", "conv", "--data", "mnist5k", "--limit", "1024", "--eval-limit", "64", "--batch-size", "16",
       "--steps", "1500", "--checkpoint-every", "100", "--keep-checkpoints", "3", "--log-every", "100", "--quiet"]


def gon_command(*args):
    return [sys.executable, "-m", "gon", *map(str, args)]


def same_weights(a, b):
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(gon_command("train", *RUN, "--out", whole), check=True, capture_output=True)

    process = subprocess.Popen(gon_command("train", *RUN, "--out", killed), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / ".killed.partial" / "checkpoints"
    deadline = time.time() + 120
    while not (checkpoints / "step-00000400").exists():
        assert process.poll() is None, "the run finished before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not killed.exists()
    kept = sorted(p.name for p in checkpoints.glob("step-*"))
    assert 1 <= len(kept) <= 3 and "step-00000400" in kept

    # the newest checkpoint is damaged (as by a crash mid-copy): resume falls back to an older one
    newest = checkpoints / kept[-1] / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:50])
    result = subprocess.run(gon_command("train", "--resume", killed, "--quiet"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "skipping checkpoint" in result.stderr
    assert same_weights(whole, killed)
    assert not (tmp_path / ".killed.partial").exists()
    assert not (killed / "checkpoints").exists()


def test_same_seed_same_weights(tmp_path):
    config = ModelConfig(kind="variational", hidden_features=4, latent_dim=8)
    runs = [train(config, TrainConfig(steps=30, batch_size=16, limit=256, eval_limit=32, seed=3), tmp_path / f"r{i}",
                  progress=False) for i in range(2)]
    assert same_weights(runs[0].directory, runs[1].directory)
    other = train(config, TrainConfig(steps=30, batch_size=16, limit=256, eval_limit=32, seed=4), tmp_path / "r2",
                  progress=False)
    assert not same_weights(runs[0].directory, other.directory)


def test_pickled_checkpoint_is_refused(tmp_path, capsys):
    run = train(ModelConfig(kind="conv", hidden_features=4), TrainConfig(steps=5, batch_size=16, limit=64,
                                                                          eval_limit=16), tmp_path / "run",
                progress=False)
    state = {k: v for k, v in run.model.state_dict().items()}
    torch.save(state, run.directory / "model.safetensors")  # a pickle under the expected name
    assert main(["eval", str(run.directory), "--limit", "8"]) == 2
    err = capsys.readouterr().err
    assert "not a valid safetensors file" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(Exception, match="safetensors"):
        load_model(run.directory)


def test_divergence_keeps_the_last_checkpoint_and_skip_goes_on(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "implicit", "--hidden-features", "16", "--num-layers", "2", "--limit", "256",
            "--eval-limit", "16", "--batch-size", "16", "--steps", "40", "--quiet", "--out", str(out)]
    # lr 1e30 diverges at step 2, before any checkpoint: nothing is left behind
    assert main([*args, "--lr", "1e30", "--checkpoint-every", "1"]) == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "step 2" in err
    checkpoints = tmp_path / ".run.partial" / "checkpoints"
    assert [p.name for p in checkpoints.glob("step-*")] == ["step-00000001"]
    assert main(["train", "--resume", str(out), "--quiet"]) == 2  # resumes into the same divergence
    assert "diverged" in capsys.readouterr().err
    # weights that have diverged stay diverged: skipping stops after 10 non-finite steps in a row
    assert main([*args, "--lr", "1e30", "--skip-nonfinite", "--out", str(tmp_path / "skip")]) == 2
    assert "10 steps in a row" in capsys.readouterr().err
    assert not (tmp_path / "skip").exists()


def test_skip_nonfinite_skips_an_isolated_bad_batch():
    from gon.models import build_model
    from gon.train import fit, load_for_model

    class OneBadBatch(type(build_model(ModelConfig(kind="conv")))):
        calls = 0

        def loss(self, x):
            OneBadBatch.calls += 1
            loss = super().loss(x)
            return loss * float("nan") if OneBadBatch.calls == 3 else loss

    config = ModelConfig(kind="conv", hidden_features=4)
    data = load_for_model("mnist5k", "train", config, limit=256)
    plain = build_model(config)
    model = OneBadBatch(plain.decoder, plain.latent_dim, plain.step)
    history = fit(model, data, TrainConfig(steps=10, batch_size=16, log_every=5, skip_nonfinite=True), progress=False)
    assert [r["step"] for r in history] == [5, 10]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with pytest.raises(Exception, match="step 3"):
        OneBadBatch.calls = 0
        fit(model, data, TrainConfig(steps=10, batch_size=16), progress=False)


def test_disk_full_on_checkpoint_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    import errno

    import gon.checkpoint

    real_save = gon.checkpoint.save_file
    calls = {"n": 0}

    def save_until_full(tensors, path, metadata=None):
        calls["n"] += 1
        if calls["n"] > 2:  # the first checkpoint (weights + optimiser) fits, the second does not
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(gon.checkpoint, "save_file", save_until_full)
    out = tmp_path / "run"
    args = ["train", "--model", "conv", "--hidden-features", "4", "--limit", "256", "--eval-limit", "16",
            "--batch-size", "16", "--steps", "30", "--checkpoint-every", "10", "--quiet", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "step-00000010 is kept" in err
    checkpoints = tmp_path / ".run.partial" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-00000010"]  # no half-written folder
    monkeypatch.setattr(gon.checkpoint, "save_file", real_save)
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert (out / "model.safetensors").exists()
