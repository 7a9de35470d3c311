"""Colour images: the emoji spec on the real Noto emoji of emoji-datasource-google 16.0.0, and the
alpha compositing that folder: and emoji share."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gon
import gon.data.emoji as emoji
import gon.data.images as images
from gon.data import load_data
from gon.errors import GONError

# file names of the three kinds of transparency the package holds: 3,722 RGBA, 62 LA (grey), 2 palette
RGBA, GREY_ALPHA, PALETTE = "1f600.png", "1f374.png", "1f311.png"


def sha1_test(name: str) -> bool:
    """The documented split, computed here independently of gon.data.emoji."""
    return int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % 10 == 0


def file_categories(directory: Path) -> dict[str, str]:
    entries = json.loads((directory / "emoji.json").read_text(encoding="utf-8"))
    found = {}
    for entry in entries:
        for item in [entry, *(entry.get("skin_variations") or {}).values()]:
            found[item["image"]] = entry["category"]
    return found


def names(directory: Path, split: str) -> list[str]:
    files, _ = emoji.emoji_files(directory, split, "emoji")
    return [path.name for path in files]


def test_split_is_fixed_disjoint_and_a_tenth(emoji_dir: Path) -> None:
    train, test = names(emoji_dir, "train"), names(emoji_dir, "test")
    everything = sorted(p.name for p in (emoji_dir / emoji.IMAGE_FOLDER).glob("*.png"))
    assert len(everything) == 3786
    assert not set(train) & set(test) and sorted(train + test) == everything
    assert (len(train), len(test)) == (3433, 353)  # 9.3% test
    assert all(sha1_test(n) for n in test) and not any(sha1_test(n) for n in train)
    assert names(emoji_dir, "test") == test  # same order every time: sorted by the SHA-1 of the name
    assert train[:3] == sorted(train, key=lambda n: hashlib.sha1(n.encode()).digest())[:3]


def test_limit_keeps_the_first_images_with_category_labels(emoji_dir: Path) -> None:
    test = load_data("emoji", "test")
    assert len(test) == 353 and test.shape == (3, 64, 64) and test.images.dtype == torch.uint8
    first = load_data(f"emoji:{emoji_dir}", "test", limit=300)
    assert len(first) == 300 and torch.equal(first.images, test.images[:300])
    assert torch.equal(first.labels, test.labels[:300])

    categories = emoji.categories(emoji_dir)
    assert categories == sorted(categories) and len(categories) == 10 and "Smileys & Emotion" in categories
    category_of = file_categories(emoji_dir)
    expected = [categories.index(category_of[n]) for n in names(emoji_dir, "test")]
    assert test.labels.tolist() == expected
    # the hash order mixes categories (all but perhaps Component: 5 skin-tone swatches, 1 in the test split)
    assert len(set(first.labels.tolist())) >= 9
    # the labels train a GON classifier
    model = gon.build_model(
        gon.ModelConfig(
            kind="conv", image_size=64, channels=3, classifier=gon.ClassifierOptions(classes=len(categories))
        )
    )
    assert torch.isfinite(model.loss(first.batch(slice(0, 8)), first.labels[:8]))


def test_fitting_and_notices(emoji_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="gon"):
        small = load_data("emoji", "test", image_size=32, channels=1, limit=40)
    assert small.shape == (1, 32, 32) and len(small) == 40
    assert "resized from 64x64 to 32x32 and RGB converted to grey" in caplog.text


@pytest.fixture(scope="module")
def package(emoji_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 real emoji, every kind of transparency among them, copied with emoji.json into a small package."""
    target = tmp_path_factory.mktemp("package")
    chosen = {RGBA, GREY_ALPHA, PALETTE, *names(emoji_dir, "train")[:12], *names(emoji_dir, "test")[:5]}
    (target / emoji.IMAGE_FOLDER).mkdir(parents=True)
    shutil.copy(emoji_dir / "emoji.json", target / "emoji.json")
    for name in chosen:
        shutil.copy(emoji_dir / emoji.IMAGE_FOLDER / name, target / emoji.IMAGE_FOLDER / name)
    return target


@pytest.mark.parametrize("background", ["white", "black"])
def test_folder_and_emoji_give_the_same_pixels(package: Path, background: str) -> None:
    folder = package / emoji.IMAGE_FOLDER
    chosen = sorted(p.name for p in folder.iterdir())
    assert len(chosen) == 20
    by_spec = {}
    for spec, directory in (("emoji", package), ("folder", folder)):
        for split in ("train", "test"):
            loaded = load_data(f"{spec}:{directory}", split, channels=3, background=background)
            files = (
                names(directory, split)
                if spec == "emoji"
                else [n for i, n in enumerate(chosen) if (i % 10 == 0) == (split == "test")]
            )
            by_spec.setdefault(spec, {}).update(zip(files, loaded.images))
    assert sorted(by_spec["emoji"]) == sorted(by_spec["folder"]) == chosen
    for name in chosen:
        assert torch.equal(by_spec["emoji"][name], by_spec["folder"][name]), name
    assert load_data(f"emoji:{package}", "train").labels is not None


@pytest.mark.parametrize("name", [RGBA, GREY_ALPHA, PALETTE])
def test_compositing_gives_the_background_where_alpha_is_zero(package: Path, name: str) -> None:
    path = package / emoji.IMAGE_FOLDER / name
    with Image.open(path) as image:
        assert image.mode == {RGBA: "RGBA", GREY_ALPHA: "LA", PALETTE: "P"}[name]
        rgba = np.array(image.convert("RGBA"))
        white, black = images.composite(image), images.composite(image, "black")
    assert white.shape[0] == (1 if name == GREY_ALPHA else 3)
    clear, opaque = rgba[..., 3] == 0, rgba[..., 3] == 255
    assert clear.any() and opaque.any()
    assert (white[:, clear] == 255).all() and (black[:, clear] == 0).all()
    assert torch.equal(white[:, opaque], black[:, opaque])
    colours = torch.from_numpy(rgba[..., :3][opaque].T.copy())
    assert torch.equal(white[:, opaque], colours[:1] if name == GREY_ALPHA else colours)
    # through the emoji spec: RGB, and white where the file is clear
    split = "test" if sha1_test(name) else "train"
    image = load_data(f"emoji:{package}", split).images[names(package, split).index(name)]
    assert image.shape == (3, 64, 64) and (image[:, clear] == 255).all()


def test_conv_gon_trains_on_emoji(emoji_dir: Path) -> None:
    images = load_data("emoji", "train", limit=8)
    model = gon.build_model(gon.ModelConfig(kind="conv", image_size=64, channels=3))
    config = gon.TrainConfig(data="emoji", steps=6, batch_size=8, log_every=1, device="cpu")
    history = gon.fit(model, images, config, progress=False)
    losses = [record["loss"] for record in history if "loss" in record]
    assert len(losses) >= 2 and all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0]


def test_missing_default_directory_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(emoji, "EMOJI_DIR", tmp_path / "absent")
    with pytest.raises(GONError) as raised:
        load_data("emoji")
    message = str(raised.value)
    assert "\n" not in message and "bash scripts/setup.sh" in message and "npm pack emoji-datasource-google" in message
    with pytest.raises(GONError, match=r"has no img/google/64 folder"):
        load_data(f"emoji:{tmp_path}")
    with pytest.raises(GONError, match="is not a directory"):
        load_data(f"emoji:{tmp_path / 'absent'}")
    with pytest.raises(GONError, match="unknown background"):
        load_data("mnist5k", background="grey")


def test_an_emoji_json_that_is_a_device_or_not_json_is_one_line(package: Path, tmp_path: Path) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(package, odd)
    for content in ("/dev/zero", b"[{"):  # read whole, /dev/zero would never end
        (odd / "emoji.json").unlink()
        if isinstance(content, str):
            (odd / "emoji.json").symlink_to(content)
        else:
            (odd / "emoji.json").write_bytes(content)
        with pytest.raises(GONError, match=r"emoji.json: not a (regular file|readable JSON file)") as raised:
            load_data(f"emoji:{odd}")
        assert "\n" not in str(raised.value)


def test_install_script_does_nothing_when_installed(emoji_dir: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "emoji-data.sh"
    done = subprocess.run(["bash", str(script), str(emoji_dir)], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    "kind,flags",
    [
        # 32 px keeps the affine-encoder export (one encoding per input value) to seconds; 64 px is below
        ("conv", ["--image-size", "32"]),
        ("variational", ["--image-size", "32"]),
        (
            "implicit",
            ["--image-size", "32", "--coordinate-samples", "64", "--hidden-features", "16", "--num-layers", "2"],
        ),
        ("ae", ["--image-size", "32"]),
    ],
)
def test_every_command_works_on_colour_data(
    emoji_dir: Path, package: Path, tmp_path: Path, kind: str, flags: list[str], capsys: pytest.CaptureFixture
) -> None:
    from gon.cli import main

    run = tmp_path / "run"
    small = [
        "--channels",
        "3",
        "--latent-dim",
        "8",
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--limit",
        "32",
        "--eval-limit",
        "16",
        "--quiet",
    ]
    assert main(["train", "--model", kind, "--data", "emoji", *flags, *small, "--out", str(run)]) == 0
    # a folder of RGBA PNGs evaluates as the emoji spec does, composited onto white
    commands = [
        ["eval", run, "--data", f"folder:{package}", "--split", "test", "--json"],
        ["sample", run, "-n", "4"],
        ["interpolate", run, "--pairs", "2", "--steps", "3"],
        ["reconstruct", run, "-n", "4"],
        ["inspect", run, "--limit", "32"],
        ["report", run],
    ]
    if kind != "ae":  # the gradient encoder is affine in the image; an encoder network is not
        commands.append(["export-encoder", run])
    if kind == "implicit":
        commands.append(["render", run, "-n", "2", "--resolution", "128"])
    if importlib.util.find_spec("onnxruntime") is not None:
        commands.append(["export-onnx", run])
    for command in commands:
        capsys.readouterr()
        assert main([str(c) for c in command]) == 0, command
        if command[0] == "eval":
            metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
            assert metrics["images"] == 2 and np.isfinite(metrics["sse_per_image"])
    with Image.open(run / "samples.png") as grid:
        pixels = np.asarray(grid).reshape(-1, 3)
        assert grid.mode == "RGB" and len(np.unique(pixels, axis=0)) > 16  # colour grids, not grey
    grids = ["reconstructions.png", "samples.png", "interpolations.png"] + (
        ["render-128.png"] if kind == "implicit" else []
    )
    for name in grids:  # the image grids are colour; the plots (loss, latents) are matplotlib's
        with Image.open(run / name) as image:
            assert image.mode == "RGB", name
    assert "<img" in (run / "report.html").read_text()


def test_a_64px_colour_gon_trains_on_emoji_and_evaluates_on_a_folder_of_rgba_pngs(
    emoji_dir: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from gon.cli import main

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "conv",
                "--data",
                "emoji",
                "--image-size",
                "64",
                "--channels",
                "3",
                "--steps",
                "2",
                "--batch-size",
                "16",
                "--limit",
                "32",
                "--eval-limit",
                "16",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["eval", str(run), "--data", f"folder:{package}", "--split", "test", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["images"] == 2 and np.isfinite(metrics["sse_per_image"])
    with Image.open(run / "reconstructions.png") as grid:
        assert grid.mode == "RGB" and grid.size[0] == 8 * (64 + 1) + 1  # eight 64-px tiles a row
