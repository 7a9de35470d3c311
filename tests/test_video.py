"""Video through the library: the signal of the videos source picks a video model of a kind that
takes several signals, which trains, evaluates (PSNR per clip), writes its clips as frame strips
and GIFs, reports and renders at another size and frame rate, on the real installed clips."""

import importlib.util
import json

import pytest
import torch
from PIL import Image
from torch import nn

from gon.cli import main
from gon.config import ModelConfig, TrainConfig
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.models import build_model, load_model
from gon.origin import OriginStep, gradient_origin
from gon.signals import signal_of
from gon.signals.video import VIDEO, VideoSettings
from gon.training import data_for_model, fit

SMALL = ["--frames", "4", "--fps", "8", "--frame-size", "16"]


def run_cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def video_run(videos_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "video"
    assert (
        run_cli(
            "train",
            "--model",
            "modulated",
            "--data",
            "videos",
            *SMALL,
            "--latent-dim",
            8,
            "--hidden-features",
            16,
            "--basis-features",
            16,
            "--steps",
            3,
            "--batch-size",
            4,
            "--limit",
            8,
            "--eval-limit",
            4,
            "--out",
            out,
            "--quiet",
        )
        == 0
    )
    return out


def test_the_data_picks_a_video_model_which_trains_and_evaluates_per_clip(video_run, capsys):
    model, config, document = load_model(video_run)
    assert config.signal == "video" and config.video == VideoSettings(4, 8.0, 16)
    assert model.image_shape == (1, 4, 16, 16)  # grey unless --channels 3, as for images
    held_out = [json.loads(line) for line in (video_run / "metrics.jsonl").read_text().splitlines()][-1]
    assert held_out["split"] == "test" and held_out["images"] == 4
    # PSNR of intensities in [0, 1], per clip: 10 log10(1 / MSE) of each, averaged
    assert held_out["psnr_db"] > 0
    assert run_cli("eval", video_run, "--limit", 4, "--json") == 0
    printed = capsys.readouterr().out.splitlines()
    assert any(line.strip().startswith("PSNR (dB):") for line in printed)
    rows = json.loads(printed[-1])["clips"]
    assert len(rows) == 4 and {"file", "sse", "mse", "psnr_db"} <= set(rows[0])
    mean = sum(r["psnr_db"] for r in rows) / len(rows)
    assert json.loads(printed[-1])["psnr_db"] == pytest.approx(mean)


def test_a_video_run_writes_frame_strips_and_animations_beside_them(video_run):
    for name in ("reconstructions", "samples", "interpolations"):
        strip, gif = Image.open(video_run / f"{name}.png"), Image.open(video_run / f"{name}.gif")
        assert gif.format == "GIF" and gif.n_frames == 4  # one frame a frame of the clip, not bounced
        assert strip.width == 4 * 17 + 1  # four frames of 16 pixels and their gaps, one clip a row
    assert run_cli("report", video_run) == 0
    page = (video_run / "report.html").read_text()
    assert page.count("data:image/gif;base64,") == 3 and "is not in this run directory" not in page


def test_a_video_model_renders_at_another_size_and_frame_rate(video_run, tmp_path):
    assert run_cli("render", video_run, "--resolution", 24, "--fps", 16, "-n", 2, "--out", tmp_path / "r.png") == 0
    gif = Image.open(tmp_path / "r.gif")
    # the training clip's half second at 16 fps: twice the frames, each 24 pixels a side
    assert gif.n_frames == 8 and gif.width == 2 * 25 + 1
    assert Image.open(tmp_path / "r.png").width == 8 * 25 + 1
    # at its own size and rate the render is the reconstruction's grid
    assert run_cli("render", video_run, "-n", 1) == 0
    assert (video_run / "render-16px-8fps.gif").is_file()
    assert run_cli("render", video_run, "--sample-rate", 8000) == 2


def test_video_settings_belong_to_video_models():
    config = ModelConfig.from_dict({"kind": "modulated", "signal": "video", "frames": 4, "frame_size": 16})
    assert signal_of(config).shape(config) == (1, 4, 16, 16) and config.video.fps == 8.0
    assert config.to_dict()["video"] == {"frames": 4, "fps": 8.0, "size": 16}
    with pytest.raises(GONError, match="frames does not apply to image models"):
        ModelConfig.from_dict({"kind": "modulated", "frames": 4})
    with pytest.raises(GONError, match="a conv model takes image data, not video"):
        ModelConfig(kind="conv", signal="video")
    model = build_model(config)
    with torch.no_grad():
        assert model.render(torch.zeros(1, model.latent_dim), (2, 5, 5)).shape == (1, 1, 2, 5, 5)


@pytest.mark.parametrize("frames,size", [(8, 32), (1, 28), (5, 20), (16, 64)])
def test_the_3d_decoder_makes_clips_of_any_length_and_side_and_the_encoder_mirrors_it(frames, size):

    config = ModelConfig(
        kind="video-ae",
        signal="video",
        channels=3,
        latent_dim=8,
        hidden_features=4,
        video=VideoSettings(frames=frames, size=size),
    )
    model = build_model(config)
    clips = torch.rand(2, 3, frames, size, size)
    z = model.encode(clips)
    assert z.shape == (2, 8) and model.decode(z).shape == (2, 3, frames, size, size)
    decoder_convs = [m for m in model.decoder.net if isinstance(m, nn.ConvTranspose3d)]
    encoder_convs = [m for m in model.encoder.net if isinstance(m, nn.Conv3d)]
    # layer for layer, backwards: each convolution undoes its transposed convolution's shape change
    assert [(c.out_channels, c.in_channels, c.kernel_size, c.stride) for c in reversed(decoder_convs)] == [
        (c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in encoder_convs
    ]


def test_the_video_conv_gons_shared_origin_step_equals_the_general_path(videos_dir):

    config = ModelConfig(
        kind="video-conv",
        signal="video",
        channels=3,
        latent_dim=8,
        hidden_features=4,
        origin=OriginStep(inner_scale="paper"),
        video=VideoSettings(frames=4, size=16),
    )
    model = build_model(config).train()
    x = data_for_model("videos", "train", config).batch(torch.arange(20))
    assert model.origin_path(len(x)).startswith("shared")  # 20 clips: more than the Jacobian's 2k = 16

    def latent_and_grads(decoder):
        model.zero_grad()
        z = gradient_origin(decoder, x, model.inner_loss, (8,), model.step, create_graph=True)
        model.outer_loss(model.decoder(z), x).mean().backward()
        return z.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])

    z_fast, grads_fast = latent_and_grads(model.decoder)
    z_ref, grads_ref = latent_and_grads(lambda z: model.decoder(z))  # hides origin_jacobian: the general path
    assert (z_fast - z_ref).norm() <= 1e-5 * z_ref.norm()
    # float32 sums in another order over 20 clips of 3,072 values: measured 3.4e-5 of the gradient's norm
    assert (grads_fast - grads_ref).norm() <= 1e-4 * grads_ref.norm()


@pytest.mark.parametrize("kind", ["video-conv", "video-ae"])
def test_the_conv_video_models_learn_held_out_clips_better_than_the_mean_clip(kind, videos_dir):
    # measured (150 steps, seed 0, 4 frames of 16x16 at 8 fps, colour): held-out SSE per clip 58.3 (conv GON)
    # and 75.2 (autoencoder) against 126.6 for the mean training clip; 157.8 and 167.9 untrained
    config = ModelConfig(
        kind=kind, signal="video", channels=3, latent_dim=32, hidden_features=8, video=VideoSettings(frames=4, size=16)
    )
    train, test = data_for_model("videos", "train", config), data_for_model("videos", "test", config)
    held_out = test.batch(torch.arange(len(test)))
    mean = train.batch(torch.arange(len(train))).mean(0).expand_as(held_out)
    mean_sse = (held_out - mean).pow(2).flatten(1).sum(1)
    mean_clip = float(mean_sse.mean())
    torch.manual_seed(0)
    model = build_model(config)
    fit(model, train, TrainConfig(steps=150, batch_size=8, lr=1e-3), progress=False)
    metrics = evaluate(model, test)
    assert metrics["sse_per_image"] < 0.75 * mean_clip, (metrics, mean_clip)
    # and per clip on average, in PSNR (measured: 18.0 and 17.2 dB against the mean clip's 14.1)
    assert metrics["psnr_db"] > float(VIDEO.metrics(held_out, mean_sse, lambda: mean)["psnr_db"].mean()) + 1


def test_every_command_takes_a_conv_video_model_and_render_names_what_it_needs(videos_dir, tmp_path, capsys):
    run = tmp_path / "conv"
    small = [*SMALL, "--latent-dim", 8, "--hidden-features", 4, "--steps", 2, "--batch-size", 4, "--limit", 8]
    assert run_cli("train", "--model", "video-conv", "--data", "videos", *small, "--eval-limit", 4, "--out", run) == 0
    for command in (("sample", run, "-n", 2), ("interpolate", run, "--pairs", 1), ("reconstruct", run, "-n", 2)):
        assert run_cli(*command) == 0, command
    assert Image.open(run / "samples.gif").n_frames == 4
    capsys.readouterr()
    if importlib.util.find_spec("onnxruntime") is not None:
        assert run_cli("export-onnx", run) == 0
        assert "-> clips (batch, 1, 4, 16, 16)" in capsys.readouterr().out
    assert run_cli("render", run, "--fps", 16) == 2
    error = capsys.readouterr().err.strip()
    assert "needs an implicit model" in error and "video-conv" in error and "\n" not in error
