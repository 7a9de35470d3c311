"""A run as one self-contained HTML page: its config, loss curve, figures and evaluation.

    from gon.report import write_report
    page = write_report("runs/conv")        # runs/conv/report.html

Every image is embedded as a data URI, so the page can be mailed, archived or opened
offline without the run directory; the files a signal writes beside its pictures (gon/signals)
are embedded the same way, under them: WAV files as <audio> players, GIF animations as images.
Figures an older run lacks are noted, not fatal.
"""

from __future__ import annotations

import base64
import html
import json
import math
import tempfile
import warnings
import wave
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from .config import applicable_fields
from .data.images import MAX_IMAGE_PIXELS
from .errors import GONError
from .files import read_jsonl, write_text
from .kinds import kinds
from .layout import RunLayout
from .models import read_config
from .signals import IMAGE, SIGNALS
from .viz import save_loss_plot

# (file in the run directory, heading); what each shows is its signal's caption (Signal.captions)
FIGURES = (
    (RunLayout.RECONSTRUCTIONS, "Reconstructions"),
    (RunLayout.SAMPLES, "Samples"),
    (RunLayout.INTERPOLATIONS, "Interpolations"),
)
# the largest file embedded beside a figure (a report is one page to open, not an archive)
MAX_EMBEDDED_BYTES = 32 << 20

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 1.5em 0.5em 0; display: inline-table; vertical-align: top; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f4f4f4; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
.missing { color: #a33; font-style: italic; }
"""

# Records on the page, once everything has loaded, how many images decoded (as
# data-images="loaded/total" on <body>), so a headless browser can check the page.
LOAD_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", loaded + "/" + images.length);
});
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the run in `run_dir` to `out` (default RUN/report.html); returns its path."""
    run_dir = Path(run_dir)
    document = read_config(run_dir)
    out = Path(out) if out is not None else RunLayout(run_dir) / RunLayout.REPORT
    page = render_report(run_dir, document)
    if out.is_dir():
        raise GONError(f"{out} is a directory: give a file name for the report")
    return write_text(out, page)


def render_report(run_dir: Path, document: dict[str, Any]) -> str:
    """The report's HTML for a run directory whose config.json has been read into `document`."""
    model = document.get("model", {})
    train = document.get("train") if isinstance(document.get("train"), dict) else {}
    history, final = read_metrics(RunLayout(run_dir).metrics)
    kind = model.get("kind", "?")
    spec = kinds().get(kind) if isinstance(kind, str) else None
    title = f"{kind} {'GON' if spec is not None and spec.origin_step else 'model'} on {train.get('data', '?')}"
    body = [f"<h1>{_text(title)}</h1>", f"<p>Run directory: <code>{_text(run_dir.resolve())}</code></p>"]

    body.append("<h2>Evaluation</h2>")
    if final:
        body.append(_table({k: v for k, v in final.items() if k != "step"}, ("metric", "value")))
        body.append(f"<p>After {_text(final.get('step', '?'))} training steps.</p>")
    else:
        body.append(_missing("no evaluation record in metrics.jsonl (a run without test data, or an older run)"))

    body.append("<h2>Configuration</h2>")
    fields = applicable_fields(model)
    resolved = document.get("resolved_step")
    scale = resolved.get("inner_scale") if isinstance(resolved, dict) else None
    if isinstance(fields.get("inner_scale"), str) and isinstance(scale, (int, float)):
        fields["inner_scale"] = f"{fields['inner_scale']}: {scale:.4g}"  # the value the rule chose
    body.append(_table(fields, ("model", "value")))
    if train:
        body.append(_table(train, ("training", "value")))
    extra = {k: v for k, v in document.items() if k not in ("format", "model", "train", "resolved_step")}
    if extra:
        body.append(_table(extra, ("run", "value")))

    body.append("<h2>Training loss</h2>")
    body.append(_loss_figure(run_dir, history))
    if history:
        last = history[-1]
        body.append(
            f"<p>{len(history)} logged steps; last loss {_format(last.get('loss'))} at step "
            f"{_text(last.get('step'))}, {_format(last.get('steps_per_s'))} steps/s, "
            f"{_format(last.get('elapsed_s'))} s elapsed.</p>"
        )

    signal = _signal(model, spec)
    for name, heading in FIGURES:
        body.append(f"<h2>{heading}</h2>")
        # image grids of 28-32 px digits are hard to read at their natural size
        body.append(_figure(run_dir / name, signal.captions.get(name, ""), zoom=2 if signal is IMAGE else 1))
        for path in signal.files(run_dir / name)[1:]:
            body.append(_audio(path) if path.suffix == ".wav" else _animation(path))

    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{LOAD_CHECK}</script>\n</body>\n</html>\n"
    )


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The per-log-step records of metrics.jsonl, and its final evaluation record (if any).

    Training records carry a loss; the evaluation record that `train` appends does not.
    Unreadable lines are skipped: a report shows what there is.
    """
    records = read_jsonl(path, skip_damaged=True)
    history = [r for r in records if "loss" in r]
    evaluations = [r for r in records if "loss" not in r]
    return history, (evaluations[-1] if evaluations else None)


def _loss_figure(run_dir: Path, history: list[dict[str, Any]]) -> str:
    caption = "training loss per image, log scale"
    if _png_width(RunLayout(run_dir) / RunLayout.LOSS_PLOT) is not None:
        return _figure(RunLayout(run_dir) / RunLayout.LOSS_PLOT, caption)
    points = [
        (r["step"], r["loss"])
        for r in history
        if isinstance(r.get("step"), (int, float))
        and isinstance(r.get("loss"), (int, float))
        and math.isfinite(r["loss"])
        and r["loss"] > 0
    ]
    if not points:
        return _missing("no loss.png and no loss records in metrics.jsonl")
    # drawn afresh from metrics.jsonl when the run has no usable loss.png
    with tempfile.TemporaryDirectory() as tmp:
        path = save_loss_plot(
            [s for s, _ in points], [v for _, v in points], Path(tmp) / "loss.png", ylabel="training loss (per image)"
        )
        return _figure(path, caption + " (drawn from metrics.jsonl)")


def _figure(path: Path, caption: str, zoom: int = 1) -> str:
    if not path.is_file():
        return _missing(f"{path.name} is not in this run directory")
    width = _png_width(path)
    if width is None:
        return _missing(f"{path.name} is not a readable PNG image")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_text(path.stem)}" width="{zoom * width}">'
        f"<figcaption>{_text(caption)}</figcaption></figure>"
    )


def _signal(model: dict[str, Any], spec: Any) -> Any:
    """The signal of a run's model config (its own, or its kind's first), the image signal where
    neither is known."""
    name = model.get("signal")
    if not isinstance(name, str) and spec is not None:
        name = spec.signals[0]
    return SIGNALS.get(name, IMAGE) if isinstance(name, str) else IMAGE


def _audio(path: Path) -> str:
    """An <audio> player holding the WAV file `path`, or a note of why there is none."""
    if not path.is_file():
        return _missing(f"{path.name} is not in this run directory")
    try:
        with wave.open(str(path)) as reader:
            frames, rate = reader.getnframes(), reader.getframerate()
        readable = frames > 0 and rate > 0 and path.stat().st_size <= MAX_EMBEDDED_BYTES
    except (wave.Error, EOFError, OSError):
        readable = False
    if not readable:
        return _missing(f"{path.name} is not a WAV file of at most {MAX_EMBEDDED_BYTES >> 20} MiB")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<p><audio controls preload='none' src='data:audio/wav;base64,{data}'></audio> "
        f"{_text(path.name)}: {frames / rate:.1f} s at {rate} Hz</p>"
    )


def _animation(path: Path) -> str:
    """The GIF file `path` as an image, or a note of why it is not shown."""
    if not path.is_file():
        return _missing(f"{path.name} is not in this run directory")
    try:
        with Image.open(path) as image:
            readable = image.format == "GIF" and path.stat().st_size <= MAX_EMBEDDED_BYTES
            width = image.width
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError):
        readable = False
    if not readable:
        return _missing(f"{path.name} is not a GIF file of at most {MAX_EMBEDDED_BYTES >> 20} MiB")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/gif;base64,{data}" alt="{_text(path.stem)}" width="{width}">'
        f"<figcaption>{_text(path.name)}: the same, playing</figcaption></figure>"
    )


def _png_width(path: Path) -> int | None:
    """The width of the PNG image in `path`, None if it is not one that decodes."""
    try:
        with warnings.catch_warnings():  # a bomb is refused below, in our words
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format != "PNG" or image.width * image.height > MAX_IMAGE_PIXELS:
                    return None
                image.load()  # decodes every pixel: a truncated file fails here, not in the browser
            return image.width
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _table(values: dict[str, Any], header: tuple[str, str]) -> str:
    rows = []
    for key, value in values.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        cell = f'<td class="number">{_format(value)}</td>' if number else f"<td>{_format(value)}</td>"
        rows.append(f"<tr><td>{_text(key)}</td>{cell}</tr>")
    return f"<table><tr><th>{_text(header[0])}</th><th>{_text(header[1])}</th></tr>" + "".join(rows) + "</table>"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return _text(f"{value:.6g}")
    if value is None:
        return "&mdash;"
    if isinstance(value, (dict, list)):
        return _text(json.dumps(value))
    return _text(value)


def _missing(note: str) -> str:
    return f'<p class="missing">{_text(note)}</p>'


def _text(value: Any) -> str:
    return html.escape(str(value))
