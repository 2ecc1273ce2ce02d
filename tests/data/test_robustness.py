"""Broken files are skipped and recorded (train) or named (val); bugs are never mistaken for them."""

import json
import os
from pathlib import Path

import pytest
from buggy_transforms import BuggyResize
from helpers import TINY_RUN, read_wandb_run, run_cli
from videos_on_disk import BROKEN, CLIP_LEN, CROP, RESIZE, k400_dataset, metrics_rows, train_cli, write_broken

from zelda.data.dataset import VideoDataset
from zelda.data.formats.listfile import ListFormat
from zelda.data.transforms import Compose
from zelda.errors import ZeldaError

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


def listed(root: Path) -> ListFormat:
    return ListFormat(root, files={"train": "ann.txt"}, video_dirs={"train": "videos"})


def dataset(root: Path, pipelines: dict[str, Compose], on_error: str) -> VideoDataset:
    return VideoDataset(listed(root), "train", pipelines["train"].transforms, on_error=on_error)


@pytest.mark.parametrize("name", BROKEN)
def test_skip_policy_replaces_a_broken_video_and_names_it(mixed_dir, pipelines, name):
    data = dataset(mixed_dir, pipelines, "skip")
    index = [entry.path.name for entry in data.entries].index(name)
    item = data[(index, 123)]
    sample = item["sample"]
    assert tuple(item["inputs"].shape) == (1, 3, CLIP_LEN, CROP, CROP)
    assert Path(sample.filename).name.startswith("good")
    assert sample.skipped[0][0] == str(mixed_dir / "videos" / name)
    assert all(Path(path).name in BROKEN and error for path, error in sample.skipped)


@pytest.mark.parametrize("name", BROKEN)
def test_raise_policy_names_the_broken_video(mixed_dir, pipelines, name):
    data = dataset(mixed_dir, pipelines, "raise")
    index = [entry.path.name for entry in data.entries].index(name)
    with pytest.raises(ZeldaError, match="cannot load video") as error:
        data[(index, 123)]
    assert str(mixed_dir / "videos" / name) in str(error.value)


# 6. A bug is not a bad video: it stops the run with its traceback -------------------------------


@pytest.mark.parametrize("on_error", ["skip", "raise"])
def test_a_bug_in_a_transform_is_raised_as_itself(mixed_dir, pipelines, on_error):
    transforms = [BuggyResize(RESIZE) if type(t).__name__ == "VideoResize" else t for t in pipelines["train"].transforms]
    data = VideoDataset(listed(mixed_dir), "train", transforms, on_error=on_error)
    with pytest.raises(KeyError, match="images"):
        data[(0, 123)]  # a good video: skipping it (and every other) would blame the dataset


def test_a_bug_in_a_transform_stops_training_with_its_traceback_in_error_txt(tmp_path):
    here = str(Path(__file__).parent)  # buggy_transforms.py, for Hydra's _target_
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.run.dir={tmp_path / 'run'}", "pipeline.train.3._target_=buggy_transforms.BuggyResize",
                     env={"PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    error = (tmp_path / "run" / "error.txt").read_text()
    assert "buggy_transforms.py" in error and "KeyError: 'images'" in error, error[-3000:]
    assert "failed to load" not in output + error and "skipping video" not in output
    assert not (tmp_path / "run" / "bad_videos.txt").exists()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"
