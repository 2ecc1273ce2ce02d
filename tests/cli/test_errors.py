"""Bad input gets a sentence naming the file, line or key, never a traceback."""

from pathlib import Path

import pytest
from helpers import make_video, run_cli


def k400_layout(root: Path, train_lines: str, val_lines: str = "v0.mp4 0\n") -> Path:
    """A kinetics400_tiny folder under `root` with the given annotation lines and a two-class label map."""
    dataset = root / "kinetics400_tiny"
    for split in ("train", "val"):
        (dataset / split).mkdir(parents=True)
    make_video(dataset / "train" / "t0.mp4")
    make_video(dataset / "val" / "v0.mp4")
    (dataset / "kinetics_tiny_train_video.txt").write_text(train_lines)
    (dataset / "kinetics_tiny_val_video.txt").write_text(val_lines)
    (dataset / "label_map.txt").write_text("climbing rope\nblowing glass\n")
    return dataset


def fails_with(tmp_path: Path, *overrides: str) -> str:
    result = run_cli("zelda.train", "data=k400_tiny", "logger=none", f"paths.data_dir={tmp_path}",
                     f"hydra.run.dir={tmp_path / 'run'}", *overrides)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    return output


def test_missing_dataset_dir_names_path_and_fixes(tmp_path):
    output = fails_with(tmp_path)
    assert str(tmp_path / "kinetics400_tiny") in output
    assert "python -m zelda.data.download k400_tiny" in output and "data=synthetic" in output


def test_missing_annotation_file_is_named(tmp_path):
    dataset = k400_layout(tmp_path, "t0.mp4 0\n")
    (dataset / "kinetics_tiny_val_video.txt").unlink()
    assert "kinetics_tiny_val_video.txt" in fails_with(tmp_path)


@pytest.mark.parametrize("lines,expected", [
    ("t0.mp4 0\nt0.mp4\n", ":2: expected 'filename label'"),
    ("t0.mp4 zero\n", ":1: label 'zero' is not an integer"),
    ("t0.mp4 0\n\nt0.mp4 2\n", ":3: label 2 is out of range [0, 2)"),
])
def test_bad_annotation_lines_are_reported_with_file_and_line(tmp_path, lines, expected):
    k400_layout(tmp_path, lines)
    output = fails_with(tmp_path)
    assert f"kinetics_tiny_train_video.txt{expected}" in output


def test_unknown_config_group_option_lists_the_choices(tmp_path):
    output = fails_with(tmp_path, "model=resnet")
    assert "Could not find 'model/resnet'" in output and "zelda" in output
