"""`python -m zelda.data.prepare`: a re-encoded, training-ready copy of a tiny generated dataset."""

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import ROOT, make_video, run_cli
from hydra import compose, initialize_config_dir

from zelda.data import prepare as prepare_module
from zelda.data.encode import Encoding, encode, problem, target_shape
from zelda.data.prepare import locate
from zelda.data.synthetic import render_video
from zelda.errors import ZeldaError

K400 = "kinetics400_tiny"
SETTINGS = ["prepare.short_side=64", "prepare.keyint=8", "prepare.workers=2", "prepare.time_reps=1"]
# name: (frames, height, width); the copy's size: short side 64, never upscaled, even
VIDEOS = {"train/a.mp4": (40, 96, 128), "train/b.mp4": (20, 48, 64), "train/with_audio.mp4": (24, 128, 96),
          "val/c.mp4": (17, 96, 128), "val/d.mp4": (12, 96, 128)}
COPY_SHAPES = {"train/a.mp4": (64, 84), "train/b.mp4": (48, 64), "train/with_audio.mp4": (84, 64),
               "val/c.mp4": (64, 84), "val/d.mp4": (64, 84)}
OTHER_FILES = ["kinetics_tiny_train_video.txt", "kinetics_tiny_val_video.txt", "label_map.txt", "splits/notes.csv"]


def make_video_with_audio(path: Path, num_frames: int, height: int, width: int) -> None:
    """An h264 mp4 with a silent AAC audio track beside the video."""
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=15)
        video.height, video.width, video.pix_fmt = height, width, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for frame in render_video(np.random.default_rng(0), 1, num_frames, height, width):
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        for index in range(num_frames * 16000 // 15 // 1024):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 16000, index * 1024
            container.mux(audio.encode(samples))
        container.mux(video.encode())
        container.mux(audio.encode())


def keyframes(path: Path) -> list[int]:
    """Positions of the keyframe packets of the video stream."""
    with av.open(str(path)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
        return [index for index, packet in enumerate(packets) if packet.is_keyframe]


def stream_counts(path: Path) -> tuple[int, int, tuple[int, int], int]:
    """Video streams, audio streams, (height, width) and decoded frames."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        shape = (video.height, video.width)
        frames = sum(1 for _ in container.decode(video))
        return len(container.streams.video), len(container.streams.audio), shape, frames


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding kinetics400_tiny's layout: 3 train and 2 val videos, one with audio, a
    nested non-video file, and a video no split lists."""
    data_dir = tmp_path_factory.mktemp("source")
    root = data_dir / K400
    for name, (frames, height, width) in VIDEOS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if "audio" in name:
            make_video_with_audio(root / name, frames, height, width)
        else:
            make_video(root / name, num_frames=frames, height=height, width=width, seed=frames)
    make_video(root / "train" / "unlisted.mp4", num_frames=4)
    for split in ("train", "val"):
        names = [name.split("/", 1)[1] for name in VIDEOS if name.startswith(split)]
        (root / f"kinetics_tiny_{split}_video.txt").write_text("".join(f"{n} {i % 2}\n" for i, n in enumerate(names)))
    (root / "label_map.txt").write_text("climbing rope\nblowing glass\n")
    (root / "splits").mkdir()
    (root / "splits" / "notes.csv").write_text("name,note\na.mp4,x\n")
    return data_dir


def prepare(source: Path, out: Path, *args: str):
    return run_cli("zelda.data.prepare", "data=k400_tiny", f"paths.data_dir={source}", f"prepare.out={out}", *SETTINGS,
                   *args, timeout=180)


@pytest.fixture(scope="module")
def prepared(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    result = prepare(source, out)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "5 videos: 5 encoded, 0 already done, 0 failed" in result.stdout
    assert "left out 1 video(s) that no split lists" in result.stdout
    assert "train decoding" in result.stdout and f"train on the copy with: paths.data_dir={out}" in result.stdout
    return out


def test_the_copy_is_smaller_keyframed_silent_and_keeps_every_frame(source, prepared):
    for name, (frames, _, _) in VIDEOS.items():
        copy = prepared / K400 / name
        assert stream_counts(copy) == (1, 0, COPY_SHAPES[name], frames), name
        assert keyframes(copy) == list(range(0, frames, 8)), name
    assert stream_counts(source / K400 / "train" / "with_audio.mp4")[1] == 1  # the source had audio


def test_other_files_are_copied_and_unlisted_videos_left_out(source, prepared):
    for name in OTHER_FILES:
        assert (prepared / K400 / name).read_bytes() == (source / K400 / name).read_bytes(), name
    assert not (prepared / K400 / "train" / "unlisted.mp4").exists()
    assert not list((prepared / K400).rglob(".*"))  # no temporary files left


def test_a_rerun_skips_finished_videos_and_redoes_broken_ones(source, prepared, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(prepared, out)
    root = out / K400
    (root / "train" / "a.mp4").unlink()  # interrupted while writing a.mp4: only its temporary file is there
    (root / "train" / ".a.partial.mp4").write_bytes(b"half an mp4")
    truncated = root / "val" / "c.mp4"  # a file cut short at its final name
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    untouched = {name: (root / name).stat().st_mtime_ns for name in ("train/b.mp4", "train/with_audio.mp4", "val/d.mp4")}

    result = prepare(source, out)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "5 videos: 2 encoded, 3 already done, 0 failed" in result.stdout
    assert {name: (root / name).stat().st_mtime_ns for name in untouched} == untouched
    for name in ("train/a.mp4", "val/c.mp4"):
        assert stream_counts(root / name) == (1, 0, COPY_SHAPES[name], VIDEOS[name][0])
    assert not (root / "train" / ".a.partial.mp4").exists()


def test_other_settings_make_a_finished_copy_count_as_not_done(prepared):
    copy = prepared / K400 / "train" / "a.mp4"
    frames, shape = VIDEOS["train/a.mp4"][0], COPY_SHAPES["train/a.mp4"]
    done = Encoding(64, 8, 26, "veryfast", "fastdecode", 0)  # conf/prepare.yaml's, at short side 64
    assert problem(copy, frames, shape, done) is None
    assert problem(copy, frames, shape, Encoding(64, 16, 26, "veryfast", "fastdecode", 0)) == "encoded with other settings"
    assert problem(copy, frames + 1, shape, done) == f"{frames} frames instead of {frames + 1}"
    assert problem(copy, frames, (96, 128), done) == "64x84 instead of 96x128"
    assert problem(copy.with_name("missing.mp4"), frames, shape, done) == "missing"


def test_target_shape_never_upscales_and_stays_even():
    assert target_shape(1080, 1920, 256) == (256, 454)
    assert target_shape(720, 406, 256) == (454, 256)
    assert target_shape(200, 300, 256) == (200, 300)
    assert target_shape(201, 301, 256) == (200, 300)


def test_a_video_that_cannot_be_read_is_reported_and_the_rest_prepared(source, tmp_path):
    broken = tmp_path / "source"
    shutil.copytree(source, broken)
    (broken / K400 / "val" / "d.mp4").write_bytes(b"not a video")
    result = prepare(broken, tmp_path / "copy")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-3000:]
    assert "5 videos: 4 encoded, 0 already done, 1 failed" in result.stdout
    assert "failed: " in result.stdout and "d.mp4" in result.stdout and "Traceback" not in result.stdout + result.stderr


def compose_prepare(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="prepare", overrides=["data=k400_tiny", *overrides])


@pytest.mark.parametrize("out", ["{data}", "{data}/kinetics400_tiny/copy", "{data}/.."])
def test_a_copy_overlapping_its_source_is_refused(tmp_path, out):
    cfg = compose_prepare(f"paths.data_dir={tmp_path / 'data'}", f"prepare.out={out.format(data=tmp_path / 'data')}")
    with pytest.raises(ZeldaError, match=r"prepare.out=.* overlaps the source data.root=.*choose a prepare.out outside"):
        locate(cfg)


def test_the_copy_root_mirrors_data_root_under_out(tmp_path):
    source, target, how = locate(compose_prepare(f"paths.data_dir={tmp_path / 'a'}", f"prepare.out={tmp_path / 'b'}"))
    assert (source, target, how) == (tmp_path / "a" / K400, tmp_path / "b" / K400, f"paths.data_dir={tmp_path / 'b'}")
    _, target, how = locate(compose_prepare(f"data.root={tmp_path / 'x' / 'mine'}", f"prepare.out={tmp_path / 'b'}"))
    assert (target, how) == (tmp_path / "b" / "mine", f"data.root={tmp_path / 'b' / 'mine'}")
    # a data.root of its own under paths.data_dir keeps its place, and the copy is named by data.root
    _, target, how = locate(compose_prepare(f"paths.data_dir={tmp_path / 'a'}", f"data.root={tmp_path / 'a' / 'full'}",
                                            f"prepare.out={tmp_path / 'b'}"))
    assert (target, how) == (tmp_path / "b" / "full", f"data.root={tmp_path / 'b' / 'full'}")


def test_the_timing_decodes_the_source_then_the_copy(source, prepared, monkeypatch):
    timed = []
    monkeypatch.setattr(prepare_module, "decode_floor", lambda dataset, seed: timed.append(dataset.path(0).parent.parent))
    cfg = compose_prepare(f"paths.data_dir={source}", f"prepare.out={prepared}", *SETTINGS, "prepare.time_reps=2")
    report = prepare_module.prepare(cfg)
    assert len(report["skipped"]) == 5
    assert timed == [source / K400, prepared / K400] * 2  # alternating


def test_prepare_out_is_required():
    with pytest.raises(ZeldaError, match=r"prepare.out is required"):
        prepare_module.prepare(compose_prepare())


def test_the_cli_refuses_out_inside_the_source(source):
    result = prepare(source, source / K400 / "copy")
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "prepare.out=" in output and "overlaps the source data.root" in output and "Traceback" not in output
    assert not (source / K400 / "copy").exists()


def test_training_one_epoch_on_the_copy(prepared, tmp_path):
    result = run_cli("zelda.train", "data=k400_tiny", f"paths.data_dir={prepared}", "logger=none",
                     "pipeline.resize=32", "pipeline.crop_size=32", "pipeline.clip_len=4", "pipeline.val_num_clips=2",
                     "trainer.max_epochs=1", "trainer.progress_bar=false", "data.num_workers=0",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert row["epoch"] == 1 and "val/top1" in row


def test_encode_writes_exactly_the_frames_it_reads(tmp_path):
    source = make_video(tmp_path / "s.mp4", num_frames=9, height=64, width=80)
    assert encode(source, tmp_path / "t.mp4", Encoding(32, 4, 23, "ultrafast", None, 0)) == 9
    assert stream_counts(tmp_path / "t.mp4") == (1, 0, (32, 40), 9)
    assert keyframes(tmp_path / "t.mp4") == [0, 4, 8]
