"""Dataset formats as researchers have them: a miniature of each official layout, built here from
tiny generated videos with the official file names and line formats, is checked by zelda.check,
trains an epoch, and carries its class names into the run; bad lines are named by file:line."""

import csv
import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import make_video, run_cli
from hydra.utils import instantiate

from zelda.check import main as check_main
from zelda.config.compose import compose_config
from zelda.data.formats.listfile import ListFormat
from zelda.data.formats.ucf101 import Ucf101Format
from zelda.errors import ZeldaError, user_error
from zelda.train import train

TINY = ["logger=none", "pipeline.resize=32", "pipeline.crop_size=32", "pipeline.clip_len=4", "pipeline.val_num_clips=1",
        "trainer.max_epochs=1", "trainer.progress_bar=false", "data.num_workers=0", "data.batch_size=2",
        "data.val_cache_mb=0"]
UCF = ["ApplyEyeMakeup", "ApplyLipstick", "HandstandPushups"]


def copy(source: Path, path: Path) -> Path:
    """A copy of a tiny video at `path` (decoders go by content, so `.avi` names hold mp4 data too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return path


def lines(path: Path, rows: list[str], end: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{row}{end}" for row in rows))


def make_list(root: Path, video: Path) -> list[str]:
    """kinetics400_tiny's layout: `filename label` files, a label map, a name with a space."""
    dataset = root / "kinetics400_tiny"
    for split, names in (("train", ["a.mp4", "my clip.mp4", "c.mp4", "d.mp4"]), ("val", ["e.mp4", "f.mp4"])):
        for name in names:
            copy(video, dataset / split / name)
        lines(dataset / f"kinetics_tiny_{split}_video.txt", [f"{name} {i % 2}" for i, name in enumerate(names)])
    lines(dataset / "label_map.txt", ["climbing rope", "blowing glass"])
    return ["data=k400_tiny", f"paths.data_dir={root}"]


def make_csv(root: Path, video: Path) -> list[str]:
    """CSV files with a header, extra columns, quoted values and class names as labels; a class
    ("jump") only in val still gets its index from the sorted names of both files."""
    for name in ("a", "b", "c", "d", "e", "f"):
        copy(video, root / "clips" / f"{name}.mp4")
    (root / "train.csv").write_text('path,label,note\nclips/a.mp4,walk,\nclips/b.mp4,run,"fast, then slow"\n'
                                    "clips/c.mp4,walk,x\nclips/d.mp4,run,y\n")
    (root / "val.csv").write_text("label,path\nrun,clips/e.mp4\njump,clips/f.mp4\n")  # other column order
    return ["data=csv", f"data.root={root}", "data.train_file=train.csv", "data.val_file=val.csv"]


def make_folder(root: Path, video: Path) -> list[str]:
    """A folder per class, any case of extension, a stray note and a hidden macOS file."""
    for split, names in (("train", ["run/a.mp4", "run/b.MP4", "walk/c.mkv", "walk/d.mp4"]),
                         ("val", ["run/e.mp4", "walk/f.avi"])):
        for name in names:
            copy(video, root / split / name)
    (root / "train" / "walk" / "notes.txt").write_text("filmed on a Tuesday\n")
    (root / "train" / "walk" / "._d.mp4").write_bytes(b"\x00\x05\x16\x07")  # AppleDouble metadata, not a video
    return ["data=folder", f"data.root={root}"]


def make_kinetics(root: Path, video: Path) -> list[str]:
    """Kinetics as distributed: annotations/<split>.csv, clips named by YouTube id and zero-padded
    times; one val row's video is gone, as in every real copy."""
    header = "label,youtube_id,time_start,time_end,split,is_cc"
    rows = {"train": [("abseiling", "--Ff9f3bWnI", 14, 24), ("air drumming", "-0wC_2ulxS4", 0, 10),
                      ("abseiling", "3E7Jib8Yq5M", 105, 115), ("air drumming", "9_Wb8AQY0qQ", 1, 11)],
            "val": [("abseiling", "0wR5jVB-WPk", 417, 427), ("air drumming", "Kq8YHfiNsEo", 2, 12),
                    ("abseiling", "gone-video1", 30, 40)]}
    for split, split_rows in rows.items():
        lines(root / "annotations" / f"{split}.csv", [header, *(f"{label},{youtube_id},{start},{end},{split},0"
                                                                for label, youtube_id, start, end in split_rows)])
        for _, youtube_id, start, end in split_rows:
            if youtube_id != "gone-video1":
                copy(video, root / split / f"{youtube_id}_{start:06d}_{end:06d}.mp4")
    return ["data=kinetics", f"data.root={root}"]


def make_ucf101(root: Path, video: Path) -> list[str]:
    """UCF101's official files, CRLF line ends and all: classInd.txt numbered from 1, a train list with
    labels, a test list without; the HandstandPushups folder holds v_HandStandPushups_* files."""
    files = {name: [f"{name}/v_{name.replace('Handstand', 'HandStand')}_g{g:02d}_c01.avi" for g in (1, 8, 9)]
             for name in UCF}
    for name in (n for group in files.values() for n in group):
        copy(video, root / "UCF-101" / name)
    splits = root / "ucfTrainTestlist"
    lines(splits / "classInd.txt", [f"{i} {name}" for i, name in enumerate(UCF, start=1)], end="\r\n")
    lines(splits / "trainlist01.txt", [f"{n} {i}" for i, name in enumerate(UCF, 1) for n in files[name][1:]], "\r\n")
    lines(splits / "testlist01.txt", [files[name][0] for name in UCF], end="\r\n")
    return ["data=ucf101", f"data.root={root / 'UCF-101'}", f"data.split_dir={splits}", "data.fold=1"]


def make_hmdb51(root: Path, video: Path) -> list[str]:
    """HMDB51's official split files: `<class>_test_split<N>.txt`, `<video> <tag> ` lines (tag 1 train,
    2 test, 0 unused); fold 2's files are there too and must not be read for fold 1."""
    splits = root / "testTrainMulti_7030_splits"
    for name in ("brush_hair", "cartwheel"):
        videos = [f"April_09_{name}_u_nm_np1_ba_goo_{i}.avi" for i in range(5)]
        for file in videos:
            copy(video, root / "hmdb51" / name / file)
        for fold, tags in ((1, "11220"), (2, "21102")):
            lines(splits / f"{name}_test_split{fold}.txt", [f"{file} {tag} " for file, tag in zip(videos, tags)])
    return ["data=hmdb51", f"data.root={root / 'hmdb51'}", f"data.split_dir={splits}", "data.fold=1"]


# format -> (builder, its classes, train videos, val videos)
FORMATS = {
    "k400_tiny": (make_list, ["climbing rope", "blowing glass"], 4, 2),
    "csv": (make_csv, ["jump", "run", "walk"], 4, 2),
    "folder": (make_folder, ["run", "walk"], 4, 2),
    "kinetics": (make_kinetics, ["abseiling", "air drumming"], 4, 2),
    "ucf101": (make_ucf101, UCF, 6, 3),
    "hmdb51": (make_hmdb51, ["brush_hair", "cartwheel"], 4, 4),
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every format's miniature; its overrides by format name."""
    root = tmp_path_factory.mktemp("formats")
    video = make_video(root / "source.mp4", num_frames=8, height=32, width=40)
    return {name: build(root / name, video) for name, (build, *_) in FORMATS.items()}


def config(overrides: list[str], *more: str):
    return compose_config([*overrides, *TINY, *more])


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_reads_its_classes_and_splits(datasets, name):
    _, classes, num_train, num_val = FORMATS[name]
    cfg = config(datasets[name])
    assert list(cfg.data.classes) == classes and cfg.data.num_classes == cfg.model.head.num_classes == len(classes)
    index = instantiate(cfg.data.index)
    for split, count in (("train", num_train), ("val", num_val)):
        entries, problems, _ = index.read(split)
        assert problems == [] and len(entries) == count
        assert all(entry.path.is_absolute() and entry.path.is_file() for entry in entries)
        assert all(0 <= entry.label < len(classes) for entry in entries)


def test_labels_follow_each_format_rule(datasets):
    """Class names, folders and official label columns each give the class the layout means."""
    def labels(name: str, split: str) -> dict[str, str]:
        cfg = config(datasets[name])
        return {entry.path.name: cfg.data.classes[entry.label] for entry in instantiate(cfg.data.index).read(split)[0]}

    assert labels("csv", "val") == {"e.mp4": "run", "f.mp4": "jump"}
    assert labels("folder", "train") == {"a.mp4": "run", "b.MP4": "run", "c.mkv": "walk", "d.mp4": "walk"}
    assert labels("ucf101", "val") == {f"v_{n.replace('Handstand', 'HandStand')}_g01_c01.avi": n for n in UCF}
    assert labels("hmdb51", "val") == {"April_09_brush_hair_u_nm_np1_ba_goo_2.avi": "brush_hair",
                                       "April_09_brush_hair_u_nm_np1_ba_goo_3.avi": "brush_hair",
                                       "April_09_cartwheel_u_nm_np1_ba_goo_2.avi": "cartwheel",
                                       "April_09_cartwheel_u_nm_np1_ba_goo_3.avi": "cartwheel"}
    assert labels("kinetics", "train")["-0wC_2ulxS4_000000_000010.mp4"] == "air drumming"


@pytest.mark.parametrize("name", list(FORMATS))
def test_zelda_check_passes_and_names_the_classes(datasets, name, tmp_path, capsys):
    _, classes, num_train, num_val = FORMATS[name]
    assert check_main([*datasets[name], "--json", str(tmp_path / "report.json")]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert all(f"  {label} {class_name}: " in out for label, class_name in enumerate(classes)), out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["classes"] == classes and report["problems"] == 0
    assert [split["counts"]["ok"] for split in report["splits"].values()] == [num_train, num_val]


def test_folder_format_ignores_what_is_not_a_video_with_a_warning(datasets, tmp_path, capsys):
    assert check_main([*datasets["folder"], "--json", str(tmp_path / "report.json")]) == 0
    warnings = json.loads((tmp_path / "report.json").read_text())["splits"]["train"]["warnings"]
    assert sorted(Path(w["file"]).name for w in warnings if w["kind"] == "ignored") == ["._d.mp4", "notes.txt"]


def test_kinetics_rows_without_their_video_are_counted_not_fatal(datasets, tmp_path, capsys, caplog):
    assert check_main([*datasets["kinetics"], "--json", str(tmp_path / "report.json")]) == 0
    out = capsys.readouterr().out
    [missing] = [w for w in json.loads((tmp_path / "report.json").read_text())["splits"]["val"]["warnings"]
                 if w["kind"] == "missing"]
    assert missing["file"].endswith("annotations/val.csv") and missing["line"] == 4
    assert f"{missing['file']}:4: gone-video1_000030_000040.mp4 is not in" in out
    with caplog.at_level(logging.WARNING):
        dataset = instantiate(config(datasets["kinetics"]).data.val)
    assert len(dataset) == 2 and "val split: 1 missing warning(s)" in caplog.text and "gone-video1" in caplog.text


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_trains_an_epoch_and_its_run_carries_the_class_names(datasets, name, tmp_path):
    _, classes, _, num_val = FORMATS[name]
    summary = train(config(datasets[name]), tmp_path)
    assert summary["epochs"] == 1
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["data"]["classes"] == classes
    assert saved["data"]["num_classes"] == saved["model"]["head"]["num_classes"] == len(classes)
    with (tmp_path / "predictions_final.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == num_val and {row["label"] for row in rows} <= set(classes)
    assert {row["pred1"] for row in rows} <= set(classes)


# A bad line of each line-based format: (file to edit, line to append, the file:line expected)
BAD_LINES = {
    "k400_tiny": ("kinetics400_tiny/kinetics_tiny_train_video.txt", "x.mp4 7", 5, "label 7 is out of range [0, 2)"),
    "csv": ("train.csv", "clips/x.mp4,", 6, "no label"),
    "kinetics": ("annotations/train.csv", "abseiling,xyz,1.5,11.5,train,0", 6, "time_start '1.5' is not a whole"),
    "ucf101": ("ucfTrainTestlist/trainlist01.txt", "Archery/v_Archery_g01_c01.avi 4", 7,
               "a class of classInd.txt, got 'Archery/v_Archery_g01_c01.avi'"),
    "hmdb51": ("testTrainMulti_7030_splits/cartwheel_test_split1.txt", "April_09_cartwheel_x.avi 3", 6,
               "tag 0 (unused), 1 (train) or 2 (test: val)"),
}


@pytest.mark.parametrize("name", list(BAD_LINES))
def test_a_bad_line_is_named_by_file_and_line_in_check_and_training(datasets, name, tmp_path, capsys):
    relative, line, number, message = BAD_LINES[name]
    original = Path(next(o.split("=", 1)[1] for o in datasets[name] if o.startswith(("data.root=", "paths.data_dir="))))
    root = original if name not in ("ucf101", "hmdb51") else original.parent
    copied = tmp_path / "copy"
    shutil.copytree(root, copied)
    overrides = [o.replace(str(root), str(copied)) for o in datasets[name]]
    bad = copied / relative
    bad.write_text(bad.read_text() + line + "\n")
    assert check_main(overrides) == 1
    assert f"{bad}:{number}: " in capsys.readouterr().out
    (tmp_path / "run").mkdir()  # as Hydra makes it
    with pytest.raises(Exception) as error:
        train(config(overrides), tmp_path / "run")
    reason = str(user_error(error.value))
    assert f"{bad}:{number}: " in reason and message in reason, reason


def test_a_dataset_that_is_not_there_names_the_key_and_the_fix(tmp_path):
    cfg = config(["data=folder", f"data.root={tmp_path / 'nowhere'}"])
    with pytest.raises(Exception) as error:
        instantiate(cfg.model)  # its head has an output per class of the data
    reason = str(user_error(error.value))
    assert reason.startswith("data.classes is read from the dataset") and f"{tmp_path / 'nowhere'}" in reason
    assert "point data.root at the right folder" in reason
    with pytest.raises(Exception) as error:
        list(config(["data=folder"]).data.classes)
    assert "data.root is not set: add data.root=DIR" in str(user_error(error.value))


def test_list_files_take_a_delimiter_and_number_classes_without_a_label_map(tmp_path):
    (tmp_path / "train.txt").write_text("clip, take 1.mp4;2\nb c.mp4 ;0\n")
    index = ListFormat(tmp_path, files={"train": "train.txt"}, delimiter=";")
    entries, problems, _ = index.read("train")
    assert problems == [] and [(e.path.name, e.label) for e in entries] == [("clip, take 1.mp4", 2), ("b c.mp4", 0)]
    assert index.classes() == ["0", "1", "2"]  # no label_map.txt: the largest label + 1
    (tmp_path / "train.txt").write_text("no-delimiter.mp4 0\n")
    [problem] = index.read("train").problems
    assert str(problem) == f"{tmp_path / 'train.txt'}:1: expected a filename and a label separated by ';', " \
                           "got 'no-delimiter.mp4 0' (missing label?)"


def test_the_cli_trains_a_format_and_records_its_classes(datasets, tmp_path):
    """The entry point itself (a fresh process registers the resolvers as every entry point does)."""
    run_dir = tmp_path / "run"
    result = run_cli("zelda.train", *datasets["ucf101"], *TINY, f"hydra.run.dir={run_dir}", timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["classes"] == UCF


def test_a_missing_class_index_file_is_a_usage_error(datasets, tmp_path, capsys):
    overrides = [*datasets["ucf101"][:2], f"data.split_dir={tmp_path}"]
    assert check_main(overrides) == 2
    assert f"The UCF101 class index {tmp_path / 'classInd.txt'} does not exist" in capsys.readouterr().err
    with pytest.raises(ZeldaError, match="UCF101's splits are folds 1, 2 and 3"):
        Ucf101Format(tmp_path, tmp_path, fold=4)
