"""A decoder call that never returns fails its video after pipeline.decode_timeout_s: training
skips it, validation names it, and nothing hangs."""

import threading
import time
from pathlib import Path

import pytest
from helpers import ROOT
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from videos_on_disk import PIPELINE

from zelda.data.backends import decord as decord_backend
from zelda.data.dataset import VideoDataset
from zelda.data.formats.listfile import ListFormat
from zelda.data.loader import build_loader
from zelda.data.video import DecodeTimeout, VideoReadError, open_video, within
from zelda.errors import ZeldaError

TIMEOUT_S = 1


class StuckReader(decord_backend.Reader):
    """decord's reader, except that a file named `stuck*` never finishes opening or decoding
    (as `stuck_open*` / `stuck*` says)."""

    def __init__(self, path: str, *args) -> None:
        if Path(path).name.startswith("stuck_open"):
            threading.Event().wait()
        super().__init__(path, *args)
        self.stuck = Path(path).name.startswith("stuck")

    def frames(self, indices: list[int]):
        if self.stuck:
            threading.Event().wait()
        return super().frames(indices)


@pytest.fixture
def stuck_decoder(monkeypatch):
    monkeypatch.setattr(decord_backend, "Reader", StuckReader)


@pytest.fixture(scope="module")
def videos(tmp_path_factory, good_videos) -> Path:
    """Three good videos and a stuck one, listed in ann.txt."""
    root = tmp_path_factory.mktemp("stuck")
    (root / "videos").mkdir()
    names = [path.name for path in good_videos[:3]] + ["stuck.mp4"]
    for name, source in zip(names, good_videos[:4], strict=True):
        (root / "videos" / name).write_bytes(source.read_bytes())
    (root / "ann.txt").write_text("".join(f"{name} {i % 2}\n" for i, name in enumerate(names)))
    return root


@pytest.fixture(scope="module")
def pipelines():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        overrides = ["data=k400_tiny", *PIPELINE, f"pipeline.decode_timeout_s={TIMEOUT_S}"]
        cfg = compose(config_name="train", overrides=overrides)
    return {split: instantiate(cfg.pipeline[split]) for split in ("train", "val")}


def dataset(root: Path, pipelines, split: str, on_error: str) -> VideoDataset:
    listed = ListFormat(root, files={split: "ann.txt"}, video_dirs={split: "videos"})
    return VideoDataset(listed, split, pipelines[split], test_mode=split == "val", on_error=on_error)


def test_the_config_key_reaches_the_decoder(pipelines):
    assert [t.decode_timeout_s for t in pipelines["train"] if hasattr(t, "decode_timeout_s")] == [TIMEOUT_S]


@pytest.mark.parametrize("name,what", [("stuck.mp4", "decoding 3 frames"), ("stuck_open.mp4", "opening")])
def test_a_call_that_never_returns_raises_naming_the_file_and_the_timeout(videos, stuck_decoder, name, what):
    path = videos / "videos" / name
    path.write_bytes((videos / "videos" / "stuck.mp4").read_bytes())
    start = time.perf_counter()
    with pytest.raises(DecodeTimeout, match=rf"{path}: {what} did not return within 1 s \(pipeline.decode_timeout_s\)"):
        open_video(path, timeout_s=TIMEOUT_S).frames([0, 1, 2])
    assert time.perf_counter() - start < TIMEOUT_S + 2


def test_a_video_that_timed_out_refuses_further_calls(videos, stuck_decoder):
    video = open_video(videos / "videos" / "stuck.mp4", timeout_s=TIMEOUT_S)
    with pytest.raises(DecodeTimeout):
        video.frames([0])
    with pytest.raises(VideoReadError, match="an earlier call timed out"):
        video.frame(0)


def test_no_timeout_runs_the_call_in_the_calling_thread():
    for timeout_s in (None, 0):
        assert within(timeout_s, "x.mp4", "opening", threading.current_thread) is threading.current_thread()
    assert within(5, "x.mp4", "opening", threading.current_thread) is not threading.current_thread()


def test_a_decoder_error_inside_the_time_limit_is_raised_as_itself(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video\n")
    with pytest.raises(VideoReadError, match="RuntimeError") as error:
        open_video(tmp_path / "text.mp4", timeout_s=TIMEOUT_S)
    assert not isinstance(error.value, DecodeTimeout)


def test_training_skips_a_stuck_video_and_names_it(videos, pipelines, stuck_decoder):
    data = dataset(videos, pipelines, "train", "skip")
    stuck = str(videos / "videos" / "stuck.mp4")
    item = data[(3, 123)]
    assert Path(item["sample"].filename).name.startswith("good")
    assert item["sample"].skipped and all(path == stuck for path, _ in item["sample"].skipped)
    assert "did not return within 1 s" in item["sample"].skipped[0][1]


def test_validation_fails_naming_the_stuck_video(videos, pipelines, stuck_decoder):
    with pytest.raises(ZeldaError, match=rf"cannot load video {videos / 'videos' / 'stuck.mp4'}.*within 1 s"):
        dataset(videos, pipelines, "val", "raise")[3]


def test_loader_workers_skip_or_name_a_stuck_video_without_hanging(videos, pipelines, stuck_decoder):
    """A worker process (forked: it inherits the stuck decoder) through the real loader: the
    training epoch completes with the video skipped, validation stops naming it, and the
    abandoned threads keep neither the workers nor this process from ending."""
    start = time.perf_counter()
    train = build_loader(dataset(videos, pipelines, "train", "skip"), batch_size=2, shuffle=False, num_workers=1,
                         persistent_workers=False, seed=0)
    samples = [sample for batch in train for sample in batch["samples"]]
    skipped = [path for sample in samples for path, _ in sample.skipped]
    assert len(samples) == 4 and skipped and set(skipped) == {str(videos / "videos" / "stuck.mp4")}
    val = build_loader(dataset(videos, pipelines, "val", "raise"), batch_size=1, shuffle=False, num_workers=1,
                       persistent_workers=False, seed=0, pad=False)
    with pytest.raises(ZeldaError, match="stuck.mp4"):
        list(val)
    assert time.perf_counter() - start < 20
