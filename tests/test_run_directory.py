"""Where a run is written: nothing that is not a run is ever replaced, and a run is
replaced only once the new one is complete."""

import json

import pytest

from gon import ModelConfig, TrainConfig, train
from gon.cli import main
from gon.errors import GONError

TINY = [
    "--hidden-features",
    "4",
    "--latent-dim",
    "8",
    "--steps",
    "3",
    "--batch-size",
    "16",
    "--limit",
    "64",
    "--eval-limit",
    "16",
    "--quiet",
]


def run_cli(*args):
    return main([str(a) for a in args])


def test_overwrite_never_replaces_a_folder_that_is_not_a_run(tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("four years")
    assert run_cli("train", *TINY, "--out", precious, "--overwrite") == 2
    assert "not a gon run" in capsys.readouterr().err
    assert (precious / "thesis.txt").read_text() == "four years"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]  # no half-written run beside it


@pytest.mark.parametrize("out", [".", "", "..", "~", "/"])
def test_the_working_directory_home_root_and_parents_are_refused(tmp_path, monkeypatch, capsys, out):
    work = tmp_path / "scratch"
    (work / "code").mkdir(parents=True)
    (work / "notes.txt").write_text("keep me")
    (work / "code" / "a.py").write_text("print(1)")
    monkeypatch.chdir(work)
    assert run_cli("train", *TINY, "--out", out, "--overwrite") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "gon: error:" in error
    assert (work / "notes.txt").read_text() == "keep me" and (work / "code" / "a.py").is_file()


def test_without_out_each_run_gets_a_new_versioned_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *TINY) == 0
    assert run_cli("train", *TINY) == 0
    assert "wrote runs/conv-2/" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["conv", "conv-2"]


def test_python_names_overwrite_true_and_can_version(tmp_path):
    model, config = (
        ModelConfig(kind="conv", hidden_features=4, latent_dim=8),
        TrainConfig(steps=3, batch_size=16, limit=64, eval_limit=16),
    )
    first = train(model, config, tmp_path / "conv", progress=False)
    with pytest.raises(GONError, match="overwrite=True"):
        train(model, config, tmp_path / "conv", progress=False)
    again = train(model, config, tmp_path / "conv", progress=False, version=True)
    assert (first.directory.name, again.directory.name) == ("conv", "conv-2")


def test_overwrite_replaces_a_run_whole(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", *TINY, "--out", out) == 0
    assert run_cli("train", *TINY, "--seed", "7", "--out", out, "--overwrite") == 0
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the old run was moved aside, then deleted


def test_ctrl_c_writes_a_checkpoint_and_names_the_resume_command(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    gon = Path(sys.executable).with_name("gon")
    out = tmp_path / "run"
    args = [
        str(gon),
        "train",
        "--hidden-features",
        "4",
        "--latent-dim",
        "8",
        "--steps",
        "600",
        "--batch-size",
        "16",
        "--limit",
        "64",
        "--eval-limit",
        "16",
        "--quiet",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # the start-of-run summary: training has begun
        if line.startswith("gon: training"):
            assert "1 thread(s)" in line  # the default
            break
    # a few steps in (600 take several seconds even idle: the interrupt lands inside the run)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    error = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert f"continue with `gon train --resume {out}`" in error
    work = tmp_path / ".run.partial"
    steps = sorted(p.name for p in (work / "checkpoints").iterdir())
    assert len(steps) == 1 and (work / "run.json").is_file() and not out.exists()
    assert subprocess.run([str(gon), "train", "--resume", str(out), "--quiet"], capture_output=True).returncode == 0
    assert json.loads((out / "config.json").read_text())["train"]["steps"] == 600
    assert not work.exists()


def test_models_refuse_images_of_another_shape(digits32):
    from gon import build_model

    model = build_model(ModelConfig(kind="conv", hidden_features=4, latent_dim=8))
    with pytest.raises(GONError, match="1 channel"):
        model.loss(digits32[:4].repeat(1, 3, 1, 1))
    with pytest.raises(GONError, match="32x32"):
        model.encode(digits32[:4, :, :28, :28])
    ae = build_model(ModelConfig(kind="ae", hidden_features=4, latent_dim=8))
    with pytest.raises(GONError, match="got \\(4, 1, 28, 28\\)"):
        ae.reconstruct(digits32[:4, :, :28, :28])


def test_data_fitted_to_the_model_is_announced(caplog):
    import logging

    from gon import load_data

    with caplog.at_level(logging.INFO, logger="gon"):
        load_data("mnist5k", "test", image_size=32, channels=3, limit=8)
    assert "mnist5k: 8 images resized from 28x28 to 32x32 and grey repeated to RGB to fit the model" in caplog.text


def test_a_second_writer_is_refused_and_named(tmp_path, capsys):
    import subprocess
    import sys
    from pathlib import Path

    gon = Path(sys.executable).with_name("gon")
    out = tmp_path / "run"
    first = subprocess.Popen(
        [str(gon), "train", *TINY[:-3], "--steps", "3000", "--quiet", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in first.stderr:
        if line.startswith("gon: training"):
            break
    assert run_cli("train", *TINY, "--out", out) == 2
    assert run_cli("train", *TINY, "--out", out, "--overwrite") == 2
    assert run_cli("train", "--resume", out) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all(f"being written by another gon process (pid {first.pid})" in e for e in errors)
    first.kill()  # a writer that dies holding the lock leaves its file behind, but not the lock
    first.wait(timeout=60)
    assert run_cli("train", *TINY, "--out", out) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # and a finished run leaves no lock file


def test_config_files_that_are_not_configs_are_one_line_errors(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    huge = tmp_path / "huge.json"
    huge.write_text('{"train": {"steps": ' + "9" * 5000 + "}}")
    listed = tmp_path / "listed.json"
    listed.write_text('{"model": {"kind": "conv"}, "train": [1, 2]}')
    for config in ("/dev/zero", deep, huge, listed):
        assert run_cli("train", "--config", config, "--out", tmp_path / "x") == 2
    for seed in ("-1", "4294967296"):
        assert run_cli("train", *TINY, "--seed", seed, "--out", tmp_path / "x") == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 6 and all(e.startswith("gon: error: ") for e in errors), errors
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--latent-dim", "1000000000"],
        ["--hidden-features", "1000000000"],
        ["--classes", "1000000000"],
        ["--model", "implicit", "--image-size", "1000000"],
        ["--model", "implicit", "--num-layers", "1000000"],
    ],
)
def test_huge_models_are_refused_before_allocating(tmp_path, capsys, flags):
    assert run_cli("train", *flags, "--steps", "2", "--out", tmp_path / "x", "--quiet") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and ("the limit is" in error or "at most" in error), error


def test_a_sampler_that_cannot_be_fitted_falls_back_and_keeps_the_run(tmp_path):
    from PIL import Image

    from gon.data import load_data

    digits = load_data("mnist5k", "test", limit=2)
    folder = tmp_path / "two"
    folder.mkdir()
    for i in range(2):  # every tenth file is a test image: one training image
        Image.fromarray(digits.images[i, 0].numpy()).save(folder / f"{i}.png")
    assert (
        run_cli(
            "train",
            "--data",
            f"folder:{folder}",
            "--batch-size",
            "1",
            "--steps",
            "3",
            "--hidden-features",
            "4",
            "--out",
            tmp_path / "run",
            "--quiet",
        )
        == 0
    )
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "samples.png").is_file()


def test_overwrite_says_so_before_deleting_an_interrupted_run_holding_a_model(tmp_path, caplog):
    out = tmp_path / "run"
    assert run_cli("train", *TINY, "--out", out) == 0
    out.rename(tmp_path / ".run.partial")  # a finished run that a crash left in its work folder
    assert run_cli("train", *TINY, "--out", out) == 2  # refused without --overwrite
    assert run_cli("train", *TINY, "--out", out, "--overwrite") == 0
    assert "--overwrite: deleting the interrupted run" in caplog.text and "a trained model" in caplog.text


def test_resume_moves_a_finished_run_left_in_its_work_folder_into_place(tmp_path):
    from gon import resume

    out = tmp_path / "run"
    assert run_cli("train", *TINY, "--out", out) == 0
    final = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    out.rename(tmp_path / ".run.partial")  # killed after the run was written, before the rename
    run = resume(out, progress=False)
    assert run.directory == out and run.metrics == final and "sse_per_image" in final
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_identical_runs_write_identical_files(tmp_path):
    # safetensors keeps metadata in a hash map: its key order once changed the bytes of identical weights
    import hashlib

    digests = []
    for name in ("a", "b"):
        assert run_cli("train", *TINY, "--out", tmp_path / name) == 0
        digests.append(
            {
                f: hashlib.sha256((tmp_path / name / f).read_bytes()).hexdigest()
                for f in ("model.safetensors", "sampler.safetensors")
            }
        )
    assert digests[0] == digests[1]
