"""`python -m zelda.check` on tiny generated datasets (clean and broken) and on the real clips."""

import json
from pathlib import Path

import av
import pytest
from helpers import SHARED_DATA, make_video, run_cli

from zelda.data.checks import first_bad_frame
from zelda.data.video import open_video

K400 = "kinetics400_tiny"


def make_dataset(data_dir: Path, train: dict[str, int], val: dict[str, int], train_lines: list[str] = (),
                 val_lines: list[str] = ()) -> Path:
    """A kinetics400_tiny-layout folder: `{name: frames}` videos (48x64), labels alternating, plus extra lines,
    and the label map naming its two classes."""
    root = data_dir / K400
    for split, videos, extra in (("train", train, train_lines), ("val", val, val_lines)):
        (root / split).mkdir(parents=True)
        lines = []
        for index, (name, frames) in enumerate(videos.items()):
            make_video(root / split / name, num_frames=frames, label=index % 2, seed=index)
            lines.append(f"{name} {index % 2}")
        (root / f"kinetics_tiny_{split}_video.txt").write_text("\n".join([*lines, *extra]) + "\n")
    (root / "label_map.txt").write_text("climbing rope\nblowing glass\n")
    return root


def check(data_dir: Path, report: Path, *args: str) -> tuple[object, dict | None]:
    """Run the CLI on `data_dir`; the process and the --json report (None when not written)."""
    result = run_cli("zelda.check", "data=k400_tiny", f"paths.data_dir={data_dir}", "--json", str(report), *args,
                     timeout=120)
    return result, json.loads(report.read_text()) if report.exists() else None


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("clean")
    make_dataset(data_dir, {"a.mp4": 12, "b.mp4": 20, "c.mp4": 12}, {"d.mp4": 16, "e.mp4": 12},
                 train_lines=["", "# a comment"])
    return data_dir


def test_clean_set_passes_with_counts_frames_resolution_and_classes(clean):
    result, report = check(clean, clean / "clean.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["problems"] == 0 and report["deep"] is False
    train, val = report["splits"]["train"], report["splits"]["val"]
    assert train["counts"] == {"listed": 3, "ok": 3, "with_problems": 0, "bad_lines": 0, "duplicates": 0, "warnings": 2}
    assert val["counts"]["ok"] == 2 and val["counts"]["with_problems"] == 0
    assert train["stats"]["frames"] == {"min": 12, "median": 12, "max": 20}
    assert train["stats"]["resolution"] == {"48x64": 3} and train["stats"]["min_short_side"] == 48
    assert train["stats"]["fps"]["median"] == 15
    assert train["class_counts"] == {"0": 2, "1": 1} and val["class_counts"] == {"0": 1, "1": 1}
    assert [(v["file"].split("/")[-1], v["label"], v["frames"], v["height"], v["width"]) for v in train["videos"]] == [
        ("a.mp4", 0, 12, 48, 64), ("b.mp4", 1, 20, 48, 64), ("c.mp4", 0, 12, 48, 64)]
    # videos shorter than pipeline.clip_len (16) are warnings, not problems
    assert sorted(Path(w["file"]).name for w in train["warnings"] + val["warnings"]) == ["a.mp4", "c.mp4", "e.mp4"]
    assert report["classes"] == ["climbing rope", "blowing glass"]
    assert "no problems" in result.stdout and "  0 climbing rope: 2\n  1 blowing glass: 1\n" in result.stdout


def test_deep_check_decodes_every_frame(clean):
    result, report = check(clean, clean / "deep.json", "--deep", "--split", "val")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["deep"] is True and list(report["splits"]) == ["val"]


def zero_packet(path: Path, index: int) -> None:
    """Overwrite the compressed data of the video's `index`-th packet with zeros, in place."""
    with av.open(str(path)) as container:
        packets = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]
    position, size = packets[index]
    data = bytearray(path.read_bytes())
    data[position : position + size] = bytes(size)
    path.write_bytes(data)


def test_only_the_deep_check_finds_a_frame_broken_mid_video(tmp_path):
    make_dataset(tmp_path, {"ok.mp4": 12}, {"broken.mp4": 60})
    zero_packet(tmp_path / K400 / "val" / "broken.mp4", 30)  # its first frame still decodes
    result, report = check(tmp_path, tmp_path / "shallow.json", "--split", "val")
    assert result.returncode == 0 and report["problems"] == 0, result.stdout + result.stderr
    result, report = check(tmp_path, tmp_path / "deep.json", "--split", "val", "--deep")
    assert result.returncode == 1 and report["problems"] == 1, result.stdout + result.stderr
    [problem] = report["splits"]["val"]["problems"]
    assert problem["file"].endswith("broken.mp4") and "does not decode" in problem["problem"]


def test_deep_decode_names_the_first_frame_that_fails(tmp_path):
    narrow = make_video(tmp_path / "narrow.mp4", num_frames=5, height=64, width=48)  # decord's get_batch fails on it
    assert first_bad_frame(open_video(narrow), chunk=2)[0] == 0
    fine = make_video(tmp_path / "fine.mp4", num_frames=5)
    assert first_bad_frame(open_video(fine), chunk=2) is None


def test_broken_set_lists_every_problem_with_its_file_and_line(tmp_path):
    root = make_dataset(tmp_path, {"ok.mp4": 12}, {"fine.mp4": 12},
                        train_lines=["empty.mp4 1", "text.mp4 0", "folder.mp4 1", "missing.mp4 0", "truncated.mp4 1",
                                     "narrow.mp4 0", "ok.mp4 1", "bad.mp4 x"],
                        val_lines=["../train/ok.mp4 0"])
    train = root / "train"
    (train / "empty.mp4").write_bytes(b"")
    (train / "text.mp4").write_text("not a video\n")
    (train / "folder.mp4").mkdir()
    whole = make_video(tmp_path / "whole.mp4").read_bytes()
    (train / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    make_video(train / "narrow.mp4", height=64, width=48)  # decord cannot decode 48-pixel-wide h264
    result, report = check(tmp_path, tmp_path / "report.json")
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [(Path(p["file"]).name, p["line"], p["kind"]) for s in report["splits"].values() for p in s["problems"]]
    ann = "kinetics_tiny_train_video.txt"
    assert sorted(problems, key=str) == sorted([
        ("empty.mp4", None, "video"), ("text.mp4", None, "video"), ("folder.mp4", None, "video"),
        ("missing.mp4", None, "video"), ("truncated.mp4", None, "video"), ("narrow.mp4", None, "video"),
        (ann, 8, "duplicate"), (ann, 9, "annotation"), ("kinetics_tiny_val_video.txt", 2, "duplicate"),
    ], key=str)
    assert report["splits"]["train"]["counts"] == {"listed": 7, "ok": 1, "with_problems": 6, "bad_lines": 1,
                                                  "duplicates": 1, "warnings": 1}
    for text in (f"{train / 'missing.mp4'}: file not found", f"{train / 'empty.mp4'}: empty file",
                 f"{train / 'folder.mp4'}: not a regular file", f"{train / 'truncated.mp4'}: does not open",
                 f"{root / ann}:9: label 'x' is not an integer",
                 f"{root / ann}:8: ok.mp4 is listed again (first on line 1)",
                 "is also in the train split"):
        assert text in result.stdout
    assert report["problems"] == 9 and "9 problem(s)" in result.stdout


def test_missing_dataset_is_a_usage_error_naming_the_folder(tmp_path):
    result, report = check(tmp_path / "nowhere", tmp_path / "report.json")
    assert result.returncode == 2 and report is None
    assert f"{tmp_path / 'nowhere' / K400} does not exist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.skipif(not (SHARED_DATA / K400).is_dir(),
                    reason=f"real clips not found at {SHARED_DATA / K400} (they live outside the repo)")
def test_real_kinetics400_tiny_is_clean(tmp_path):
    result, report = check(SHARED_DATA, tmp_path / "real.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(s["counts"]["ok"], s["counts"]["with_problems"]) for s in report["splits"].values()] == [(49, 0), (15, 0)]
    assert report["splits"]["train"]["stats"]["min_short_side"] == 256
