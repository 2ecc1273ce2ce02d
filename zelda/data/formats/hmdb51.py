"""HMDB51 with its official split files, as they are: `<class>_test_split<N>.txt` per class and
fold, a `<video name> <tag>` line per video, tag 1 train, 2 test (the val split), 0 unused."""

from pathlib import Path

from zelda.data.annotations import annotation_lines, find_video
from zelda.data.formats.base import Entry, FoldFormat, Issue, SplitIndex, require
from zelda.errors import ZeldaError

TAGS = {"train": "1", "val": "2"}


class Hmdb51Format(FoldFormat):
    """Videos under `root/<class>/`; split files in `split_dir`; `fold` 1, 2 or 3. Classes: the
    names of the fold's split files, sorted."""

    def __init__(self, root: str | Path | None, split_dir: str | Path | None, fold: int = 1) -> None:
        super().__init__(root, split_dir, fold, tuple(TAGS), "HMDB51",
                         "<class>_test_split<N>.txt files (testTrainMulti_7030_splits)")

    def source(self, split: str) -> Path:
        return self.split_dir

    def split_files(self) -> dict[str, Path]:
        """Each class's split file of this fold, by class name, sorted."""
        suffix = f"_test_split{self.fold}.txt"
        paths = sorted(require(self.split_dir, "HMDB51 split folder", "data.split_dir").glob(f"*{suffix}"))
        if not paths:
            raise ZeldaError(f"{self.split_dir} holds no *{suffix} file: point data.split_dir at the folder of "
                             f"HMDB51's split files (testTrainMulti_7030_splits)")
        return {path.name[: -len(suffix)]: path for path in paths}

    def classes(self) -> list[str]:
        return list(self.split_files())

    def read(self, split: str) -> SplitIndex:
        self.require_split(split)
        require(self.root, "HMDB51 video folder")
        entries, problems = [], []
        for label, (name, path) in enumerate(self.split_files().items()):
            for line, text in annotation_lines(path):
                parts = text.rsplit(None, 1)
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    problems.append(Issue("annotation", str(path), line, f"expected '<video> <tag>', tag 0 (unused), "
                                                                         f"1 (train) or 2 (test: val), got {text!r}"))
                elif parts[1] == TAGS[split]:
                    entries.append(Entry(find_video(self.root / name, parts[0]), label, str(path), line))
        return SplitIndex(entries, problems, [])
