"""Kinetics (400/600/700) as distributed: `annotations/<split>.csv` with the header
`label,youtube_id,time_start,time_end,split[,is_cc]`, and the clips cut from YouTube as
`<split>/<youtube_id>_<time_start:06d>_<time_end:06d>.mp4`. Every copy lacks some videos
(deleted from YouTube before it was made): their rows are skipped and counted as warnings."""

import os
from pathlib import Path

from zelda.data.formats.base import DatasetFormat, Entry, Issue, SplitIndex, require
from zelda.data.formats.csvfile import Row, read_table

COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def seconds(text: str, column: str) -> int:
    """A whole number of seconds (`14` or `14.0`); raises ValueError naming the column."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():
        raise ValueError(f"{column} {text!r} is not a whole number of seconds")
    return int(value)


def video_name(values: dict[str, str]) -> str:
    """The file name of a row's clip."""
    start, end = seconds(values["time_start"], "time_start"), seconds(values["time_end"], "time_end")
    return f"{values['youtube_id']}_{start:06d}_{end:06d}.mp4"


class KineticsFormat(DatasetFormat):
    """Classes: the sorted label names of every split's CSV."""

    def source(self, split: str) -> Path:
        return self.root / "annotations" / f"{split}.csv"

    def video_dir(self, split: str) -> Path:
        return self.root / split

    def rows(self, split: str) -> tuple[list[Row], list[Issue]]:
        """The split's rows and bad rows."""
        require(self.root, "dataset folder")
        return read_table(require(self.source(split), "annotation file"), COLUMNS)

    def classes(self) -> list[str]:
        return sorted({row.values["label"] for split in self.splits for row in self.rows(split)[0]})

    def read(self, split: str) -> SplitIndex:
        self.require_split(split)
        classes = {name: index for index, name in enumerate(self.classes())}
        rows, problems = self.rows(split)
        folder = require(self.video_dir(split), "video folder")
        present = set(os.listdir(folder))  # one listing, not a stat per row: the train split has 240k rows
        file, entries, warnings = str(self.source(split)), [], []
        for row in rows:
            try:
                name = video_name(row.values)
            except ValueError as error:
                problems.append(Issue("annotation", file, row.line, str(error)))
                continue
            if name in present:
                entries.append(Entry(folder / name, classes[row.values["label"]], file, row.line))
            else:
                warnings.append(Issue("missing", file, row.line, f"{name} is not in {folder}: row skipped "
                                                                 "(deleted from YouTube before this copy was made?)"))
        return SplitIndex(entries, problems, warnings)
