"""The command line end to end on real data, and its answers to bad input."""

import gzip
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gon.cli import main

FASHION = Path("/usr/share/datasets/fashion-mnist")
QUICK = ["--steps", "20", "--batch-size", "16", "--limit", "200", "--eval-limit", "64", "--quiet"]


def run_cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "conv"
    assert run_cli("train", "--model", "conv", "--data", "mnist5k", "--hidden-features", "8", "--out", out, *QUICK) == 0
    return out


@pytest.fixture(scope="module")
def implicit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "implicit"
    assert (
        run_cli("train", "--model", "implicit", "--hidden-features", "32", "--num-layers", "2", "--out", out, *QUICK)
        == 0
    )
    return out


def last_json_line(text):
    return json.loads(text.strip().splitlines()[-1])


def test_train_writes_the_run_directory(conv_run):
    names = {p.name for p in conv_run.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "metrics.jsonl",
        "loss.png",
        "reconstructions.png",
        "samples.png",
        "interpolations.png",
        "sampler.safetensors",
    } <= names
    config = json.loads((conv_run / "config.json").read_text())
    assert config["model"]["kind"] == "conv" and config["train"]["steps"] == 20
    records = [json.loads(line) for line in (conv_run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["split"] == "test" and records[-1]["images"] == 64
    assert all(r["loss"] > 0 and r["steps_per_s"] > 0 for r in records[:-1])
    assert Image.open(conv_run / "reconstructions.png").size[0] > 8 * 32


def test_eval_json_on_idx_test_files(conv_run, tmp_path, capsys):
    # A directory holding only the t10k files must work with --split test.
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(FASHION / name, tmp_path / name)
    assert run_cli("eval", conv_run, "--data", f"idx:{tmp_path}", "--split", "test", "--limit", "500", "--json") == 0
    metrics = last_json_line(capsys.readouterr().out)
    assert metrics["images"] == 500 and metrics["split"] == "test"
    assert 0 < metrics["sse_per_image"] < 32 * 32
    assert metrics["mse_per_pixel"] == pytest.approx(metrics["sse_per_image"] / 1024)


def test_eval_reports_elbo_for_variational(tmp_path, capsys):
    out = tmp_path / "vgon"
    assert run_cli("train", "--model", "variational", "--hidden-features", "8", "--out", out, *QUICK) == 0
    capsys.readouterr()
    assert run_cli("eval", out, "--limit", "100", "--json") == 0
    metrics = last_json_line(capsys.readouterr().out)
    assert metrics["elbo_bits_per_dim"] > 0 and metrics["sse_per_image"] > 0
    assert run_cli("sample", out, "--sampler", "prior", "-n", "16") == 0
    assert Image.open(out / "samples.png").size == (4 * 33 + 1, 4 * 33 + 1)


def test_picture_commands(conv_run, tmp_path):
    assert run_cli("reconstruct", conv_run, "-n", "16", "--out", tmp_path / "r.png") == 0
    assert Image.open(tmp_path / "r.png").size == (8 * 33 + 1, 4 * 33 + 1)  # 2 originals + 2 recon rows
    assert run_cli("sample", conv_run, "-n", "9", "--out", tmp_path / "s.png") == 0
    assert Image.open(tmp_path / "s.png").size == (3 * 33 + 1, 3 * 33 + 1)
    assert run_cli("interpolate", conv_run, "--pairs", "3", "--steps", "5", "--out", tmp_path / "i.png") == 0
    assert Image.open(tmp_path / "i.png").size == (5 * 33 + 1, 3 * 33 + 1)
    assert run_cli("reconstruct", conv_run, "-n", "8") == 0  # default: into the run directory
    assert Image.open(conv_run / "reconstructions.png").size == (8 * 33 + 1, 2 * 33 + 1)


def test_render_implicit_at_256(implicit_run):
    assert run_cli("render", implicit_run, "--resolution", "256", "-n", "4") == 0
    assert Image.open(implicit_run / "render-256.png").size == (2 * 257 + 1, 2 * 257 + 1)
    assert (
        run_cli(
            "interpolate",
            implicit_run,
            "--pairs",
            "2",
            "--steps",
            "3",
            "--resolution",
            "64",
            "--out",
            implicit_run / "i64.png",
        )
        == 0
    )


def test_python_dash_m_and_console_script(conv_run):
    # the console script installed beside this interpreter, never one that happens to be on PATH
    script = Path(sys.executable).with_name("gon")
    assert script.is_file(), f"no console script beside {sys.executable}"
    for command in ([sys.executable, "-m", "gon"], [str(script)]):
        result = subprocess.run(
            [*command, "eval", str(conv_run), "--limit", "64", "--json"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert last_json_line(result.stdout)["images"] == 64


def test_config_file_then_flags_override(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(
            {
                "model": {"kind": "conv", "hidden_features": 4, "latent_dim": 8},
                "train": {"steps": 5, "batch_size": 8, "limit": 64, "eval_limit": 16},
            }
        )
    )
    out = tmp_path / "run"
    assert run_cli("train", "--config", config, "--latent-dim", "12", "--out", out, "--quiet") == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["model"]["latent_dim"] == 12 and saved["model"]["hidden_features"] == 4
    # a run's own config.json is a valid --config
    assert run_cli("train", "--config", out / "config.json", "--out", tmp_path / "again", "--quiet") == 0


# bad input: one clear line on stderr, exit code 2, no traceback, nothing half-written


def expect_error(capsys, args, *words, out=None):
    code = run_cli(*args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("gon: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(f".{out.name}.partial*"))


def test_missing_and_truncated_idx(tmp_path, capsys):
    out = tmp_path / "run"
    expect_error(capsys, ["train", "--data", f"idx:{tmp_path / 'nowhere'}", "--out", out, *QUICK], "nowhere", out=out)
    data = tmp_path / "idx"
    data.mkdir()
    raw = gzip.decompress((FASHION / "t10k-images-idx3-ubyte.gz").read_bytes())
    (data / "train-images-idx3-ubyte").write_bytes(raw[: len(raw) // 2])
    expect_error(capsys, ["train", "--data", f"idx:{data}", "--out", out, *QUICK], "train-images-idx3-ubyte", out=out)


def test_empty_folder_and_non_image(tmp_path, capsys):
    out = tmp_path / "run"
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_error(capsys, ["train", "--data", f"folder:{empty}", "--out", out, *QUICK], str(empty), out=out)
    from gon.data import load_data

    for i, digit in enumerate(load_data("mnist5k", "test", limit=20).images[:, 0].numpy()):
        Image.fromarray(digit).save(empty / f"digit_{i:02d}.png")
    (empty / "digit_05.png").write_bytes(b"this is not a PNG file")
    expect_error(capsys, ["train", "--data", f"folder:{empty}", "--out", out, *QUICK], "digit_05.png", out=out)


def test_wrong_spec_and_bad_config_values(tmp_path, capsys):
    out = tmp_path / "run"
    expect_error(capsys, ["train", "--data", "mnist6k", "--out", out, *QUICK], "mnist6k", out=out)
    expect_error(capsys, ["train", "--lr", "-1", "--out", out, *QUICK], "lr", out=out)
    expect_error(
        capsys, ["train", "--model", "conv", "--image-size", "48", "--out", out, *QUICK], "image_size", out=out
    )
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"model": {"kind": "conv", "latent_size": 3}}))
    expect_error(capsys, ["train", "--config", config, "--out", out, *QUICK], "latent_size", out=out)
    config.write_text("{not json")
    expect_error(capsys, ["train", "--config", config, "--out", out, *QUICK], "c.json", out=out)


def test_checkpoint_from_another_model_kind(conv_run, implicit_run, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    shutil.copytree(implicit_run, mixed)
    shutil.copy(conv_run / "model.safetensors", mixed / "model.safetensors")
    expect_error(capsys, ["eval", mixed, "--limit", "8"], "conv", "implicit")
    (mixed / "model.safetensors").write_bytes((conv_run / "model.safetensors").read_bytes()[:100])
    expect_error(capsys, ["eval", mixed, "--limit", "8"], "safetensors")
    expect_error(capsys, ["eval", tmp_path / "absent"], "absent")
    expect_error(capsys, ["render", conv_run], "implicit")


def test_diverging_loss_stops_with_the_step(tmp_path, capsys):
    # An absurd learning rate sends the implicit decoder's linear output to infinity.
    out = tmp_path / "run"
    expect_error(
        capsys,
        [
            "train",
            "--model",
            "implicit",
            "--hidden-features",
            "16",
            "--num-layers",
            "2",
            "--lr",
            "1e30",
            "--out",
            out,
            *QUICK,
        ],
        "diverged",
        "step",
        out=out,
    )


def test_existing_output_is_kept(conv_run, capsys):
    before = (conv_run / "model.safetensors").read_bytes()
    expect_error(capsys, ["train", "--out", conv_run, *QUICK], "exists")
    assert (conv_run / "model.safetensors").read_bytes() == before


def test_npz_source_trains(tmp_path):
    # real digits through the npz loader
    from gon.data import load_data

    digits = load_data("mnist5k", "train", limit=300)
    np.savez(tmp_path / "d.npz", images=digits.images.numpy()[:, 0])
    assert (
        run_cli(
            "train", "--data", f"npz:{tmp_path / 'd.npz'}", "--hidden-features", "4", "--out", tmp_path / "run", *QUICK
        )
        == 0
    )


def test_export_encoder_command(conv_run):
    from gon.affine_encoder import AffineEncoder
    from gon.data import load_data
    from gon.models import load_model

    assert run_cli("export-encoder", conv_run) == 0
    encoder = AffineEncoder.load(conv_run / "encoder.safetensors")
    model, _, _ = load_model(conv_run)
    x = load_data("mnist5k", "test", image_size=32).batch(slice(500, 564))
    assert ((encoder(x) - model.encode(x)).norm() / model.encode(x).norm()) < 1e-4


def test_interpolation_gif(conv_run, tmp_path):
    assert (
        run_cli(
            "interpolate",
            conv_run,
            "--pairs",
            "3",
            "--steps",
            "6",
            "--out",
            tmp_path / "i.png",
            "--gif",
            tmp_path / "i.gif",
        )
        == 0
    )
    gif = Image.open(tmp_path / "i.gif")
    assert gif.n_frames == 6 + 4  # forwards, then back without repeating the ends
    assert gif.size == (3 * 33 + 1, 33 + 1)


def test_pictures_take_the_format_their_suffix_names(conv_run, tmp_path, capsys):
    assert run_cli("sample", conv_run, "-n", "4", "--out", tmp_path / "s.jpg") == 0
    assert Image.open(tmp_path / "s.jpg").format == "JPEG"
    assert run_cli("sample", conv_run, "-n", "4", "--out", tmp_path / "s.xyz") == 2
    assert run_cli("reconstruct", conv_run, "-n", "4", "--out", tmp_path / "new" / "r.png") == 0  # its own folder
    assert run_cli("reconstruct", conv_run, "-n", "4", "--out", tmp_path / "a" / "b" / "r.png") == 2  # not a tree
    assert not (tmp_path / "a").exists() and not (tmp_path / "s.xyz").exists()
    assert "cannot write images as .xyz" in capsys.readouterr().err


def test_pictures_too_large_are_refused_before_allocating(conv_run, implicit_run, capsys):
    assert run_cli("sample", conv_run, "-n", "1000000000") == 2
    assert run_cli("render", implicit_run, "--resolution", "100000") == 2
    assert run_cli("interpolate", implicit_run, "--pairs", "4", "--steps", "10", "--resolution", "20000") == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all("the limit is 1 GiB" in line for line in errors)


def test_weights_are_readable_like_every_other_output(conv_run):
    modes = {p.name: p.stat().st_mode & 0o777 for p in conv_run.iterdir() if p.is_file()}
    assert modes["model.safetensors"] == modes["config.json"] == modes["sampler.safetensors"]


def test_argument_errors_are_one_line_with_a_hint(capsys):
    with pytest.raises(SystemExit) as stop:
        run_cli("train", "--steps", "0")
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        "gon train: error: argument --steps: expected a positive integer, got '0' (see `gon train --help`)\n"
    )
    with pytest.raises(SystemExit) as stop:
        run_cli("--version")
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("gon ")


# a fresh interpreter, since this one has loaded torch already
_FRONT = """import sys
from gon.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    print(stop.code, sorted(m for m in ("torch", "gon.config", "gon.models") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["--version"], 0),
        (["trian"], 2),
        ([], 2),
        (["--steps", "10"], 2),
        (["train", "--data", "mnist5k", "--lr", "1e-3", "--step", "10"], 2),
        (["eval", "runs/x", "--bogus"], 2),
    ],
    ids=["help", "version", "typo", "none", "flag", "command-flag", "command-flag-after-run"],
)
def test_help_version_and_mistakes_answer_before_torch_is_loaded(args, code):
    done = subprocess.run([sys.executable, "-c", _FRONT, *args], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == f"{code} []", done.stdout + done.stderr
    assert code == 0 or re.match(r"gon( [a-z-]+)?: error:", done.stderr) and done.stderr.count("\n") == 1


def test_the_package_loads_its_names_on_first_use():
    script = (
        "import sys, gon\nprint('torch' in sys.modules)\n"
        "import gon.evaluate\nprint(gon.GON.__name__, gon.evaluate.__name__, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    # importing the submodule gon.evaluate leaves `gon.evaluate` the function, as the tutorial calls it
    assert done.stdout.split() == ["False", "GON", "evaluate", "True"], done.stdout + done.stderr


def test_flags_are_not_abbreviated(capsys):
    with pytest.raises(SystemExit) as stop:
        run_cli("train", "--step", "10")  # argparse's default would take it as --steps
    assert stop.value.code == 2 and capsys.readouterr().err == (
        "gon train: error: unrecognized arguments: --step 10; did you mean --steps? (see `gon train --help`)\n"
    )


def test_the_flag_table_is_the_parsers():
    # a fresh interpreter, as `gon` starts: sources and signals that other tests register add choices
    done = subprocess.run([sys.executable, "-m", "gon.cli.parser", "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr  # stale: python -m gon.cli.parser rewrites it


def _answer(parse, argv, capsys):
    """(exit code, standard error) of parse(argv), or None where it returns."""
    try:
        parse(argv)
    except SystemExit as stop:
        return stop.code, capsys.readouterr().err
    return None


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--step", "10"],
        ["train", "--data", "mnist5k", "--lr", "1e-3", "--stpes", "5", "--lrr=1", "--", "x"],
        ["eval", "runs/x", "--bogus"],
        ["eval", "runs/x", "runs/y"],  # one run only
        ["sample", "runs/x", "-n5", "-x"],
        ["train", "--out", "-1", "--steps", "3", "--quiet", "--step", "3"],  # -1 is --out's value
        ["--verbose", "train"],  # an option of the command, before it
        ["render", "--pretrained", "mnist5k-conv", "--resolution", "64", "--split", "train", "--bogus"],
        ["export-onnx", "runs/x", "--encoder", "--encoderout", "y"],
    ],
)
def test_a_flag_no_command_takes_is_answered_from_the_table_as_the_parser_answers(argv, capsys):
    from gon.cli import flags, parse

    fast = _answer(flags.check, argv, capsys)
    assert fast is not None and fast[0] == 2 and "unrecognized arguments" in fast[1]
    assert _answer(parse, argv, capsys) == fast


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--bogus", "--steps", "0"],  # the parser names the bad value first
        ["train", "--model", "nosuch", "--bogus"],  # and a bad choice
        ["train", "--bogus", "--out"],  # and a missing value
        ["train", "--out", "-x", "--bogus"],  # "-x" looks like a flag: --out has no value
        ["report", "--bogus"],  # and a missing run
        ["train", "--bogus", "--help"],  # the help, exit 0
        ["train", "--inner-scale", "-1", "--bogus"],  # a value of a type only the parser checks
        ["train", "--steps", "10", "--lr", "1e-3", "--inner-scale", "calibrated"],  # all fine
        ["sample", "--pretrained", "mnist5k-conv", "-n", "4", "--fps", "12"],
        ["eval", "runs/x", "--split", "all", "--json"],
    ],
)
def test_the_table_leaves_to_the_parser_what_it_is_not_sure_of(argv, capsys):
    from gon.cli import flags

    assert _answer(flags.check, argv, capsys) is None


@pytest.fixture
def full_disk_copy(conv_run, tmp_path):
    """A copy of conv_run on a tmpfs filled to the last byte (needs root to mount; skipped otherwise)."""
    mount = tmp_path / "full"
    mount.mkdir()
    size = sum(p.stat().st_size for p in conv_run.iterdir()) + (1 << 20)
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        run = mount / "run"
        shutil.copytree(conv_run, run)
        with open(mount / "filler", "wb", buffering=0) as f:  # every block but none
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        yield run
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(full_disk_copy, capsys):
    run = full_disk_copy
    before = sorted(p.name for p in run.iterdir())
    commands = [
        ("sample", run, "--sampler", "gmm", "-n", "4"),
        ("export-encoder", run, "--data", "mnist5k"),
        ("reconstruct", run, "-n", "4", "--out", run / "r.png"),
    ]
    if importlib.util.find_spec("onnxruntime") is not None:
        commands.append(("export-onnx", run))
    for command in commands:
        assert run_cli(*command) == 2, command
        error = capsys.readouterr().err.strip()
        assert error.startswith("gon: error:") and "No space left on device" in error and "\n" not in error, error
    assert sorted(p.name for p in run.iterdir()) == before


def test_every_config_field_has_a_flag_and_a_flat_config_key(tmp_path):
    import dataclasses

    from gon.cli.parser import build_parser
    from gon.config import NESTED, ModelConfig, TrainConfig, flat_fields
    from gon.fields import flat_name

    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]
    destinations = {action.dest for action in train_parser._actions}
    # every field, those of the nested configs (the groups of options, the gradient-origin step, each
    # signal's settings) under their flat names (origin.steps: inner_steps, siren.w0: w0)
    fields = [f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls) if f.name not in NESTED]
    fields += [flat_name(f) for cls in NESTED.values() for f in dataclasses.fields(cls)]
    assert sorted(fields) == sorted(flat_fields())
    assert not [name for name in fields if name not in destinations], "config fields without a flag"
    flat = tmp_path / "flat.json"  # one key of every kind, in a flat file (latent_lr was refused)
    flat.write_text(
        json.dumps(
            {
                "kind": "glo",
                "latent_lr": 0.05,
                "inference_steps": 5,
                "hidden_features": 4,
                "steps": 3,
                "batch_size": 16,
                "limit": 64,
                "eval_limit": 16,
            }
        )
    )
    assert run_cli("train", "--config", flat, "--out", tmp_path / "glo", "--quiet") == 0
    saved = json.loads((tmp_path / "glo" / "config.json").read_text())["model"]
    assert saved["glo"] == {"train_images": 64, "latent_lr": 0.05, "inference_steps": 5}  # written nested
    assert (
        run_cli(
            "train",
            "--model",
            "glo",
            "--latent-lr",
            "0.2",
            "--hidden-features",
            "4",
            "--steps",
            "3",
            "--batch-size",
            "16",
            "--limit",
            "64",
            "--eval-limit",
            "16",
            "--out",
            tmp_path / "g2",
            "--quiet",
        )
        == 0
    )


def test_a_disk_full_before_the_first_byte_is_one_line(tmp_path, capsys):
    mount = tmp_path / "full"
    mount.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        with open(mount / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        code = run_cli(
            "train",
            "--hidden-features",
            "4",
            "--latent-dim",
            "8",
            "--batch-size",
            "16",
            "--limit",
            "64",
            "--eval-limit",
            "16",
            "--steps",
            "2",
            "--checkpoint-every",
            "1",
            "--out",
            mount / "run",
            "--quiet",
        )
        error = capsys.readouterr().err.strip()
        assert code == 2 and "No space left on device" in error and "\n" not in error, error
        assert sorted(p.name for p in mount.iterdir()) == ["filler"]  # no lock, run.json or folder left behind
    finally:
        subprocess.run(["umount", str(mount)], check=False)
