"""Every decoder gives decord's frames, frame counts and rates, and fails bad files the same way."""

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from decoders import BACKENDS, requires_torchcodec
from helpers import ROOT, SHARED_DATA, make_video
from videos_on_disk import BROKEN, ODD_VIDEOS, write_broken

from zelda.config.changes import RESUME_MAY_CHANGE, config_changes
from zelda.data.synthetic import render_video
from zelda.data.transforms import Compose, VideoDecode, VideoInit, VideoSample
from zelda.data.transforms.spatial import resized_shape
from zelda.data.video import UNREADABLE, VideoReadError, open_video
from zelda.errors import ZeldaError

REAL_CLIPS = sorted((SHARED_DATA / "kinetics400_tiny" / "train").glob("*.mp4"))[:3]
requires_real_clips = pytest.mark.skipif(
    not REAL_CLIPS, reason=f"no real clips in {SHARED_DATA / 'kinetics400_tiny' / 'train'} (a local stand-in "
                           "for kinetics400_tiny; the generated clip's tests still run)")
# Frames decoded at a size other than the source's, against decord's, as (max, mean) absolute
# difference in 0-255 (README, Decoders). Measured: on 64 real clips at short sides 128 and 224, max 39
# (pyav) and 90 (torchcodec), mean per clip at most 0.64 and 2.28; on the generated clip (a sharp
# texture) scaled to 72x96, max 41 and 94, mean 3.9 and 4.7. Asserted with a margin. At the source
# size every backend gives decord's frames exactly.
SCALED_TOLERANCE = {
    "real": {"pyav": (48, 1.0), "torchcodec": (104, 3.0)},
    "generated": {"pyav": (48, 4.5), "torchcodec": (104, 5.5)},
}
FRAME_COUNT = 150


def write_h264(path: Path, num_frames: int = FRAME_COUNT, keyframe_interval: int = 30) -> Path:
    """An h264 mp4 with B-frames and a keyframe every `keyframe_interval` frames, so reads seek."""
    frames = render_video(np.random.default_rng(3), 2, num_frames, 96, 128)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 96, 128, "yuv420p"
        stream.options = {"crf": "18", "g": str(keyframe_interval), "keyint_min": str(keyframe_interval), "bf": "2"}
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_h264(tmp_path_factory.mktemp("h264") / "clip.mp4")


SPREAD = np.linspace(0, FRAME_COUNT - 1, 16).astype(int).tolist()  # a 16-frame train sample
REQUESTS = {
    "spread": SPREAD,
    "val_clips": sorted(set(range(3, FRAME_COUNT, 9)) | set(range(5, FRAME_COUNT, 9))),
    "unordered_repeats": [140, 3, 77, 3, 149, 0, 76, 140],
}


def assert_close(frames: torch.Tensor, reference: torch.Tensor, backend: str, scaled_clip: str | None) -> None:
    """Equal at the source size (`scaled_clip` None); within SCALED_TOLERANCE[scaled_clip] when scaled."""
    assert frames.shape == reference.shape and frames.dtype == torch.uint8
    difference = (frames.int() - reference.int()).abs()
    if scaled_clip is None:
        assert difference.max() == 0, f"{backend} differs from decord at the source size"
        return
    worst, mean = SCALED_TOLERANCE[scaled_clip].get(backend, (0, 0.0))
    measured = (difference.max().item(), difference.float().mean().item())
    assert measured[0] <= worst and measured[1] <= mean, measured


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("request_name", list(REQUESTS))
@pytest.mark.parametrize("size", [None, (72, 96)])
def test_same_frames_as_decord_on_a_generated_clip(clip, backend, request_name, size):
    indices = REQUESTS[request_name]
    video = open_video(clip, backend=backend, size=size)
    assert (video.num_frames, video.fps) == (FRAME_COUNT, 25.0)
    reference = open_video(clip, size=size).frames(indices)
    assert_close(video.frames(indices), reference, backend, None if size is None else "generated")


@requires_real_clips
@pytest.mark.parametrize("backend", BACKENDS[1:])  # all but decord, the reference
@pytest.mark.parametrize("path", REAL_CLIPS, ids=lambda path: path.name)
def test_same_frames_as_decord_on_real_clips(path, backend):
    reference = open_video(path)
    video = open_video(path, backend=backend)
    assert (video.num_frames, video.fps) == (reference.num_frames, reference.fps)
    indices = np.linspace(0, video.num_frames - 1, 16).astype(int).tolist()
    assert_close(video.frames(indices), reference.frames(indices), backend, None)
    size = resized_shape(*reference.frame(0).shape[:2], 128)
    scaled = open_video(path, backend=backend, size=size).frames(indices)
    assert_close(scaled, open_video(path, size=size).frames(indices), backend, "real")


@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_videos_have_decords_frame_counts_rates_and_frames(odd_videos, backend):
    for name in ODD_VIDEOS:
        reference, video = open_video(odd_videos / name), open_video(odd_videos / name, backend=backend)
        assert video.num_frames == reference.num_frames, name
        # torchcodec takes the variable-rate clip's rate from FFmpeg 5.1's header reading: 90 (its
        # time base's tick rate), where decord and PyAV average it to 45 (README, Decoders)
        expected_fps = 90.0 if (backend, name) == ("torchcodec", "vfr.mp4") else reference.fps
        assert video.fps == expected_fps, name
        last = video.num_frames - 1
        assert torch.equal(video.frames([0, last]), reference.frames([0, last])), name


class CountingContainer:
    """A PyAV container that counts the frames its decoder hands out."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.container, self.decoded = container, 0

    def seek(self, *args, **kwargs) -> None:
        self.container.seek(*args, **kwargs)

    def decode(self, *args, **kwargs):
        for frame in self.container.decode(*args, **kwargs):
            self.decoded += 1
            yield frame


def test_pyav_seeks_to_the_keyframe_before_each_frame_instead_of_decoding_everything(tmp_path):
    long_clip = write_h264(tmp_path / "long.mp4", num_frames=300, keyframe_interval=30)
    video = open_video(long_clip, backend="pyav")
    counter = CountingContainer(video._reader._container)
    video._reader._container = counter
    reference = open_video(long_clip).frames([5, 290, 3])
    assert torch.equal(video.frames([5, 290, 3]), reference)
    # from keyframe 0 to frame 5, keyframe 270 to 290, back to keyframe 0 to frame 3: 6 + 21 + 4,
    # plus what the decoder hands out past a frame it was asked for
    assert counter.decoded <= 40, counter.decoded
    spread = np.linspace(0, 299, 16).astype(int).tolist()
    counter.decoded = 0
    video.frames(spread)
    assert counter.decoded < 300 and counter.decoded < sum(index % 30 + 1 for index in spread) + 16


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> list[Path]:
    """BROKEN's files, plus corrupted stream data behind an intact header and an audio-only file."""
    folder = tmp_path_factory.mktemp("bad_files")
    good = make_video(folder / "good.mp4", num_frames=60, height=64, width=80)
    data = bytearray(good.read_bytes())
    start = data.find(b"mdat") + 200
    noise = np.random.default_rng(0).integers(0, 256, len(data) // 3, dtype=np.uint8).tobytes()
    data[start:start + len(noise)] = noise[: len(data) - start]
    (folder / "corrupted.mp4").write_bytes(bytes(data))
    with av.open(str(folder / "audio_only.m4a"), mode="w") as container:
        stream = container.add_stream("aac", rate=16000)
        for _ in range(10):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            samples.sample_rate = 16000
            container.mux(stream.encode(samples))
        container.mux(stream.encode())
    return [*write_broken(folder, good), folder / "corrupted.mp4", folder / "audio_only.m4a"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_bad_file_raises_video_read_error_naming_it(bad_files, backend):
    for path in bad_files:
        with pytest.raises(VideoReadError, match=path.name):
            video = open_video(path, backend=backend)
            video.frames(list(range(video.num_frames)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_pipeline_front_raises_an_unreadable_error_for_every_broken_file(bad_files, backend):
    """What training skips (`data.train.on_error=skip`) and validation reports by name."""
    pipeline = Compose([VideoInit(backend=backend), VideoSample(8, 1, test_mode=False), VideoDecode()])
    names = [*BROKEN, "corrupted.mp4", "audio_only.m4a"]
    for path in (bad_files[0].parent / name for name in names):
        with pytest.raises(UNREADABLE, match=path.name):
            pipeline({"filename": str(path), "rng": np.random.default_rng(0)})


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_outside_the_video_are_an_index_error_not_a_bad_file(clip, backend):
    video = open_video(clip, backend=backend)
    with pytest.raises(IndexError, match="outside"):
        video.frames([0, FRAME_COUNT])


def test_an_unknown_backend_names_the_key_and_the_choices(clip):
    with pytest.raises(ZeldaError, match=r"pipeline\.backend='ffmpeg'.*decord, torchcodec, pyav"):
        open_video(clip, backend="ffmpeg")


def test_a_missing_torchcodec_says_what_to_install(clip, monkeypatch):
    for module in ("torchcodec", "torchcodec.decoders", "torchcodec.transforms"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    monkeypatch.delitem(sys.modules, "zelda.data.backends.torchcodec", raising=False)
    with pytest.raises(ZeldaError) as error:
        open_video(clip, backend="torchcodec")
    message = str(error.value)
    assert "pipeline.backend=torchcodec" in message and "pip install -r requirements-backends.txt" in message
    assert "apt-get install -y libavcodec59" in message and "pipeline.backend=decord" in message
    assert not isinstance(error.value, UNREADABLE)  # a setup problem stops training, it is no bad video


@pytest.mark.parametrize("backend,device,problem", [
    ("pyav", "cuda", "only pipeline.backend=torchcodec decodes on a GPU"),
    ("decord", "cuda:0", "only pipeline.backend=torchcodec decodes on a GPU"),
    ("torchcodec", "gpu", "only pipeline.backend=torchcodec decodes on a GPU"),
    pytest.param("torchcodec", "cuda", "no CUDA GPU is available", marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="a CUDA GPU is available")),
])
def test_a_decode_device_that_cannot_decode_is_refused(clip, backend, device, problem):
    with pytest.raises(ZeldaError, match=problem):
        open_video(clip, backend=backend, device=device)


@requires_torchcodec
def test_torchcodec_decodes_on_the_cpu_when_asked(clip):
    assert open_video(clip, backend="torchcodec", device="cpu").frames([0]).device.type == "cpu"


def test_importing_zelda_imports_no_decoder():
    code = ("import sys, zelda, zelda.data.video, zelda.data.dataset, zelda.data.transforms, zelda.data.checks, "
            "zelda.perf.decoding; print(sorted({'decord', 'av', 'torchcodec'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_a_resumed_run_may_change_the_decoder():
    saved = {"pipeline": {"backend": "decord", "decode_device": "cpu", "decode_timeout_s": 60, "clip_len": 8,
                          "train": [{"backend": "decord", "device": "cpu", "decode_timeout_s": 60}]}}
    current = {"pipeline": {"backend": "torchcodec", "decode_device": "cuda", "decode_timeout_s": None, "clip_len": 8,
                            "train": [{"backend": "torchcodec", "device": "cuda", "decode_timeout_s": None}]}}
    assert config_changes(saved, current, RESUME_MAY_CHANGE) == []
