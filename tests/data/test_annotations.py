"""Annotation files: parsing, every bad line reported with its number."""

import pytest

from zelda.data.annotations import read_annotations
from zelda.errors import ZeldaError


def write(tmp_path, text):
    path = tmp_path / "ann.txt"
    path.write_text(text)
    return path


def test_parses_lines_and_skips_blank_and_comment_lines(tmp_path):
    path = write(tmp_path, "a.mp4 0\n\n# note\nmy video.mp4 1\n")
    annotations = read_annotations(path, num_classes=2)
    assert [(a.filename, a.label, a.line) for a in annotations] == [("a.mp4", 0, 1), ("my video.mp4", 1, 4)]


def test_every_bad_line_is_listed_with_file_and_line(tmp_path):
    path = write(tmp_path, "ok.mp4 0\nmissing.mp4\nbad.mp4 x\nbig.mp4 2\nneg.mp4 -1\n")
    with pytest.raises(ZeldaError) as error:
        read_annotations(path, num_classes=2)
    message = str(error.value)
    assert "4 bad line(s)" in message
    assert f"{path}:2: expected 'filename label'" in message
    assert f"{path}:3: label 'x' is not an integer" in message
    assert f"{path}:4: label 2 is out of range [0, 2)" in message
    assert f"{path}:5: label -1 is out of range" in message


def test_missing_or_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ZeldaError, match="annotation file not found: .*nope.txt"):
        read_annotations(tmp_path / "nope.txt")
    with pytest.raises(ZeldaError, match="lists no videos"):
        read_annotations(write(tmp_path, "\n\n"))
