"""`gon report`: one self-contained HTML page per run, checked in a real browser."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from gon.cli import main
from gon.config import ModelConfig, TrainConfig
from gon.errors import GONError
from gon.report import write_report
from gon.training import train

CHROMIUM = shutil.which("chromium")
WINDOW = (1000, 1800)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "conv"
    train(
        ModelConfig(kind="conv", hidden_features=8),
        TrainConfig(data="mnist5k", steps=8, batch_size=16, limit=256, eval_limit=64, log_every=2),
        out,
        progress=False,
    )
    return out


def chromium(*args, profile):
    assert CHROMIUM, "chromium is missing: scripts/setup.sh installs Debian's chromium package"
    # --no-sandbox: Chromium's sandbox refuses to start as root; --virtual-time-budget lets
    # the load event fire before the DOM is dumped
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *map(str, args),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout


def test_report_loads_every_image_in_a_browser(run, tmp_path):
    page = write_report(run)
    assert page == run / "report.html"
    html = page.read_text()
    # self-contained: four embedded PNGs (loss, reconstructions, samples, interpolations), nothing fetched
    assert html.count('src="data:image/png;base64,') == 4
    assert not re.search(r'(src|href)="(?!data:)', html)

    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    assert 'data-images="4/4"' in dom

    shot = tmp_path / "report.png"
    chromium(
        f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri(), profile=tmp_path / "profile"
    )
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == WINDOW
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    # text, tables and the digit grids: far from a blank (white) page
    assert (pixels < 128).mean() > 0.02 and len(np.unique(pixels)) > 64


def test_report_shows_the_config_and_the_evaluation(run):
    html = write_report(run, run / "elsewhere" / "page.html").read_text()
    final = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert f"{final['sse_per_image']:.6g}" in html and f"{final['mse_per_pixel']:.6g}" in html
    shown = (("kind", "conv"), ("hidden_features", "8"), ("norm", "group"), ("data", "mnist5k"), ("batch_size", "16"))
    for key, value in shown:  # nested options (norm: conv.norm) are shown by their flags' names
        assert re.search(rf"<td>{key}</td><td[^>]*>{value}</td>", html), key
    for key in ("w0", "latent_lr", "inference_steps", "coordinate_samples", "likelihood", "reconstruction_weight"):
        assert f"<td>{key}</td>" not in html, f"{key} does not apply to a conv GON"


def test_an_older_run_without_figures_still_reports(run, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(run, older)
    (older / "samples.png").unlink()
    (older / "loss.png").unlink()
    (older / "interpolations.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    html = write_report(older).read_text()
    assert "samples.png is not in this run directory" in html
    assert "interpolations.png is not a readable PNG image" in html
    # the loss curve is drawn again from metrics.jsonl (log records at steps 2, 4, 6, 8)
    assert "drawn from metrics.jsonl" in html
    assert html.count('src="data:image/png;base64,') == 2


def test_a_metrics_log_that_is_a_device_or_damaged_is_shown_or_refused_in_one_line(run, tmp_path, capsys):
    odd = tmp_path / "odd"
    shutil.copytree(run, odd)
    log = odd / "metrics.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], "{not json", "[1, 2]", *lines[1:]]) + "\n")
    (odd / "loss.png").unlink()
    assert "drawn from metrics.jsonl" in write_report(odd).read_text()  # damaged lines skipped, the rest drawn
    log.unlink()
    log.symlink_to("/dev/zero")  # read whole, it would never end
    assert main(["report", str(odd), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err == f"gon: error: {log}: not a regular file\n" and not (tmp_path / "r.html").exists()


def test_a_failed_write_leaves_the_previous_report(run, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("previous")
    monkeypatch.setattr("gon.files.os.replace", lambda *_: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(GONError, match="No space left"):
        write_report(run, out)
    assert out.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(GONError, match="no such run directory"):
        write_report(tmp_path / "missing")
    (tmp_path / "config.json").write_text('{"model": {}}')
    with pytest.raises(GONError, match="not a config of this library"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_cli_report(run, tmp_path, capsys):
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'r.html'}"
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gon: error: ") and len(err.strip().splitlines()) == 1
