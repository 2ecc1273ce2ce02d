"""CSV files with a header: a row per video, found by its `path` and `label` columns (other
columns are ignored), the label a class index or a class name."""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zelda.data.annotations import EDGES, decode, find_video
from zelda.data.formats.base import DatasetFormat, Entry, Issue, SplitIndex, read_names, require


@dataclass(frozen=True)
class Row:
    """The values of the wanted columns of one data row, and its line."""

    line: int
    values: dict[str, str]


def read_table(path: Path, columns: tuple[str, ...], delimiter: str = ",") -> tuple[list[Row], list[Issue]]:
    """The rows of a CSV file whose header holds `columns` (any case, any order, among others),
    in whichever encoding its tool wrote it; a row without one of their values is a problem."""
    reader = csv.reader(io.StringIO(decode(path.read_bytes(), path), newline=""), delimiter=delimiter)
    header: dict[str, int] | None = None
    rows, problems = [], []
    for record in reader:
        cells = [EDGES.sub("", cell) for cell in record]
        if not any(cells):
            continue
        if header is None:
            header = {name.lower(): index for index, name in reversed(list(enumerate(cells)))}
            if missing := [column for column in columns if column.lower() not in header]:
                shown = ", ".join(cells)
                return [], [Issue("annotation", str(path), reader.line_num,
                                  f"the header ({shown}) has no {' and no '.join(missing)} column: name the columns "
                                  f"{', '.join(columns)} in the first row (delimiter {delimiter!r})")]
            continue
        values = {column: cells[header[column.lower()]] if header[column.lower()] < len(cells) else ""
                  for column in columns}
        if empty := [column for column, value in values.items() if not value]:
            problems.append(Issue("annotation", str(path), reader.line_num,
                                  f"no {' and no '.join(empty)} ({len(cells)} values, delimiter {delimiter!r})"))
            continue
        rows.append(Row(reader.line_num, values))
    if header is None:
        problems.append(Issue("annotation", str(path), None, f"empty: expected a header naming {', '.join(columns)}"))
    return rows, problems


def as_index(text: str) -> int | None:
    """The integer `text` spells, or None."""
    try:
        return int(text)
    except ValueError:
        return None


class CsvFormat(DatasetFormat):
    """`root/<files[split]>` per split; `path` is relative to `root` (or absolute). Classes: the
    order of `label_map` (a name per line) when given, else the sorted names the labels use,
    else "0".."N-1" when every label is an index (N = the largest + 1)."""

    def __init__(self, root: str | Path | None, files: Mapping[str, str], label_map: str | None = None,
                 delimiter: str = ",", path_column: str = "path", label_column: str = "label") -> None:
        super().__init__(root, tuple(files))
        self.files = {split: self.root / name for split, name in files.items()}
        self.label_map = self.root / label_map if label_map else None
        self.delimiter = delimiter
        self.path_column, self.label_column = path_column, label_column

    def source(self, split: str) -> Path:
        return self.files[split]

    def rows(self, split: str) -> tuple[list[Row], list[Issue]]:
        """The split's rows and bad rows."""
        require(self.root, "dataset folder")
        return read_table(require(self.files[split], "CSV file"), (self.path_column, self.label_column), self.delimiter)

    def classes(self) -> list[str]:
        if self.label_map:
            return read_names(require(self.label_map, "label map", "data.label_map"))
        labels = {row.values[self.label_column] for split in self.splits for row in self.rows(split)[0]}
        if names := sorted(label for label in labels if as_index(label) is None):
            return names
        return [str(index) for index in range(max((as_index(label) for label in labels), default=-1) + 1)]

    def label(self, text: str, classes: dict[str, int], by_index: bool) -> int:
        """The class index of a label; raises ValueError saying what is wrong."""
        if text in classes:
            return classes[text]
        index = as_index(text)
        if index is None:
            raise ValueError(f"label {text!r} is not a class of {self.label_map}")
        if not by_index:
            raise ValueError(f"label {text!r} is a number, but the other labels name their class: name it, or give "
                             f"data.label_map (a file naming class i on line i) to number the classes")
        if not 0 <= index < len(classes):
            raise ValueError(f"label {index} is out of range [0, {len(classes)})")
        return index

    def read(self, split: str) -> SplitIndex:
        self.require_split(split)
        names = self.classes()
        classes = {name: index for index, name in enumerate(names)}
        by_index = self.label_map is not None or names == [str(index) for index in range(len(names))]
        rows, problems = self.rows(split)
        file, entries = str(self.files[split]), []
        for row in rows:
            try:
                label = self.label(row.values[self.label_column], classes, by_index)
            except ValueError as error:
                problems.append(Issue("annotation", file, row.line, str(error)))
                continue
            entries.append(Entry(find_video(self.root, row.values[self.path_column]), label, file, row.line))
        return SplitIndex(entries, problems, [])
