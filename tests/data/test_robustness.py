"""Odd but valid videos train; broken files are skipped and recorded (train) or named (val)."""

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, make_video, read_wandb_run, run_cli
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from zelda.data.dataset import VideoDataset
from zelda.data.synthetic import render_video
from zelda.data.transforms import Compose
from zelda.errors import ZeldaError

CLIP_LEN, RESIZE, CROP, VAL_CLIPS = 16, 64, 56, 5
PIPELINE = [f"pipeline.clip_len={CLIP_LEN}", f"pipeline.resize={RESIZE}", f"pipeline.crop_size={CROP}"]
# Broken files, each listed once in the train annotation; "missing.mp4" is listed but never written.
BROKEN = ("truncated.mp4", "empty.mp4", "text.mp4", "directory.mp4", "missing.mp4")
VFR_GAPS = [1, 1, 3, 1, 2, 5, 1, 4, 2, 1]  # ticks of 1/90 s between frames


def write_vfr_mp4(path: Path, num_frames: int = 20, height: int = 48, width: int = 64) -> Path:
    """An h264 mp4 whose frames sit at irregular `pts` on a fine 1/90 s time base."""
    import av

    frames = render_video(np.random.default_rng(7), 1, num_frames, height, width)
    time_base = Fraction(1, 90)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = height, width
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        pts = 0
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            pts += VFR_GAPS[index % len(VFR_GAPS)]
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def frame_times(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


ODD_VIDEOS = {  # name -> writer
    "one_frame.mp4": lambda p: make_video(p, num_frames=1, seed=1),
    "eight_frames.mp4": lambda p: make_video(p, num_frames=8, seed=2),
    "portrait_96x64.mp4": lambda p: make_video(p, num_frames=10, height=96, width=64, seed=3),
    "tiny_48x64.mp4": lambda p: make_video(p, num_frames=10, height=48, width=64, seed=4),
    "wide_144x1024.mp4": lambda p: make_video(p, num_frames=6, height=144, width=1024, seed=5),
    "vfr.mp4": write_vfr_mp4,
}


@pytest.fixture(scope="module")
def odd_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("odd_videos")
    for name, write in ODD_VIDEOS.items():
        write(root / name)
    return root


@pytest.fixture(scope="module")
def pipelines() -> dict[str, Compose]:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=k400_tiny", *PIPELINE])
    return {split: Compose(instantiate(cfg.pipeline[split])) for split in ("train", "val")}


def k400_dataset(root: Path, train: dict[str, Path | None], val: dict[str, Path | None]) -> Path:
    """A kinetics400_tiny folder under `root`: `{name: source}` per split, copied in
    (source None: listed in the annotation only). Returns the dataset folder."""
    dataset = root / "kinetics400_tiny"
    for split, videos in (("train", train), ("val", val)):
        (dataset / split).mkdir(parents=True)
        lines = []
        for index, (name, source) in enumerate(videos.items()):
            if source is not None:
                (dataset / split / name).write_bytes(source.read_bytes())
            lines.append(f"{name} {index % 2}\n")
        (dataset / f"kinetics_tiny_{split}_video.txt").write_text("".join(lines))
    return dataset


def write_broken(folder: Path, good: Path) -> list[Path]:
    """The broken files of BROKEN in `folder` ('missing.mp4' is not written)."""
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("this is not a video\n")
    (folder / "directory.mp4").mkdir()
    return [folder / name for name in BROKEN]


@pytest.fixture(scope="module")
def good_videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("good_videos")
    return [make_video(root / f"good{i}.mp4", num_frames=12, label=i % 2, seed=10 + i) for i in range(6)]


def train_cli(tmp: Path, *overrides: str):
    result = run_cli("zelda.train", "data=k400_tiny", f"paths.data_dir={tmp}", f"hydra.run.dir={tmp / 'run'}",
                     *PIPELINE, "trainer.max_epochs=1", "trainer.progress_bar=false", "data.batch_size=2", *overrides)
    return result, result.stdout + result.stderr


def metrics_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# 1. Odd but valid videos ---------------------------------------------------------------


def test_vfr_video_really_has_irregular_frame_times(odd_videos):
    gaps = np.round(np.diff(frame_times(odd_videos / "vfr.mp4")) * 90).astype(int)
    assert gaps.tolist() == [VFR_GAPS[i % len(VFR_GAPS)] for i in range(len(gaps))]


@pytest.mark.parametrize("name", list(ODD_VIDEOS))
@pytest.mark.parametrize("split,num_clips", [("train", 1), ("val", VAL_CLIPS)])
def test_odd_video_gives_exact_clip_shape(odd_videos, pipelines, name, split, num_clips):
    results = {"filename": str(odd_videos / name), "label": 1, "modality": "RGB", "rng": np.random.default_rng(0)}
    item = pipelines[split](results)
    inputs = item["inputs"]
    assert tuple(inputs.shape) == (num_clips, 3, CLIP_LEN, CROP, CROP)
    assert inputs.dtype.is_floating_point is False and str(inputs.dtype) == "torch.uint8"
    assert item["sample"].meta["num_clips"] == num_clips and item["sample"].meta["clip_len"] == CLIP_LEN
    assert item["sample"].label == 1 and item["sample"].skipped == []


def test_training_on_odd_videos_completes_without_skips(tmp_path_factory, odd_videos, good_videos):
    tmp = tmp_path_factory.mktemp("odd_train")
    k400_dataset(tmp, {name: odd_videos / name for name in ODD_VIDEOS},
                 {"v0.mp4": good_videos[0], "v1.mp4": good_videos[1]})
    result, output = train_cli(tmp, "logger=none")
    assert result.returncode == 0, output[-3000:]
    run_dir = tmp / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 1
    [row] = metrics_rows(run_dir)
    assert row["train/skipped_videos"] == 0
    assert not (run_dir / "bad_videos.txt").exists()
    assert "skipping video" not in output


# 2. Broken files in training are skipped and recorded -------------------------------------


@pytest.fixture(scope="module")
def broken_train_run(tmp_path_factory, good_videos):
    tmp = tmp_path_factory.mktemp("broken_train")
    dataset = k400_dataset(tmp, {p.name: p for p in good_videos}, {"v0.mp4": good_videos[0], "v1.mp4": good_videos[1]})
    broken = write_broken(dataset / "train", good_videos[0])
    with (dataset / "kinetics_tiny_train_video.txt").open("a") as file:
        file.writelines(f"{path.name} {i % 2}\n" for i, path in enumerate(broken))
    result, output = train_cli(tmp)  # logger left at its default: W&B, offline in run_cli
    return tmp / "run", broken, result, output


def test_broken_train_files_are_skipped_and_listed(broken_train_run):
    run_dir, broken, result, output = broken_train_run
    assert result.returncode == 0, output[-3000:]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    lines = (run_dir / "bad_videos.txt").read_text().splitlines()
    entries = [line.split("\t") for line in lines]
    assert all(len(entry) == 2 and entry[1].strip() for entry in entries), lines
    listed = [path for path, _ in entries]
    # the sampler tries every index once per epoch, so each broken file fails at least once
    # as itself; replacements drawn at random (seeded) may hit broken files again
    assert set(listed) == {str(path) for path in broken}
    [row] = metrics_rows(run_dir)
    assert row["train/skipped_videos"] == len(lines) >= len(BROKEN)
    assert "Traceback" not in output


def test_broken_train_files_count_in_wandb_history(broken_train_run):
    run_dir, _, result, output = broken_train_run
    assert result.returncode == 0, output[-3000:]
    count = len((run_dir / "bad_videos.txt").read_text().splitlines())
    wandb = read_wandb_run(run_dir)
    assert wandb["state"] == "finished" and wandb["exit_code"] == 0
    values = [row["epoch/train/skipped_videos"] for row in wandb["history"] if "epoch/train/skipped_videos" in row]
    assert values == [count]


# 3. Every train video broken: a clear stop ----------------------------------------------------


def test_all_broken_train_set_stops_with_a_sentence(tmp_path_factory, good_videos):
    tmp = tmp_path_factory.mktemp("all_broken")
    dataset = k400_dataset(tmp, {}, {"v0.mp4": good_videos[0]})
    broken = write_broken(dataset / "train", good_videos[0])
    (dataset / "kinetics_tiny_train_video.txt").write_text("".join(f"{p.name} {i % 2}\n" for i, p in enumerate(broken)))
    result, output = train_cli(tmp, "logger=none")
    assert result.returncode != 0, output[-3000:]
    assert "failed to load" in output and "max_retries" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert json.loads((tmp / "run" / "summary.json").read_text())["status"] == "failed"


# 4. A broken val file fails the run with its name --------------------------------------------


def test_broken_val_file_fails_the_run_naming_it(tmp_path_factory, good_videos):
    tmp = tmp_path_factory.mktemp("broken_val")
    truncated = tmp / "truncated_val.mp4"
    truncated.write_bytes(good_videos[1].read_bytes()[: good_videos[1].stat().st_size // 2])
    k400_dataset(tmp, {p.name: p for p in good_videos[:2]}, {"v0.mp4": good_videos[0], "bad_val.mp4": truncated})
    result, output = train_cli(tmp, "logger=none")
    assert result.returncode != 0, output[-3000:]
    assert str(tmp / "kinetics400_tiny" / "val" / "bad_val.mp4") in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert json.loads((tmp / "run" / "summary.json").read_text())["status"] == "failed"


# 5. The dataset's on_error policies, directly -------------------------------------------------


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory, good_videos) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    (root / "videos").mkdir()
    for path in good_videos[:3]:
        (root / "videos" / path.name).write_bytes(path.read_bytes())
    write_broken(root / "videos", good_videos[0])
    names = [p.name for p in good_videos[:3]] + list(BROKEN)
    (root / "ann.txt").write_text("".join(f"{name} {i % 2}\n" for i, name in enumerate(names)))
    return root


def dataset(root: Path, pipelines: dict[str, Compose], on_error: str) -> VideoDataset:
    return VideoDataset("ann.txt", pipelines["train"].transforms, data_root=str(root), data_prefix="videos",
                        num_classes=2, on_error=on_error)


@pytest.mark.parametrize("name", BROKEN)
def test_skip_policy_replaces_a_broken_video_and_names_it(mixed_dir, pipelines, name):
    data = dataset(mixed_dir, pipelines, "skip")
    index = [a.filename for a in data.annotations].index(name)
    item = data[(index, 123)]
    sample = item["sample"]
    assert tuple(item["inputs"].shape) == (1, 3, CLIP_LEN, CROP, CROP)
    assert Path(sample.filename).name.startswith("good")
    assert sample.skipped[0][0] == str(mixed_dir / "videos" / name)
    assert all(Path(path).name in BROKEN and error for path, error in sample.skipped)


@pytest.mark.parametrize("name", BROKEN)
def test_raise_policy_names_the_broken_video(mixed_dir, pipelines, name):
    data = dataset(mixed_dir, pipelines, "raise")
    index = [a.filename for a in data.annotations].index(name)
    with pytest.raises(ZeldaError, match="cannot load video") as error:
        data[(index, 123)]
    assert str(mixed_dir / "videos" / name) in str(error.value)
