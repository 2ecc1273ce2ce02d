"""Annotation files: one `filename label` line per video.

The label is split off the right at the last run of whitespace or a comma (or at the last
`delimiter`, when one is given), so filenames may contain spaces, and files from other
platforms, editors and spreadsheets read as they look: UTF-8 (with or without a BOM),
UTF-16 with a BOM (Excel's "Unicode text"), else Windows-1252; any line ends; tabs,
non-breaking spaces, zero-width characters and trailing whitespace; CSV quotes around a
filename. Blank lines and lines starting with `#` are skipped. Every bad line is reported
at once, as `file:line: what is wrong` (by the dataset format that reads the file:
`zelda.data.formats.listfile`), before any video is touched.
"""

import codecs
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)
BLANK = "\\s\ufeff\u200b\u200c\u200d\u2060"  # regex class: whitespace (NBSP too), BOM, zero-width characters
EDGES = re.compile(f"^[{BLANK}]+|[{BLANK}]+$")
LINE = re.compile(f"(?P<filename>.+?)[{BLANK},]+(?P<label>[^{BLANK},]+)")


@dataclass(frozen=True)
class Annotation:
    """One video of an annotation file, with the line it came from."""

    filename: str
    label: int
    line: int


def decode(data: bytes, path: Path) -> str:
    """The text of an annotation file, in whichever encoding its tool wrote it."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8; reading it as Windows-1252", path)
        return data.decode("cp1252", errors="replace")


def annotation_lines(path: Path) -> Iterator[tuple[int, str]]:
    """`(line number, text)` of every line that is neither blank nor a `#` comment."""
    for number, text in enumerate(decode(path.read_bytes(), path).splitlines(), start=1):
        text = EDGES.sub("", text)
        if text and not text.startswith("#"):
            yield number, text


def split_line(text: str, delimiter: str | None) -> tuple[str, str]:
    """`(filename, label text)` of a line; raises ValueError when it has no label."""
    text = EDGES.sub("", text)
    if delimiter is None:
        match = LINE.fullmatch(text)
        parts = (match["filename"], match["label"]) if match else None
        expected = "'filename label'"
    else:
        filename, found, label = text.rpartition(delimiter)
        parts = (EDGES.sub("", filename), EDGES.sub("", label)) if found else None
        expected = f"a filename and a label separated by {delimiter!r}"
    if parts is None or not all(parts):
        raise ValueError(f"expected {expected}, got {text!r} (missing label?)")
    return parts


def parse_line(text: str, num_classes: int | None, delimiter: str | None = None) -> tuple[str, int]:
    """Parse one `filename label` line; raises ValueError saying what is wrong."""
    filename, label_text = split_line(text, delimiter)
    if len(filename) > 1 and filename[0] == filename[-1] == '"':  # a spreadsheet quoted it
        filename = filename[1:-1].replace('""', '"')
    try:
        label = int(label_text)
    except ValueError:
        raise ValueError(f"label {label_text!r} is not an integer") from None
    if label < 0 or (num_classes is not None and label >= num_classes):
        allowed = f"[0, {num_classes}): the label map names {num_classes} classes" if num_classes is not None else ">= 0"
        raise ValueError(f"label {label} is out of range {allowed}")
    return filename, label


def find_video(video_dir: Path, filename: str) -> Path:
    """Where `filename` lives under `video_dir`: as written, else as another platform spells it
    (Unicode composed or decomposed, as macOS writes names; Windows backslashes) where only that exists."""
    written = video_dir / filename
    if written.exists():
        return written
    for name in (filename, filename.replace("\\", "/")):
        for form in ("NFC", "NFD"):
            if (video_dir / unicodedata.normalize(form, name)).exists():
                return video_dir / unicodedata.normalize(form, name)
    return written


def parse_annotations(path: Path, num_classes: int | None = None,
                      delimiter: str | None = None) -> tuple[list[Annotation], list[tuple[int, str]]]:
    """Every good line of an annotation file, and `(line number, what is wrong)` for every bad one."""
    annotations, problems = [], []
    for number, text in annotation_lines(path):
        try:
            filename, label = parse_line(text, num_classes, delimiter)
        except ValueError as error:
            problems.append((number, str(error)))
            continue
        annotations.append(Annotation(filename, label, number))
    return annotations, problems

