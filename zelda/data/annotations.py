"""Annotation files: one `filename label` line per video.

The label is split off the right, so filenames may contain spaces. Blank lines
and lines starting with `#` are skipped. Every bad line is reported at once, as
`file:line: what is wrong`, before any video is touched.
"""

from dataclasses import dataclass
from pathlib import Path

from zelda.errors import ZeldaError


@dataclass(frozen=True)
class Annotation:
    """One video of an annotation file, with the line it came from."""

    filename: str
    label: int
    line: int


def parse_line(text: str, num_classes: int | None) -> tuple[str, int]:
    """Parse one `filename label` line; raises ValueError saying what is wrong."""
    parts = text.strip().rsplit(None, 1)
    if len(parts) < 2:
        raise ValueError(f"expected 'filename label', got {text.strip()!r} (missing label?)")
    filename, label_text = parts
    try:
        label = int(label_text)
    except ValueError:
        raise ValueError(f"label {label_text!r} is not an integer") from None
    if label < 0 or (num_classes is not None and label >= num_classes):
        allowed = f"[0, {num_classes})" if num_classes is not None else ">= 0"
        raise ValueError(f"label {label} is out of range {allowed} (data.num_classes={num_classes})")
    return filename, label


def read_annotations(path: str | Path, num_classes: int | None = None) -> list[Annotation]:
    """Read an annotation file; raises ZeldaError listing every bad line."""
    path = Path(path)
    if not path.is_file():
        raise ZeldaError(f"annotation file not found: {path}")
    annotations, problems = [], []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            filename, label = parse_line(text, num_classes)
        except ValueError as error:
            problems.append(f"{path}:{number}: {error}")
            continue
        annotations.append(Annotation(filename, label, number))
    if problems:
        raise ZeldaError(f"{len(problems)} bad line(s) in {path}:\n" + "\n".join(problems))
    if not annotations:
        raise ZeldaError(f"annotation file {path} lists no videos")
    return annotations
