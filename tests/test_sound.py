"""Sound: the sounds set and audio folders as clips, implicit decoders on coordinates of any
dimension, the sound kinds through the one gradient-origin step, and the commands on a sound
run. Real recordings from supersonic-scsynth-samples, cut short."""

import json
import math
import os
import shutil
import struct

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import resample_poly

from gon import ModelConfig, MonteCarloOptions, SirenOptions, build_model, gradient_origin
from gon.cli import main
from gon.data import SoundData, load_data, load_sounds
from gon.data.sound import is_test
from gon.decoders import ImplicitDecoder
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.origin import OriginStep
from gon.signals.sound import SoundSettings
from gon.training import data_for_model

# 0.25 s at 8 kHz: short enough for a test, long enough to hold a drum hit's attack
RATE, SECONDS = 8000, 0.25
SHORT = ["--sample-rate", RATE, "--clip-seconds", SECONDS]


def run_cli(*args):
    return main([str(a) for a in args])


def relative_error(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@pytest.fixture(scope="module")
def clips(sounds_dir):
    return load_sounds("sounds", "test", RATE, SECONDS)


@pytest.fixture
def folder(sounds_dir, tmp_path):
    """An audio:DIR folder holding four real recordings: a kick, a snare, a hat, a tabla."""
    for name in ("bd_boom.flac", "sn_dub.flac", "hat_raw.flac", "tabla_na.flac"):
        shutil.copy(sounds_dir / "samples" / name, tmp_path / name)
    return tmp_path


# data


def test_sounds_split_is_fixed_and_disjoint(sounds_dir):
    train = load_sounds("sounds", "train", RATE, SECONDS)
    test = load_sounds("sounds", "test", RATE, SECONDS)
    assert (len(train), len(test)) == (181, 26)  # the package's 207 recordings
    assert not set(train.files) & set(test.files)
    assert all(is_test(name) for name in test.files) and not any(is_test(name) for name in train.files)
    assert "bd_boom.flac" in test.files and "bd_haus.aiff" in train.files  # the one AIFF file reads too


def test_clips_are_mono_amplitudes_at_one_rate_and_length(clips, sounds_dir):
    assert isinstance(clips, torch.utils.data.Dataset) and isinstance(clips, SoundData)
    assert clips.shape == (1, 2000) and clips[0][0].shape == (1, 2000) and clips.batch([0, 3]).shape == (2, 1, 2000)
    assert clips.clips.abs().max() <= 1 and clips.clips.abs().max() > 0.5
    # a stereo 44.1 kHz snare, mixed down and resampled: its energy is kept to within a few per cent
    index = clips.files.index("elec_mid_snare.flac")
    raw, rate = soundfile.read(sounds_dir / "samples" / "elec_mid_snare.flac", dtype="float32", always_2d=True)
    native = raw.mean(1)[: int(rate * SECONDS)]
    energy_native = float((native**2).sum()) / rate
    energy_clip = float(clips.batch(index).pow(2).sum()) / RATE
    assert energy_clip == pytest.approx(energy_native, rel=0.05)
    assert clips.labels is not None and len(set(clips.labels.tolist())) > 5  # families: bd, sn, hat, tabla, ...


def test_short_recordings_are_padded_with_silence(folder):
    hat = soundfile.info(str(folder / "hat_raw.flac"))
    seconds = hat.frames / hat.samplerate + 0.5
    files = sorted(os.listdir(folder))
    (folder / "train").mkdir(), (folder / "test").mkdir()
    for name in files:
        shutil.move(folder / name, folder / ("test" if name == "hat_raw.flac" else "train") / name)
    data = load_sounds(f"audio:{folder}", "test", RATE, seconds)
    assert data.files == ("hat_raw.flac",)
    tail = data[0][0, -int(0.4 * RATE) :]
    assert float(tail.abs().max()) == 0.0 and float(data[0].abs().max()) > 0.01  # a quiet hat, then silence


def test_mp3_and_opus_recordings_read_like_their_source(folder):
    # a real snare re-encoded lossily: the same clip to within the codecs' error
    source, rate = soundfile.read(folder / "sn_dub.flac", dtype="float32", always_2d=True)
    (folder / "train").mkdir(), (folder / "test").mkdir()
    shutil.move(folder / "sn_dub.flac", folder / "test" / "sn_dub.flac")
    soundfile.write(folder / "test" / "sn_dub.mp3", source, rate, format="MP3")
    # Opus runs at 48 kHz: the recording resampled to it first
    soundfile.write(
        folder / "test" / "sn_dub.opus", resample_poly(source, 160, 147, axis=0), 48000, format="OGG", subtype="OPUS"
    )
    data = load_sounds(f"audio:{folder}", "test", RATE, SECONDS)
    assert sorted(data.files) == ["sn_dub.flac", "sn_dub.mp3", "sn_dub.opus"]
    flac, mp3, opus = (data[data.files.index(f"sn_dub.{ext}")] for ext in ("flac", "mp3", "opus"))
    # MP3 adds its encoder's delay: compare after aligning by cross-correlation
    mp3 = mp3[0].numpy()
    shift = int(np.argmax(np.correlate(mp3, flac[0].numpy(), "full"))) - (len(mp3) - 1)
    assert 0 <= shift < 0.01 * RATE
    assert relative_error(torch.from_numpy(mp3[shift:]), flac[0, : len(mp3) - shift]) < 0.2
    assert float(opus.pow(2).sum()) == pytest.approx(float(flac.pow(2).sum()), rel=0.2)


def write_wav_header(path, frames, payload=b"", rate=8000):
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", min(frames * 2, 2**32 - 1))
    path.write_bytes(b"RIFF" + struct.pack("<I", min(4 + len(body) + frames * 2, 2**32 - 1)) + body + payload)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "codec", "empty", "nan", "ten_hours"])
def test_bad_recordings_get_one_line_and_exit_2(folder, damage, capsys):
    bad = folder / "bad.wav"
    if damage == "garbage":
        bad.write_bytes(b"RIFF not really a sound" * 10)
    elif damage == "truncated":  # a real FLAC cut in half: its decoder loses sync
        bad = folder / "bad.flac"
        data = (folder / "bd_boom.flac").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "codec":  # a WAV whose samples are MPEG layer 3, which libsndfile does not read from WAV
        fmt = struct.pack("<HHIIHH", 0x55, 1, 8000, 2000, 1, 0)
        body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 100) + bytes(100)
        bad.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + body)
    elif damage == "empty":
        soundfile.write(bad, np.zeros((0, 1)), RATE)
    elif damage == "nan":
        samples = soundfile.read(folder / "sn_dub.flac", dtype="float32")[0][:4000]
        samples[100] = np.nan
        soundfile.write(bad, samples, 44100, subtype="FLOAT")
    else:  # a sparse file: ten hours declared and present, no disk used
        frames = RATE * 3600 * 10
        write_wav_header(bad, frames)
        os.truncate(bad, bad.stat().st_size + frames * 2)
    # every file of the folder is read for training: put it where both splits see it
    (folder / "train").mkdir(), (folder / "test").mkdir()
    for name in os.listdir(folder):
        if (folder / name).is_file():
            shutil.copy(folder / name, folder / "test" / name)
            shutil.move(folder / name, folder / "train" / name)
    code = run_cli(
        "train",
        "--model",
        "audio-conv",
        "--data",
        f"audio:{folder}",
        *SHORT,
        "--steps",
        1,
        "--batch-size",
        2,
        "--out",
        folder / "run",
        "--quiet",
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "bad." in err, err
    assert not (folder / "run").exists()


@pytest.mark.parametrize("lie", ["cut in half", "2^31 frames", "data size 0xFFFFFFFF"])
def test_a_wav_that_holds_less_than_its_header_declares_is_one_line(folder, lie, capsys):  # cause 3
    (folder / "train").mkdir(), (folder / "test").mkdir()
    bad = folder / "test" / "x.wav"
    if lie == "cut in half":  # a real 16-bit recording: libsndfile read the missing half as silence
        samples, rate = soundfile.read(folder / "sn_dub.flac", dtype="int16")
        soundfile.write(bad, samples, rate, subtype="PCM_16")
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    else:
        frames = 2**31 - 1 if lie == "2^31 frames" else 2**32 // 2
        write_wav_header(bad, frames, payload=bytes(1000))  # 500 real frames
    with pytest.raises(GONError, match="x.wav is truncated or damaged") as error:
        load_sounds(f"audio:{folder}", "test", RATE, SECONDS)
    assert "\n" not in str(error.value)
    assert (
        run_cli(
            "train",
            "--model",
            "audio-conv",
            "--data",
            f"audio:{folder}",
            *SHORT,
            "--steps",
            1,
            "--out",
            folder / "run",
            "--quiet",
        )
        == 2
    )
    assert not (folder / "run").exists()


def test_a_damaged_mp3_is_one_line_and_its_decoder_stays_quiet(folder, capfd):  # also seen
    source, rate = soundfile.read(folder / "sn_dub.flac", dtype="float32", always_2d=True)
    (folder / "train").mkdir(), (folder / "test").mkdir()
    bad = folder / "test" / "bad.mp3"
    soundfile.write(bad, source, rate, format="MP3")
    data = bytearray(bad.read_bytes())
    for i in np.random.default_rng(0).integers(200, len(data), 300):  # frames damaged from the start
        data[i] = 0x5A
    bad.write_bytes(bytes(data))
    with pytest.raises(GONError, match="bad.mp3 could not be decoded"):
        load_sounds(f"audio:{folder}", "test", RATE, SECONDS)
    assert capfd.readouterr().err == ""  # mpg123's notes are captured, not printed


def test_a_long_recording_is_checked_where_the_clip_and_the_cut_are(folder, monkeypatch):  # also seen
    import gon.data.sound as sound

    (folder / "train").mkdir(), (folder / "test").mkdir()
    samples, rate = soundfile.read(folder / "sn_dub.flac", dtype="float32")
    long = np.concatenate([samples] * 40)  # 40 times the recording
    soundfile.write(folder / "test" / "long.flac", long, rate)
    read = []
    real = soundfile.SoundFile.read

    def counted(self, frames=-1, *args, **kwargs):
        block = real(self, frames, *args, **kwargs)
        read.append(len(block))
        return block

    monkeypatch.setattr(soundfile.SoundFile, "read", counted)
    data = load_sounds(f"audio:{folder}", "test", RATE, SECONDS)
    assert data.shape == (1, round(RATE * SECONDS))
    assert sum(read) <= round(SECONDS * rate) + 64 + sound.DECODE_BLOCK < len(long) // 2
    monkeypatch.undo()
    cut = folder / "test" / "long.flac"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 3 // 4])  # cut where the clip never reaches
    with pytest.raises(GONError, match="long.flac"):
        load_sounds(f"audio:{folder}", "test", RATE, SECONDS)


def test_image_models_refuse_sounds_and_sound_models_refuse_images(sounds_dir):
    with pytest.raises(GONError, match="holds sounds"):
        data_for_model("sounds", "test", ModelConfig(kind="conv"))
    with pytest.raises(GONError, match="trains on sounds"):
        data_for_model("mnist5k", "test", ModelConfig(kind="audio-conv"))
    assert isinstance(load_data("sounds", "test", limit=2), SoundData)  # at the defaults: 8 kHz, 0.5 s
    with pytest.raises(GONError, match="sound models are mono"):
        ModelConfig(kind="audio-implicit", channels=3)


# coordinates of any dimension


def volumes(digits28):
    """(B, 1, 4, 14, 14): four real digits stacked as the slices of each volume."""
    small = torch.nn.functional.avg_pool2d(digits28, 2)
    return small[:32].reshape(8, 4, 14, 14)[:, None]


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("detach", [False, True])
def test_shared_origin_equals_general_path_in_every_dimension(dim, detach, clips, digits28):
    x = {1: clips.batch(slice(0, 8)), 2: digits28[:8, :, :14, :14], 3: volumes(digits28)}[dim]
    decoder = ImplicitDecoder(
        8, 1, hidden_features=16, num_layers=2, grid_shape=tuple(x.shape[2:]), first_w0=3000.0 if dim == 1 else None
    )
    model = build_model(
        ModelConfig(
            kind="implicit",
            latent_dim=8,
            hidden_features=16,
            siren=SirenOptions(num_layers=2),
            origin=OriginStep(detach=detach, inner_scale="paper"),
        )
    )
    model.decoder, model.image_shape = decoder, None
    model.train()
    assert model.origin_path(len(x)).startswith("shared")

    def latent_and_grads(decoder_fn):
        model.zero_grad()
        z = gradient_origin(decoder_fn, x, model.inner_loss, (8,), model.step, create_graph=True)
        model.outer_loss(model.decoder(z), x).mean().backward()
        return z.detach(), [p.grad.clone() for p in model.parameters()]

    z_fast, grads_fast = latent_and_grads(model.decoder)
    z_ref, grads_ref = latent_and_grads(lambda z: model.decoder(z))  # hides origin_jacobian: the general path
    assert relative_error(z_fast, z_ref) < 1e-5
    total = torch.cat([g.flatten() for g in grads_ref]).norm()
    for g, g_ref in zip(grads_fast, grads_ref):
        assert (g - g_ref).norm() <= 1e-5 * max(g_ref.norm(), 1e-3 * total)


def test_a_volume_renders_at_any_resolution(digits28):
    decoder = ImplicitDecoder(8, 1, hidden_features=16, num_layers=2, grid_shape=(4, 14, 14))
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert decoder(z).shape == (2, 1, 4, 14, 14)
        assert decoder.render(z, (8, 28, 28)).shape == (2, 1, 8, 28, 28)
        # the training grid's corners are the same coordinates at any resolution
        assert torch.allclose(decoder.render(z, (8, 28, 28))[..., 0, 0, 0], decoder(z)[..., 0, 0, 0], atol=1e-6)
    with pytest.raises(GONError, match="3-D coordinates"):
        decoder.render(z, (28, 28))


@pytest.mark.parametrize("grid_shape", [(40,), (6, 7), (3, 4, 5)])
def test_chunked_rendering_matches_the_whole_grid_in_any_dimension(grid_shape, monkeypatch):
    decoder = ImplicitDecoder(4, 2, hidden_features=16, num_layers=2, grid_shape=grid_shape)
    z = torch.randn(3, 4)
    shape = tuple(n + 3 for n in grid_shape)
    whole = decoder.render(z, shape).detach()  # grad enabled: the grid in one piece
    monkeypatch.setattr("gon.decoders.RENDER_CHUNK_VALUES", 3 * 80 * 5)  # chunks of 5 coordinates
    with torch.no_grad():
        chunked = decoder.render(z, shape)
    assert chunked.shape == (3, 2, *shape)
    assert torch.allclose(chunked, whole, atol=1e-6)


def test_a_sound_model_checks_its_clips():
    model = build_model(
        ModelConfig(kind="audio-conv", sound=SoundSettings(RATE, SECONDS), latent_dim=8, hidden_features=8)
    )
    length = model.image_shape[1]
    x = torch.rand(2, 1, length) * 2 - 1
    assert model.check_images(x) is x  # amplitudes in [-1, 1] pass as they are
    with pytest.raises(GONError, match="floats in \\[-1, 1\\]"):
        model.check_images(torch.zeros(2, 1, length, dtype=torch.uint8))
    with pytest.raises(GONError, match="amplitudes must lie in"):
        model.check_images(x * 3)
    with pytest.raises(GONError, match="sound clips of 1 channel"):
        model.check_images(torch.zeros(2, 1, 28, 28))


# models


@pytest.mark.parametrize("kind", ["audio-implicit", "audio-conv", "audio-ae"])
def test_sound_models_learn_real_clips(kind, sounds_dir):
    train = load_sounds("sounds", "train", RATE, SECONDS, limit=32)
    config = ModelConfig(
        kind=kind,
        sound=SoundSettings(RATE, SECONDS),
        latent_dim=16,
        hidden_features=16,
        **(
            {"siren": SirenOptions(num_layers=2), "monte_carlo": MonteCarloOptions(coordinate_samples=500)}
            if kind == "audio-implicit"
            else {}
        ),
    )
    model = build_model(config)
    x = train.batch(slice(0, 32))
    lr = 1e-3 if kind != "audio-implicit" else 1e-4
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.eval()
    before = evaluate(model, train)["sse_per_image"]
    model.train()
    for _ in range(30):
        optimiser.zero_grad()
        model(x).backward()
        optimiser.step()
    after = evaluate(model, train)
    assert after["sse_per_image"] < 0.9 * before
    assert model.reconstruct(x).abs().max() <= 1 and model.reconstruct(x).shape == x.shape
    assert np.isfinite(after["snr_db"]) and np.isfinite(after["log_spectral_distance_db"])


def test_sound_gon_step_is_the_library_step(clips):
    """The conv sound GON's latent is minus the gradient at the origin, at the inner scale the
    model resolves from the library's default (no scale of its own)."""
    model = build_model(ModelConfig(kind="audio-conv", sound=SoundSettings(RATE, SECONDS))).eval()
    x = clips.batch(slice(0, 4))
    z = model.encode(x)
    z0 = torch.zeros(4, model.latent_dim, requires_grad=True)
    loss = model.inner_loss(model.decoder(z0), x).sum() * model.inner_scale(x)
    (grad,) = torch.autograd.grad(loss, z0)
    assert relative_error(z, -grad) < 1e-5


# commands


@pytest.fixture(scope="module")
def implicit_run(sounds_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sound"
    assert (
        run_cli(
            "train",
            "--model",
            "audio-implicit",
            "--data",
            "sounds",
            *SHORT,
            "--hidden-features",
            32,
            "--num-layers",
            2,
            "--coordinate-samples",
            400,
            "--steps",
            5,
            "--batch-size",
            16,
            "--limit",
            48,
            "--eval-limit",
            6,
            "--out",
            out,
            "--quiet",
        )
        == 0
    )
    return out


def test_a_sound_run_holds_wavs_pictures_and_a_report_with_audio(implicit_run):
    for name in ("reconstructions", "samples", "interpolations"):
        assert soundfile.info(str(implicit_run / f"{name}.wav")).samplerate == RATE
        assert (implicit_run / f"{name}.png").stat().st_size > 1000
    assert run_cli("report", implicit_run) == 0
    page = (implicit_run / "report.html").read_text()
    assert page.count("<audio controls") == 3 and "data:audio/wav;base64," in page


def test_eval_json_gives_sse_mse_and_snr_per_clip(implicit_run, capsys):
    assert run_cli("eval", implicit_run, "--json") == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(metrics["clips"]) == 26 and {"file", "sse", "mse", "snr_db"} <= set(metrics["clips"][0])
    clip = metrics["clips"][0]
    assert clip["mse"] == pytest.approx(clip["sse"] / 2000)
    assert metrics["snr_db"] == pytest.approx(np.mean([c["snr_db"] for c in metrics["clips"]]))


def test_a_folder_too_small_for_a_test_split_is_used_whole(implicit_run, sounds_dir, tmp_path, capsys, caplog):
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("sn_dub.flac", "tabla_na.flac"):  # both in the training half of the hash split
        shutil.copy(sounds_dir / "samples" / name, folder / name)
    spec = f"audio:{folder}"
    assert run_cli("eval", implicit_run, "--data", spec) == 2
    err = capsys.readouterr().err
    assert "no test files" in err and "(2 in all: --split all takes every file)" in err, err
    assert run_cli("eval", implicit_run, "--data", spec, "--split", "all", "--json") == 0
    assert sorted(c["file"] for c in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["clips"]) == [
        "sn_dub.flac",
        "tabla_na.flac",
    ]
    caplog.set_level("INFO", logger="gon")
    # -n 32 by default: capped at the two clips, with a notice; every file written is named
    assert run_cli("reconstruct", implicit_run, "--data", spec, "--split", "all", "--out", tmp_path / "rec.png") == 0
    assert capsys.readouterr().out.split() == ["wrote", str(tmp_path / "rec.png"), "wrote", str(tmp_path / "rec.wav")]
    assert any("fewer than the 32 asked for: taking all 2" in r.getMessage() for r in caplog.records)
    assert run_cli("render", implicit_run, "--data", spec, "--split", "all", "--out", tmp_path / "render.wav") == 0
    assert capsys.readouterr().out.split() == [
        "wrote",
        str(tmp_path / "render.png"),
        "wrote",
        str(tmp_path / "render.wav"),
    ]
    assert soundfile.info(str(tmp_path / "rec.wav")).frames == 4 * (2000 + round(0.25 * RATE))  # two pairs


def test_render_at_four_times_the_training_rate(implicit_run, tmp_path):
    out = tmp_path / "render.wav"
    assert run_cli("render", implicit_run, "--sample-rate", 4 * RATE, "-n", 2, "--out", out) == 0
    rendered, rate = soundfile.read(out)
    gap = round(0.25 * rate)
    assert rate == 4 * RATE and len(rendered) == 2 * (4 * 2000 + gap)
    assert (tmp_path / "render.png").is_file()
    # the render at 32 kHz passes through the 8 kHz render's samples: the grid keeps its end points
    native = tmp_path / "native.wav"
    assert run_cli("render", implicit_run, "-n", 1, "--out", native) == 0
    at_rate, _ = soundfile.read(native)
    assert rendered[0] == pytest.approx(at_rate[0], abs=2 / 32768)
    assert rendered[8000 - 1] == pytest.approx(at_rate[2000 - 1], abs=2 / 32768)


def test_samples_and_interpolations_render_at_any_rate(implicit_run, tmp_path):
    # the implicit model's samples and interpolations at twice its training rate: the same
    # half-second clips, twice the samples, and the WAV says the rate
    assert run_cli("sample", implicit_run, "--sample-rate", 2 * RATE, "-n", 3, "--out", tmp_path / "s.wav") == 0
    assert (
        run_cli(
            "interpolate",
            implicit_run,
            "--sample-rate",
            2 * RATE,
            "--pairs",
            1,
            "--steps",
            3,
            "--out",
            tmp_path / "i.wav",
        )
        == 0
    )
    for name in ("s", "i"):
        info = soundfile.info(str(tmp_path / f"{name}.wav"))
        assert info.samplerate == 2 * RATE and info.frames == 3 * (2 * 2000 + round(0.25 * 2 * RATE))
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    # at its own rate, the samples are the ones written without the option
    assert run_cli("sample", implicit_run, "--sample-rate", RATE, "-n", 3, "--out", tmp_path / "own.wav") == 0
    assert run_cli("sample", implicit_run, "-n", 3, "--out", tmp_path / "default.wav") == 0
    assert np.array_equal(soundfile.read(tmp_path / "own.wav")[0], soundfile.read(tmp_path / "default.wav")[0])


def test_a_rate_is_refused_where_it_cannot_be_rendered(sounds_dir, tmp_path, capsys):
    conv, digits = tmp_path / "conv-sound", tmp_path / "digits"
    assert (
        run_cli(
            "train",
            "--model",
            "audio-conv",
            "--data",
            "sounds",
            *SHORT,
            "--steps",
            2,
            "--limit",
            16,
            "--batch-size",
            8,
            "--eval-limit",
            4,
            "--out",
            conv,
            "--quiet",
        )
        == 0
    )
    assert (
        run_cli(
            "train",
            "--model",
            "implicit",
            "--steps",
            2,
            "--limit",
            16,
            "--batch-size",
            8,
            "--eval-limit",
            4,
            "--out",
            digits,
            "--quiet",
        )
        == 0
    )
    capsys.readouterr()
    assert run_cli("sample", conv, "--sample-rate", 2 * RATE, "--out", conv / "x.wav") == 2
    assert (
        "--sample-rate renders an implicit model at another rate; this one is 'audio-conv'" in capsys.readouterr().err
    )
    assert run_cli("interpolate", digits, "--sample-rate", 16000, "--out", conv / "y.png") == 2
    assert "--sample-rate renders a sound model" in capsys.readouterr().err
    assert not (conv / "x.wav").exists() and not (conv / "y.png").exists()


def test_sound_commands_refuse_image_options(implicit_run, capsys):
    assert run_cli("render", implicit_run, "--resolution", 64) == 2
    assert run_cli("sample", implicit_run, "--resolution", 64) == 2
    assert run_cli("interpolate", implicit_run, "--gif", implicit_run / "x.gif") == 2
    for rate in (10**9, 384001):  # the training limit holds for rendering too
        with pytest.raises(SystemExit) as stop:
            run_cli("render", implicit_run, "--sample-rate", rate)
        assert stop.value.code == 2
    assert not (implicit_run / "x.gif").exists()
    assert all(len(line) < 300 for line in capsys.readouterr().err.splitlines())


# the map's protocol on sound


def test_the_sound_map_selects_rates_on_training_clips_and_pairs_each_gon_with_the_autoencoder(
    sounds_dir, tmp_path, monkeypatch
):
    import benchmarks.map as comparison

    monkeypatch.setitem(
        comparison.MAP_PRESETS,
        "sound",
        comparison.MapPreset(
            latent_dims=(8,),
            norms=("group",),
            budgets={"sounds": (comparison.Budget(12, (8,), seeds=(0,)),)},
            methods=("gon", "ae", "igon"),
            kinds=dict(comparison.SOUND_KINDS),
            selection_data="sounds",
            selection_steps=6,
            rates=(1e-4, 1e-3),
            batch_size=8,
            model={"sample_rate": RATE, "clip_seconds": SECONDS},
            method_model={"igon": {"coordinate_samples": 64, "hidden_features": 16}},
        ),
    )
    train = load_sounds("sounds", "train", RATE, SECONDS)
    fitting, validation = comparison.split_for_selection(train)
    assert (len(fitting), len(validation)) == (158, 23)  # an eighth of the 181 training clips
    assert validation.files == train.files[158:] and validation.sample_rate == RATE

    result = comparison.gon_vs_ae(tmp_path, preset="sound", workers=1)
    selection = [r for r in result.records if r["stage"] == "selection"]
    grid = [r for r in result.records if r["stage"] == "grid"]
    assert sorted((r["method"], r["lr"]) for r in selection) == [
        (m, lr) for m in ("ae", "gon", "igon") for lr in (1e-4, 1e-3)
    ]
    assert {r["test_images"] for r in selection} == {23} and {r["test_images"] for r in grid} == {26}
    assert {r["method"]: r["kind"] for r in grid} == {"gon": "audio-conv", "ae": "audio-ae", "igon": "audio-implicit"}
    chosen = comparison.best_rates(result.records)
    for r in grid:  # each at its own validated rate, scored on the held-out clips with their SNR
        assert r["lr"] == chosen[(r["method"], 8, "group")]
        assert 0 < r["heldout_sse"] < 4 * RATE * SECONDS and math.isfinite(r["heldout_snr_db"])
    assert "| sounds | gon/ae | 8 | group | 12 |" in result.markdown
    assert "| sounds | igon/ae | 8 | group | 12 |" in result.markdown
    assert (tmp_path / "curves.png").stat().st_size > 0
    with pytest.raises(GONError, match="method 'vgon' is not in the sound map"):
        comparison.gon_vs_ae(tmp_path, preset="sound", methods=("vgon",), workers=1)


# round four (docs/reliability.md, "Failure table")


@pytest.mark.parametrize(
    "length", [["--clip-seconds", "1e308"], ["--clip-seconds", "1e-9"], ["--sample-rate", "2", "--clip-seconds", "1"]]
)
def test_clip_lengths_out_of_bounds_are_one_line_before_training(sounds_dir, tmp_path, capsys, length):  # cause 2
    assert (
        run_cli(
            "train",
            "--model",
            "audio-conv",
            "--data",
            "sounds",
            *length,
            "--steps",
            1,
            "--limit",
            8,
            "--batch-size",
            4,
            "--out",
            tmp_path / "run",
            "--quiet",
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("gon: error: a clip of") and "\n" not in err and "samples" in err, err
    assert not any(tmp_path.iterdir())


def test_the_shortest_clip_trains_and_evaluates(sounds_dir, tmp_path):  # cause 2: every metric takes it
    from gon.data.sound import MIN_CLIP_SAMPLES

    assert (
        run_cli(
            "train",
            "--model",
            "audio-conv",
            "--data",
            "sounds",
            "--sample-rate",
            MIN_CLIP_SAMPLES,
            "--clip-seconds",
            1,
            "--steps",
            1,
            "--limit",
            8,
            "--batch-size",
            4,
            "--eval-limit",
            2,
            "--out",
            tmp_path / "run",
            "--quiet",
        )
        == 0
    )
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["split"] == "test"


def test_a_failing_evaluation_after_training_keeps_the_model_and_resume_finishes(
    sounds_dir, tmp_path, capsys, monkeypatch
):  # cause 2
    import gon.training.run as run_module

    def broken(*args, **kwargs):
        raise RuntimeError("stft(...) hop_length=0")

    monkeypatch.setattr(run_module, "evaluate", broken)
    out = tmp_path / "run"
    args = [
        "--model",
        "audio-conv",
        "--data",
        "sounds",
        *SHORT,
        "--steps",
        2,
        "--limit",
        8,
        "--batch-size",
        4,
        "--eval-limit",
        2,
    ]
    assert run_cli("train", *args, "--out", out, "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert "held-out evaluation failed" in err and f"gon train --resume {out}" in err and "\n" not in err, err
    assert (tmp_path / ".run.partial" / "model.safetensors").is_file()  # the trained model is kept
    monkeypatch.undo()
    assert run_cli("train", "--resume", out, "--quiet") == 0
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["split"] == "test"
    assert (out / "interpolations.wav").is_file()


def test_a_test_set_of_one_clip_gets_every_figure(folder, tmp_path):  # cause 7
    (folder / "train").mkdir(), (folder / "test").mkdir()
    shutil.move(folder / "bd_boom.flac", folder / "test")
    for name in ("sn_dub.flac", "hat_raw.flac", "tabla_na.flac"):
        shutil.move(folder / name, folder / "train")
    out = tmp_path / "one"
    assert (
        run_cli(
            "train",
            "--model",
            "audio-conv",
            "--data",
            f"audio:{folder}",
            *SHORT,
            "--steps",
            2,
            "--batch-size",
            3,
            "--out",
            out,
            "--quiet",
        )
        == 0
    )
    for name in ("reconstructions", "samples", "interpolations"):
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.wav").is_file()


def test_render_refuses_before_allocating_and_writes_all_outputs_or_none(
    implicit_run, tmp_path, capsys, monkeypatch
):  # cause 6, also seen
    import gon.cli.commands as commands

    monkeypatch.setattr(commands, "available_memory", lambda: 100 << 20)  # under 2 x 96,000 x 256 B + 64 MiB
    assert run_cli("render", implicit_run, "-n", 1, "--sample-rate", 384000, "--out", tmp_path / "big.png") == 2
    err = capsys.readouterr().err.strip()
    assert "GiB to render, draw and write" in err and "\n" not in err, err
    monkeypatch.undo()
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"precious")
    (tmp_path / "snd.wav").symlink_to(victim)
    assert run_cli("render", implicit_run, "-n", 1, "--out", tmp_path / "snd.png") == 2
    assert "snd.wav exists and is a symlink" in capsys.readouterr().err
    assert not (tmp_path / "snd.png").exists() and victim.read_bytes() == b"precious"
    assert not (tmp_path / "big.png").exists()
