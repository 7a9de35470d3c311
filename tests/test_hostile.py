"""Hostile file systems and inputs around a run: symlinks and device files where gon's own
names or outputs belong, folders that only look like runs, damaged files a run holds, a
read-only or full disk, absurd numbers. Each answer is one line and exit 2, and nothing
outside the place the user named is touched (docs/reliability.md, "Failure table")."""

import errno
import gzip
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gon.cli import main
from gon.data import load_data
from gon.files import FORMAT, read_tensors, save_tensors, write_atomically

T = [
    "--latent-dim",
    "4",
    "--hidden-features",
    "4",
    "--limit",
    "64",
    "--eval-limit",
    "16",
    "--batch-size",
    "16",
    "--steps",
    "2",
    "--quiet",
]
LEGACY = Path(__file__).parent / "data" / "legacy"


def run_cli(*args):
    return main([str(a) for a in args])


def one_line_error(capsys, *words):
    error = capsys.readouterr().err.strip()
    assert error.startswith("gon: error:") and "\n" not in error, error
    assert all(word in error for word in words), error
    return error


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert run_cli("train", *T, "--out", out) == 0
    return out


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def victim_folder(tmp_path):
    victim = tmp_path / "victim"
    (victim / "checkpoints").mkdir(parents=True)
    (victim / "config.json").write_text("the victim's own config")
    return victim


def test_a_symlinked_work_folder_is_refused_and_not_followed(tmp_path, capsys):  # case 1
    victim = victim_folder(tmp_path)
    (tmp_path / ".partrun.partial").symlink_to(victim)
    assert run_cli("train", *T, "--checkpoint-every", "1", "--out", tmp_path / "partrun") == 2
    one_line_error(capsys, ".partrun.partial is a symlink")
    assert (victim / "config.json").read_text() == "the victim's own config" and (victim / "checkpoints").is_dir()
    assert not os.path.lexists(tmp_path / "partrun")


@pytest.mark.parametrize("how", ["symlink", "hard link", "foreign content"])
def test_a_lock_file_that_is_not_gons_is_refused_and_left_alone(tmp_path, capsys, how):  # case 2
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    lock = tmp_path / ".lockrun.lock"
    if how == "symlink":
        lock.symlink_to(victim)
    elif how == "hard link":
        os.link(victim, lock)
    else:
        lock.write_text("precious\n")
    assert run_cli("train", *T, "--out", tmp_path / "lockrun") == 2
    one_line_error(capsys, str(lock))
    assert victim.read_text() == "precious\n" and not (tmp_path / "lockrun").exists()


def test_a_stale_lock_of_a_killed_writer_is_taken_over(tmp_path):
    (tmp_path / ".run.lock").write_text("12345\n")  # what SIGKILL leaves: a pid, no lock held
    assert run_cli("train", *T, "--out", tmp_path / "run") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def fake_model_folder(folder, *others):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "hidden_size": 8}))
    save_tensors({"w": torch.zeros(2)}, folder / "model.safetensors", metadata={"format": "pt"})
    for name in others:
        (folder / name).write_text("someone's work")


@pytest.mark.parametrize("others", [("tokenizer.json", "README.md"), ("thesis.tex",)])
def test_overwrite_refuses_folders_that_only_look_like_a_run(tmp_path, capsys, others):  # case 3
    folder = tmp_path / "model"
    fake_model_folder(folder, *others)
    before = sorted(p.name for p in folder.iterdir())
    assert run_cli("train", *T, "--out", folder, "--overwrite") == 2
    one_line_error(capsys, "not a gon run", "rm -r")
    assert sorted(p.name for p in folder.iterdir()) == before


def test_overwrite_knows_a_run_by_its_marker_and_old_runs_strictly(tmp_path, capsys):
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY / "conv", legacy)  # written before the marker: gon's files only, gon's format
    assert run_cli("train", *T, "--out", legacy, "--overwrite") == 0
    marker = json.loads((legacy / "run.json").read_text())
    assert marker["format"] == FORMAT and marker["model"]["latent_dim"] == 4
    assert run_cli("train", *T, "--out", legacy, "--overwrite") == 0  # a marked run is replaced
    mixed = tmp_path / "mixed"
    shutil.copytree(LEGACY / "conv", mixed)
    (mixed / "thesis.tex").write_text("four years")
    capsys.readouterr()
    assert run_cli("train", *T, "--out", mixed, "--overwrite") == 2
    one_line_error(capsys, "not a gon run", f"rm -r {mixed}")
    assert (mixed / "thesis.tex").read_text() == "four years"


def special_files(tmp_path):
    """A FIFO, a socket, a directory, a symlink to a FIFO and (as root) a character device."""
    made = {}
    os.mkfifo(tmp_path / "fifo.png")
    made["fifo"] = tmp_path / "fifo.png"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "socket.png"))
    made["socket"] = tmp_path / "socket.png"
    (tmp_path / "folder.png").mkdir()
    made["directory"] = tmp_path / "folder.png"
    (tmp_path / "link.png").symlink_to(made["fifo"])
    made["symlink"] = tmp_path / "link.png"
    try:
        os.mknod(tmp_path / "null.png", 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
        made["device"] = tmp_path / "null.png"
    except PermissionError:
        pass
    return made, server


def test_outputs_never_replace_a_device_fifo_socket_directory_or_symlink(tiny_run, tmp_path, capsys):  # case 4
    made, server = special_files(tmp_path)
    try:
        modes = {name: os.lstat(path).st_mode for name, path in made.items()}
        for name, path in made.items():
            for command in [
                ("interpolate", tiny_run, "--pairs", "1", "--steps", "2", "--out", tmp_path / "i.png", "--gif", path),
                ("report", tiny_run, "--out", path),
                ("export-encoder", tiny_run, "--out", path),
                ("reconstruct", tiny_run, "-n", "2", "--out", path),
            ]:
                assert run_cli(*command) == 2, (name, command[0])
                one_line_error(capsys, str(path))
                assert os.lstat(path).st_mode == modes[name], (name, command[0])
    finally:
        server.close()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlinked_aside_folder_is_refused_before_training(run_copy, tmp_path, capsys):  # case 17
    victim = victim_folder(tmp_path)
    (tmp_path / ".run.old").symlink_to(victim)
    assert run_cli("train", *T, "--out", run_copy, "--overwrite") == 2
    one_line_error(capsys, ".run.old is a symlink")
    assert (victim / "config.json").read_text() == "the victim's own config"
    assert not os.path.lexists(tmp_path / ".run.partial") and (run_copy / "model.safetensors").is_file()


def write_idx(folder, images, mtime):
    folder.mkdir()
    header = struct.pack(">BBBBIII", 0, 0, 8, 3, *images.shape)
    for split in ("train", "t10k"):
        path = folder / f"{split}-images-idx3-ubyte.gz"
        path.write_bytes(gzip.compress(header + images.tobytes(), compresslevel=0, mtime=0))  # same size for any pixels
        os.utime(path, (mtime, mtime))


def test_the_stream_cache_is_keyed_by_content_and_leaves_no_orphans(tmp_path, monkeypatch):  # case 5, also seen
    import gon.data.idx

    cache = tmp_path / "cache"
    monkeypatch.setattr(gon.data.idx, "IDX_CACHE", cache)
    digits = (load_data("mnist5k", "train", limit=64).batch(slice(0, 64))[:, 0] * 255).round().to(torch.uint8).numpy()
    write_idx(tmp_path / "A", digits, 1_000_000)
    write_idx(tmp_path / "B", 255 - digits, 1_000_000)
    a, b = (tmp_path / name / "train-images-idx3-ubyte.gz" for name in "AB")
    assert (a.stat().st_size, a.stat().st_mtime) == (b.stat().st_size, b.stat().st_mtime)
    cache.mkdir()
    orphan = cache / "train-images-idx3-ubyte.gz-0.raw.partial-99999"  # what a SIGKILL left
    orphan.write_bytes(b"half")
    for name in "AB":
        streamed = load_data(f"idx:{tmp_path / name}", "train", stream=True).batch(slice(0, 64))
        in_memory = load_data(f"idx:{tmp_path / name}", "train").batch(slice(0, 64))
        assert torch.equal(streamed, in_memory), name
    assert not orphan.exists() and len(list(cache.glob("*.raw"))) == 2 and not list(cache.glob("*partial*"))


def png_bytes(size=8):
    path_image = Image.new("L", (size, size), 128)
    from io import BytesIO

    buffer = BytesIO()
    path_image.save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_header(data, width=20000, height=20000):
    """A PNG whose header claims width x height pixels (its CRC fixed, so only the size is wrong)."""
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    return data[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + data[33:]


@pytest.mark.parametrize("bad", ["empty", "text", "truncated", "bomb"])
def test_a_bad_test_image_stops_the_run_naming_it(tmp_path, capsys, bad):  # case 6
    data = tmp_path / "data"
    for split in ("train", "test"):
        (data / split).mkdir(parents=True)
        for i in range(4):
            (data / split / f"{i}.png").write_bytes(png_bytes())
    damaged = data / "test" / "9.png"
    damaged.write_bytes(
        {"empty": b"", "text": b"not an image", "truncated": png_bytes(64)[:60], "bomb": bomb_header(png_bytes())}[bad]
    )
    assert run_cli("train", *T, "--data", f"folder:{data}", "--out", tmp_path / "run") == 2
    one_line_error(capsys, "9.png")
    assert not (tmp_path / "run").exists()


@pytest.fixture
def tmpfs(tmp_path):
    """A fresh 1 MiB tmpfs (root only: skipped elsewhere), unmounted afterwards."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_read_only_folder_is_one_line_for_every_command(tiny_run, tmpfs, capsys):  # case 7
    run = tmpfs / "run"
    shutil.copytree(tiny_run, run)
    assert subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)]).returncode == 0
    before = sorted(p.name for p in run.iterdir())
    for command in [
        ("reconstruct", run, "-n", "2"),
        ("sample", run, "-n", "2"),
        ("interpolate", run, "--pairs", "1"),
        ("export-encoder", run),
        ("inspect", run, "--limit", "16"),
        ("report", run),
        ("train", *T, "--out", tmpfs / "new"),
        ("train", *T, "--out", run, "--overwrite"),
    ]:
        assert run_cli(*command) == 2, command[0]
        one_line_error(capsys, "Read-only file system")
    assert sorted(p.name for p in run.iterdir()) == before


def test_a_read_only_folder_in_process(run_copy, monkeypatch, capsys):  # case 7, without a mount
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(args[0]))

    monkeypatch.setattr(os, "replace", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)  # the cleanup fails as well, as it does on a read-only mount
    assert run_cli("reconstruct", run_copy, "-n", "2") == 2
    one_line_error(capsys, "Read-only file system")


def test_a_full_disk_under_stdout_and_for_a_figure(tiny_run, tmpfs, capsys):  # case 8
    gon = Path(sys.executable).with_name("gon")
    with open("/dev/full", "w") as full:  # every write: ENOSPC
        done = subprocess.run(
            [str(gon), "eval", str(tiny_run), "--json", "--limit", "16"], stdout=full, stderr=subprocess.PIPE, text=True
        )
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert done.returncode == 2 and errors == [
        "gon: error: could not write the standard output (No space left on device)"
    ], done.stderr
    with open(tmpfs / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    assert run_cli("inspect", tiny_run, "--limit", "16", "--out", tmpfs / "lat.png") == 2
    one_line_error(capsys, "No space left on device")
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler"]  # no 0-byte PNG


def damaged_sampler(run, name, tensors):
    file = run / ("sampler.safetensors" if name == "gaussian" else f"sampler-{name}.safetensors")
    save_tensors(tensors, file, metadata={"format": FORMAT, "sampler": name})


SAMPLERS = {
    "mean of the wrong length": ("gaussian", {"mean": torch.zeros(3), "covariance": torch.eye(4)}),
    "float64": ("gaussian", {"mean": torch.zeros(4, dtype=torch.float64), "covariance": torch.eye(4).double()}),
    "scalars": ("gaussian", {"mean": torch.tensor(0.0), "covariance": torch.tensor(1.0)}),
    "nan covariance": ("gaussian", {"mean": torch.zeros(4), "covariance": torch.full((4, 4), float("nan"))}),
    "negative weights": (
        "gmm",
        {"weights": torch.tensor([1.5, -0.5]), "means": torch.zeros(2, 4), "covariances": torch.eye(4).repeat(2, 1, 1)},
    ),
    "nan weights": (
        "gmm",
        {
            "weights": torch.tensor([float("nan"), 1.0]),
            "means": torch.zeros(2, 4),
            "covariances": torch.eye(4).repeat(2, 1, 1),
        },
    ),
    "empty weights": (
        "gmm",
        {"weights": torch.zeros(0), "means": torch.zeros(0, 4), "covariances": torch.zeros(0, 4, 4)},
    ),
    "means against covariances": (
        "gmm",
        {"weights": torch.tensor([0.5, 0.5]), "means": torch.zeros(2, 4), "covariances": torch.eye(3).repeat(2, 1, 1)},
    ),
}


@pytest.mark.parametrize("damage", SAMPLERS)
def test_a_damaged_sampler_file_is_one_line(run_copy, capsys, damage):  # case 10
    name, tensors = SAMPLERS[damage]
    damaged_sampler(run_copy, name, tensors)
    assert run_cli("sample", run_copy, "-n", "2", "--sampler", name) == 2
    one_line_error(capsys, "sampler")


def test_a_report_with_figures_claiming_a_huge_size_is_written(run_copy, capsys):  # case 11
    for name in ("reconstructions.png", "loss.png"):
        (run_copy / name).write_bytes(bomb_header((run_copy / name).read_bytes()))
    assert run_cli("report", run_copy) == 0
    page = (run_copy / "report.html").read_text()
    assert "reconstructions.png is not a readable PNG image" in page


@pytest.mark.parametrize(
    "command",
    [
        ("train", "--lr", "1e300"),
        ("train", "--epochs", "1e308"),
        ("train", "--config", "LR 3e38"),
        ("train", "--config", "LR 1e39"),
        ("eval", "RUN", "--seed", "100000000000000000000000"),
        ("sample", "RUN", "--seed", "100000000000000000000000"),
        ("eval", "RUN", "--threads", "100000"),
    ],
)
def test_absurd_numbers_are_one_line(tiny_run, tmp_path, capsys, command):  # cases 12 and 18
    args = [str(tiny_run) if a == "RUN" else a for a in command]
    if "--config" in args:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"lr": float(args[-1].split()[1])}))
        args[-1] = str(config)
    if args[0] == "train":
        args += [*T, "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) if "--seed" in args or "--threads" in args else nullcontext() as stop:
        code = run_cli(*args)
    code = stop.value.code if stop is not None else code
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert "error" in error and "\n" not in error and "internal" not in error, error
    assert not (tmp_path / "run").exists()


class nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("stream", [False, True])
def test_an_idx_header_of_images_without_pixels_is_one_line(tmp_path, capsys, stream):  # case 14
    folder = tmp_path / "idx"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, 200, 0, 0))
    assert (
        run_cli("train", *T, "--data", f"idx:{folder}", *(["--stream"] if stream else []), "--out", tmp_path / "run")
        == 2
    )
    one_line_error(capsys, "train-images-idx3-ubyte", "needs pixels")


def test_nan_weights_are_refused_by_inspect_and_null_in_json(run_copy, capsys):  # case 15, also seen
    tensors, metadata = read_tensors(run_copy / "model.safetensors")
    save_tensors(
        {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()},
        run_copy / "model.safetensors",
        metadata,
    )
    assert run_cli("inspect", run_copy, "--limit", "16") == 2
    one_line_error(capsys, "not finite")
    assert not (run_copy / "latents.png").exists()
    assert run_cli("eval", run_copy, "--json", "--limit", "16") == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])  # strict JSON: no bare NaN
    assert metrics["sse_per_image"] is None


def test_a_train_section_that_is_not_an_object_is_one_line(run_copy, capsys):  # case 16
    document = json.loads((run_copy / "config.json").read_text())
    (run_copy / "config.json").write_text(json.dumps({**document, "train": "x"}))
    assert run_cli("eval", run_copy) == 2
    one_line_error(capsys, "'train' must be a JSON object")


def test_concurrent_writers_of_one_output_use_their_own_temporaries(tmp_path):  # also seen: two `gon render`
    out = tmp_path / "render.png"
    inner_written = []

    def outer(tmp):
        write_atomically(out, lambda inner: inner.write_text("second"))  # another process, in the middle of ours
        inner_written.append(out.read_text())
        tmp.write_text("first")

    write_atomically(out, outer)
    assert inner_written == ["second"] and out.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.png"]


def test_sigterm_leaves_no_lock_behind(tmp_path):  # also seen
    gon = Path(sys.executable).with_name("gon")
    out = tmp_path / "run"
    writer = subprocess.Popen(
        [str(gon), "train", *T[:-3], "--steps", "100000", "--out", str(out)], stderr=subprocess.PIPE, text=True
    )
    for line in writer.stderr:
        if line.startswith("gon: training"):
            break
    assert (tmp_path / ".run.lock").exists()
    writer.send_signal(signal.SIGTERM)
    assert writer.wait(timeout=120) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_run_killed_before_its_figures_gets_them_on_resume(run_copy, tmp_path):  # also seen
    from gon import resume

    work = tmp_path / ".run.partial"
    for name in ("samples.png", "interpolations.png", "sampler.safetensors"):
        (run_copy / name).unlink()
    run_copy.rename(work)  # SIGKILL right after metrics.jsonl: no figures, no sampler
    resume(tmp_path / "run", progress=False)
    assert all(
        (tmp_path / "run" / name).is_file()
        for name in ("samples.png", "interpolations.png", "sampler.safetensors", "run.json")
    )


def test_a_full_disk_during_the_figures_names_resume_and_keeps_the_model(tmp_path, monkeypatch, capsys):  # also seen
    import gon.signals.image

    real = gon.signals.image.image_grid  # what the image signal draws every figure with

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gon.signals.image, "image_grid", full)
    out = tmp_path / "run"
    assert run_cli("train", *T, "--out", out) == 2
    one_line_error(capsys, "No space left on device", f"gon train --resume {out}")
    assert (tmp_path / ".run.partial" / "model.safetensors").is_file() and not out.exists()
    monkeypatch.setattr(gon.signals.image, "image_grid", real)
    assert run_cli("train", "--resume", out) == 0
    assert (out / "interpolations.png").is_file() and not (tmp_path / ".run.partial").exists()


PEAK = """
import gc, sys, torch
torch.set_num_threads(1)
from gon import ModelConfig, SirenOptions, build_model
from gon.models.registry import activation_bytes

def status(field):  # bytes
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(field + ":"))

def reset_peak():  # VmHWM back to the resident size now: earlier peaks (imports) do not count
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status("VmRSS")

mode, size = sys.argv[1], int(sys.argv[2])
config = ModelConfig(kind="implicit", image_size=size, hidden_features=64, siren=SirenOptions(num_layers=3), latent_dim=16)
model, x = build_model(config), torch.rand(16, 1, size, size)
if mode == "train":
    model(x[:1]).backward()  # kernels and allocator warmed on one image
    before = reset_peak()
    model(x).backward()
else:
    model.eval()
    model.evaluate_batch(x[:1])
    before = reset_peak()
    model.evaluate_batch(x)
print(status("VmHWM") - before, activation_bytes(config, 16, mode))
"""


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_the_activation_estimate_covers_the_measured_peak(mode):  # case 13
    done = subprocess.run([sys.executable, "-c", PEAK, mode, "64"], capture_output=True, text=True, check=True)
    measured, estimate = map(int, done.stdout.split())
    assert 0 < measured <= estimate  # docs/reliability.md, "Memory estimates"


def test_huge_implicit_images_are_refused_before_they_are_computed(tmp_path, capsys, monkeypatch):  # case 13
    assert (
        run_cli(
            "train",
            *T,
            "--model",
            "implicit",
            "--hidden-features",
            "256",
            "--image-size",
            "11000",
            "--limit",
            "1",
            "--batch-size",
            "1",
            "--steps",
            "1",
            "--out",
            tmp_path / "big",
        )
        == 2
    )
    one_line_error(capsys, "GiB of activations")
    run = tmp_path / "implicit"
    assert run_cli("train", *T, "--model", "implicit", "--out", run) == 0
    capsys.readouterr()
    config = json.loads((run / "config.json").read_text())
    config["model"].update(image_size=6000, hidden_features=256)
    (run / "config.json").write_text(json.dumps(config))
    tensors, metadata = read_tensors(run / "model.safetensors")  # the weights of a wider model, as a config says
    from gon import ModelConfig, build_model

    wide = build_model(ModelConfig.from_dict(config["model"]))
    save_tensors({k: v.contiguous() for k, v in wide.state_dict().items()}, run / "model.safetensors", metadata)
    assert run_cli("eval", run, "--limit", "1") == 2
    one_line_error(capsys, "GiB of activations")
    import gon.cli.commands

    monkeypatch.setattr(gon.cli.commands, "available_memory", lambda: 2 << 30)  # a 2 GiB machine
    # the original beside its render, both at 11000 px: inside 2^28 values, not inside 2 GiB
    assert run_cli("render", run, "-n", "1", "--resolution", "11000") == 2
    one_line_error(capsys, "GiB to render, draw and write")


RENDER = """
import gc, sys, torch
torch.set_num_threads(1)
from gon import ModelConfig, build_model
from gon.cli.commands import PICTURE_BYTES_PER_VALUE
from gon.viz import image_grid

def status(field):  # bytes
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(field + ":"))

model = build_model(ModelConfig(kind="implicit", hidden_features=4, latent_dim=4)).eval()
image_grid(model.render(torch.zeros(1, 4), 64))
gc.collect()
with open("/proc/self/clear_refs", "w") as f:  # the peak so far (imports) does not count
    f.write("5")
before = status("VmRSS")
image_grid(model.render(torch.zeros(1, 4), 4096)).save(sys.argv[1])
print(status("VmHWM") - before, 4096 ** 2 * PICTURE_BYTES_PER_VALUE + (64 << 20))
"""


def test_the_picture_estimate_covers_the_measured_peak(tmp_path):  # case 13
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(tmp_path / "r.png")], capture_output=True, text=True, check=True
    )
    measured, estimate = map(int, done.stdout.split())
    assert 0 < measured <= estimate  # docs/reliability.md, "Memory estimates"


def test_a_work_folder_gon_did_not_write_is_refused_and_kept(tmp_path, capsys):  # a foreign .NAME.partial
    foreign = tmp_path / ".run.partial"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert run_cli("train", *T, "--out", tmp_path / "run") == 2
    one_line_error(capsys, ".run.partial is a folder gon did not write")
    assert (foreign / "notes.txt").read_text() == "mine" and not (tmp_path / "run").exists()


@pytest.mark.parametrize("errno_name", ["ENOTDIR", "EACCES", "EISDIR"])
def test_os_errors_of_any_kind_are_one_line(run_copy, monkeypatch, capsys, errno_name):  # case 7's one place
    if errno_name == "ENOTDIR":  # a real one: a folder under a file
        assert run_cli("reconstruct", run_copy, "-n", "2", "--out", run_copy / "config.json" / "x.png") == 2
    else:

        def refuse(*args, **kwargs):
            raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)), "somewhere")

        import gon.cli.commands

        monkeypatch.setattr(gon.cli.commands, "evaluate", refuse)  # inside a command, not in a write of ours
        assert run_cli("eval", run_copy, "--limit", "16") == 2
    one_line_error(capsys)


# round four: sound, stored scales, dtypes, inner steps (docs/reliability.md, "Failure table")


def test_inner_steps_are_bounded_from_the_flag_and_from_a_run_config(run_copy, tmp_path, capsys):  # cause 1
    assert run_cli("train", *T, "--inner-steps", 10**9, "--out", tmp_path / "new") == 2
    one_line_error(capsys, "inner_steps must be at most")
    document = json.loads((run_copy / "config.json").read_text())
    document["model"]["origin"]["steps"] = 10**9
    (run_copy / "config.json").write_text(json.dumps(document))
    assert run_cli("eval", run_copy, "--limit", 16) == 2
    one_line_error(capsys, "inner_steps must be at most")
    assert not (tmp_path / "new").exists()


def stored(run, change):
    tensors, metadata = read_tensors(run / "model.safetensors")
    save_tensors(change(tensors), run / "model.safetensors", metadata)


def weights_as(dtype):
    return lambda tensors: {
        k: v.to(dtype) if v.is_floating_point() and k != "calibrated_scale" else v for k, v in tensors.items()
    }


DAMAGED_WEIGHTS = {
    **{
        f"calibrated scale {value}": lambda t, value=value: {**t, "calibrated_scale": torch.tensor(value)}
        for value in (-1.0, 0.0, float("inf"))
    },
    **{f"{dtype} weights": weights_as(dtype) for dtype in (torch.complex64, torch.bool, torch.int64, torch.uint8)},
}


@pytest.mark.parametrize("damage", DAMAGED_WEIGHTS)
def test_stored_weights_of_another_dtype_or_a_scale_out_of_range_are_one_line(run_copy, capsys, damage):  # 4, 5
    stored(run_copy, DAMAGED_WEIGHTS[damage])
    assert run_cli("eval", run_copy, "--limit", 16) == 2
    one_line_error(capsys, "model.safetensors: unusable weights")
    assert capsys.readouterr().err == ""  # no torch warning (complex to float) either


def test_a_scale_not_yet_calibrated_and_float64_weights_load(run_copy, capsys):  # NaN: "not yet calibrated"
    stored(run_copy, lambda t: {**weights_as(torch.float64)(t), "calibrated_scale": torch.tensor(float("nan"))})
    assert run_cli("eval", run_copy, "--limit", 16, "--json") == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["sse_per_image"] > 0


@pytest.mark.parametrize("name", [12, "x" * 10000, "/tmp/" + "y" * 10000])
def test_a_model_name_that_is_no_folder_is_one_line_from_python(name):  # also seen
    from gon import GON, GONError

    with pytest.raises(GONError) as error:
        GON.from_pretrained(name)
    assert len(str(error.value)) < 200 and "\n" not in str(error.value)


def test_a_data_set_indexed_by_a_float_or_none_is_one_line(sounds_dir):  # also seen
    from gon import GONError
    from gon.data import load_sounds

    images, clips = load_data("mnist5k", "test", limit=4), load_sounds("sounds", "test", 8000, 0.25, limit=2)
    for data, index in ((images, None), (images, 1.5), (clips, 1.5), (clips, None), (clips, "0")):
        with pytest.raises(GONError, match="index with an int, a slice"):
            data[index]
    with pytest.raises(IndexError, match="out of range for 2 clips"):
        clips[2]
    assert clips[[1, 0]][0].shape == (2, 1, 2000) and torch.equal(clips[-1][0], clips.clips[1])


@pytest.mark.parametrize("kind", ["folder", "audio"])
def test_train_and_test_that_are_one_folder_are_refused(tmp_path, sounds_dir, capsys, kind):  # also seen
    data = tmp_path / "data"
    (data / "all").mkdir(parents=True)
    if kind == "folder":
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(data / "all" / f"{i}.png")
        model = []
    else:
        shutil.copy(sounds_dir / "samples" / "bd_boom.flac", data / "all")
        model = ["--model", "audio-conv", "--sample-rate", 8000, "--clip-seconds", 0.25]
    (data / "train").symlink_to(data / "all")
    (data / "test").symlink_to(data / "all")
    assert run_cli("train", *T, *model, "--data", f"{kind}:{data}", "--batch-size", 1, "--out", tmp_path / "run") == 2
    one_line_error(capsys, "are the same folder")
    assert not (tmp_path / "run").exists()


def test_a_run_records_its_data_folder_so_commands_work_from_anywhere(tmp_path, sounds_dir, monkeypatch):  # also seen
    aud = tmp_path / "here" / "aud"
    aud.mkdir(parents=True)
    for name in ("bd_boom.flac", "sn_dub.flac", "hat_raw.flac", "tabla_na.flac", "bd_haus.aiff"):
        shutil.copy(sounds_dir / "samples" / name, aud)
    monkeypatch.chdir(tmp_path / "here")
    assert (
        run_cli(
            "train",
            "--model",
            "audio-conv",
            "--data",
            "audio:aud",
            "--sample-rate",
            8000,
            "--clip-seconds",
            0.25,
            "--steps",
            1,
            "--batch-size",
            2,
            "--out",
            tmp_path / "run",
            "--quiet",
        )
        == 0
    )
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["train"]["data"]
    assert recorded == f"audio:{aud.resolve()}"
    monkeypatch.chdir(tmp_path)
    assert run_cli("eval", tmp_path / "run") == 0


def test_a_huge_inner_scale_is_named_as_the_cause_of_a_divergence(tmp_path, capsys):  # also seen
    assert run_cli("train", *T, "--inner-scale", "1e30", "--out", tmp_path / "run") == 2
    error = one_line_error(capsys, "training diverged", "--inner-scale")
    assert "--lr" not in error
