"""UCF101 with its official split files, as they are: `classInd.txt` (`1 ApplyEyeMakeup`,
numbered from 1), `trainlist0N.txt` (`ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1`) and
`testlist0N.txt` (the video alone: its folder names the class). The test list is the val split."""

from pathlib import Path

from zelda.data.annotations import annotation_lines, find_video, parse_line
from zelda.data.formats.base import Entry, FoldFormat, Issue, SplitIndex, require
from zelda.errors import ZeldaError

LISTS = {"train": "trainlist", "val": "testlist"}


class Ucf101Format(FoldFormat):
    """Videos under `root/<Class>/`; split files in `split_dir`; `fold` 1, 2 or 3."""

    def __init__(self, root: str | Path | None, split_dir: str | Path | None, fold: int = 1) -> None:
        super().__init__(root, split_dir, fold, tuple(LISTS), "UCF101", "split files (ucfTrainTestlist, holding classInd.txt)")

    def source(self, split: str) -> Path:
        return self.split_dir / f"{LISTS[split]}{self.fold:02d}.txt"

    def classes(self) -> list[str]:
        path = require(self.split_dir / "classInd.txt", "UCF101 class index", "data.split_dir")
        names, problems = [], []
        for line, text in annotation_lines(path):
            parts = text.split(None, 1)
            if len(parts) != 2 or parts[0] != str(len(names) + 1):
                problems.append(f"{path}:{line}: expected '{len(names) + 1} <class name>', got {text!r}")
                continue
            names.append(parts[1])
        if problems:
            raise ZeldaError(f"{len(problems)} bad line(s) in {path}:\n" + "\n".join(problems))
        return names

    @staticmethod
    def entry(text: str, split: str, classes: list[str]) -> tuple[str, int]:
        """A line's video and class index (its folder's class, matched in any case, as the official
        files spell some names differently); raises ValueError saying what is wrong."""
        name, label = parse_line(text, None) if split == "train" else (text, None)
        folder, slash, _ = name.replace("\\", "/").partition("/")
        index = next((i for i, class_name in enumerate(classes) if class_name.lower() == folder.lower()), None)
        if index is None or not slash:
            raise ValueError(f"expected '<Class>/<video>' with a class of classInd.txt, got {name!r}")
        if label is not None and label - 1 != index:
            raise ValueError(f"label {label} is {classes[label - 1] if 0 < label <= len(classes) else 'no class'} "
                             f"in classInd.txt, but the video's folder is {folder}")
        return name, index

    def read(self, split: str) -> SplitIndex:
        self.require_split(split)
        require(self.root, "UCF101 video folder")
        classes, path = self.classes(), require(self.source(split), f"UCF101 {LISTS[split]}", "data.split_dir")
        entries, problems = [], []
        for line, text in annotation_lines(path):
            try:
                name, label = self.entry(text, split, classes)
            except ValueError as error:
                problems.append(Issue("annotation", str(path), line, str(error)))
                continue
            entries.append(Entry(find_video(self.root, name), label, str(path), line))
        return SplitIndex(entries, problems, [])
