"""`filename label` files, one per split (the kinetics400_tiny and MMAction2 layout); lines are
read by `zelda.data.annotations`, so files from any platform or spreadsheet read as they look."""

from collections.abc import Mapping
from pathlib import Path

from zelda.data.annotations import Annotation, find_video, parse_annotations
from zelda.data.formats.base import DatasetFormat, Entry, Issue, SplitIndex, read_names, require


class ListFormat(DatasetFormat):
    """`root/<files[split]>` lists the videos under `root/<video_dirs[split]>` (the root itself
    when absent). The classes are named by `root/<label_map>` when it exists (line i names
    label i); otherwise they are "0".."N-1", N = the largest label of any split + 1."""

    def __init__(self, root: str | Path | None, files: Mapping[str, str], video_dirs: Mapping[str, str] | None = None,
                 label_map: str | None = "label_map.txt", delimiter: str | None = None) -> None:
        super().__init__(root, tuple(files))
        self.files = {split: self.root / name for split, name in files.items()}
        self.video_dirs = {split: self.root / (video_dirs or {}).get(split, "") for split in files}
        self.label_map = self.root / label_map if label_map else None
        self.delimiter = delimiter

    def source(self, split: str) -> Path:
        return self.files[split]

    def video_dir(self, split: str) -> Path:
        return self.video_dirs[split]

    def names(self) -> list[str] | None:
        """The label map's names, or None without one."""
        return read_names(self.label_map) if self.label_map and self.label_map.is_file() else None

    def parse(self, split: str, num_classes: int | None) -> tuple[list[Annotation], list[tuple[int, str]]]:
        """The split's good lines, and `(line, what is wrong)` for the bad ones."""
        require(self.root, "dataset folder")
        return parse_annotations(require(self.files[split], "annotation file"), num_classes, self.delimiter)

    def classes(self) -> list[str]:
        names = self.names()
        if names is not None:
            return names
        labels = [annotation.label for split in self.splits for annotation in self.parse(split, None)[0]]
        return [str(label) for label in range(max(labels, default=-1) + 1)]

    def read(self, split: str) -> SplitIndex:
        self.require_split(split)
        names = self.names()
        annotations, bad = self.parse(split, len(names) if names is not None else None)
        file = str(self.files[split])
        entries = [Entry(find_video(self.video_dirs[split], a.filename), a.label, file, a.line) for a in annotations]
        return SplitIndex(entries, [Issue("annotation", file, line, text) for line, text in bad], [])
