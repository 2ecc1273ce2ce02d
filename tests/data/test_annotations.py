"""Annotation files: parsing, every bad line reported with its number, and files as other
platforms, editors and spreadsheets write them."""

import shutil
import unicodedata

import pytest
from helpers import make_video

from zelda.data.annotations import parse_annotations
from zelda.data.checks import check_split
from zelda.data.dataset import VideoDataset
from zelda.data.formats.listfile import ListFormat
from zelda.data.transforms import VideoDecode, VideoFormat, VideoInit, VideoPack, VideoSample
from zelda.errors import ZeldaError


def write(tmp_path, text):
    path = tmp_path / "ann.txt"
    path.write_text(text)
    return path


def test_parses_lines_and_skips_blank_and_comment_lines(tmp_path):
    path = write(tmp_path, "a.mp4 0\n\n# note\nmy video.mp4 1\n")
    annotations, problems = parse_annotations(path, num_classes=2)
    assert problems == []
    assert [(a.filename, a.label, a.line) for a in annotations] == [("a.mp4", 0, 1), ("my video.mp4", 1, 4)]


def list_dataset(tmp_path, text):
    """A train split listed by `text`, read as training reads it."""
    write(tmp_path, text)
    return VideoDataset(ListFormat(tmp_path, {"train": "ann.txt"}, label_map=None), "train", pipeline=[])


def test_every_bad_line_is_listed_with_file_and_line(tmp_path):
    (tmp_path / "label_map.txt").write_text("a\nb\n")
    with pytest.raises(ZeldaError) as error:
        VideoDataset(ListFormat(tmp_path, {"train": write(tmp_path, "ok.mp4 0\nmissing.mp4\nbad.mp4 x\nbig.mp4 2\n"
                                                         "neg.mp4 -1\n").name}), "train", pipeline=[])
    message, path = str(error.value), tmp_path / "ann.txt"
    assert "4 bad line(s)" in message
    assert f"{path}:2: expected 'filename label'" in message
    assert f"{path}:3: label 'x' is not an integer" in message
    assert f"{path}:4: label 2 is out of range [0, 2)" in message
    assert f"{path}:5: label -1 is out of range" in message


def test_missing_or_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ZeldaError, match="annotation file .*nope.txt does not exist"):
        VideoDataset(ListFormat(tmp_path, {"train": "nope.txt"}, label_map=None), "train", pipeline=[])
    with pytest.raises(ZeldaError, match="has no videos"):
        list_dataset(tmp_path, "\n\n")


# Files as real users produce them ---------------------------------------------------------------

NAMES = ["plain.mp4", "my video.mp4", "café ☕.mp4", "naïve, copy.mp4", "tab.mp4"]  # on disk, as written here
EXPECTED = [(name, index % 2) for index, name in enumerate(NAMES)]
QUOTED = ['"' + name + '"' if "," in name else name for name in NAMES]  # how spreadsheets write such names
FILES = {  # name -> (bytes of the file, the videos it lists)
    # Windows Notepad: UTF-8 with BOM, CRLF, a tab, trailing spaces, a non-breaking space, no final newline
    "notepad_bom_crlf.txt": ("\ufeffplain.mp4 0\r\nmy video.mp4\t1   \r\ncafé ☕.mp4\xa00\r\n"
                             "  naïve, copy.mp4 1 \r\n\r\ntab.mp4\t\t0\t".encode(), EXPECTED),
    # Excel "Unicode text": UTF-16 with BOM, tab-separated, quotes around a name with a comma
    "excel_unicode.txt": ("".join(f"{q}\t{label}\r\n" for q, (_, label) in zip(QUOTED, EXPECTED)).encode("utf-16"),
                          EXPECTED),
    # a spreadsheet's CSV: comma-separated, quoted where needed
    "sheet.csv": ("".join(f"{q},{label}\n" for q, (_, label) in zip(QUOTED, EXPECTED)).encode(), EXPECTED),
    # an old Windows editor's "ANSI" (Windows-1252), classic Mac CR line ends
    "ansi_cr.txt": ("plain.mp4 0\rcafé.mp4 0\r".encode("cp1252"), [("plain.mp4", 0), ("café.mp4", 0)]),
    # two files joined with cat: the second one's BOM mid-file; a zero-width space before the label
    "joined.txt": ("\ufeffplain.mp4 0\n\ufefftab.mp4\u200b 0\n".encode(), [("plain.mp4", 0), ("tab.mp4", 0)]),
    # written on macOS (decomposed é), read where the file's name is composed; a Windows path
    "other_platforms.txt": (f"{unicodedata.normalize('NFD', 'café.mp4')} 0\nsub\\clip.mp4 1\n".encode(),
                            [(unicodedata.normalize("NFD", "café.mp4"), 0), ("sub\\clip.mp4", 1)]),
}


@pytest.fixture(scope="module")
def user_files(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("user_files")
    videos = root / "videos"
    (videos / "sub").mkdir(parents=True)
    make_video(videos / "plain.mp4", num_frames=4)
    for name in [*NAMES[1:], "café.mp4", "sub/clip.mp4"]:
        shutil.copyfile(videos / "plain.mp4", videos / name)
    for name, (data, _) in FILES.items():
        (root / name).write_bytes(data)
    return root


def listed(root, name) -> ListFormat:
    """The annotation file `name` as the train split of a dataset, videos under `videos/`."""
    return ListFormat(root, files={"train": name}, video_dirs={"train": "videos"})


@pytest.mark.parametrize("name", list(FILES))
def test_every_line_naming_a_video_on_disk_loads(user_files, name):
    pipeline = [VideoInit(), VideoSample(2, test_mode=True), VideoDecode(), VideoFormat(), VideoPack()]
    dataset = VideoDataset(listed(user_files, name), "train", pipeline)
    assert [entry.label for entry in dataset.entries] == [label for _, label in FILES[name][1]]
    assert all(entry.path.is_file() for entry in dataset.entries)  # each written name found on disk
    for index in range(len(dataset)):
        assert dataset[index]["inputs"].shape == (1, 3, 2, 48, 64)


@pytest.mark.parametrize("name", list(FILES))
def test_zelda_check_reads_the_same_lines_and_finds_the_same_videos(user_files, name):
    index = listed(user_files, name)
    entries, problems, _ = index.read("train")
    assert problems == [] and [e.line for e in entries] == [a.line for a in parse_annotations(user_files / name, 2)[0]]
    report = check_split(index, "train", index.classes(), clip_len=2, deep=False)
    assert report["problems"] == [] and all(video["ok"] for video in report["videos"])
