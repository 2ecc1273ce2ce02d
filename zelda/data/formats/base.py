"""What every dataset format gives: its class names, and each split's videos with where they
are listed, so that training and `zelda.check` read a dataset the same way and name every
problem by its `file:line`."""

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from omegaconf import DictConfig, OmegaConf

from zelda.data.annotations import annotation_lines
from zelda.errors import ZeldaError, find_zelda_error


def where(file: str, line: int | None) -> str:
    """`file:line`, or `file` alone: the form editors and terminals link to."""
    return file if line is None else f"{file}:{line}"


@dataclass(frozen=True)
class Entry:
    """One video of a split: where it is, its class index, and the file (and line) that lists it;
    for formats that list folders, `file` is the video itself."""

    path: Path
    label: int
    file: str
    line: int | None = None


@dataclass(frozen=True)
class Issue:
    """A problem (training would stop or go wrong) or a warning (worth knowing), at `file:line`.
    `kind` groups them: annotation (a bad line), duplicate, video, or a warning's topic."""

    kind: str
    file: str
    line: int | None
    text: str

    def __str__(self) -> str:
        return f"{where(self.file, self.line)}: {self.text}"


class SplitIndex(NamedTuple):
    """What reading one split gives: its videos, its problems and its warnings."""

    entries: list[Entry]
    problems: list[Issue]
    warnings: list[Issue]


class DatasetFormat(ABC):
    """A dataset on disk in one layout. Reading opens no video: a missing video is found by
    whoever opens it (training's on_error policy, `zelda.check`), unless the format knows that
    its copies lose videos (Kinetics) and skips them with a warning."""

    def __init__(self, root: str | Path | None, splits: tuple[str, ...] = ("train", "val")) -> None:
        if root is None:
            raise ZeldaError("data.root is not set: add data.root=DIR, the folder that holds the dataset")
        self.root = Path(root).absolute()
        self.splits = tuple(splits)

    @abstractmethod
    def classes(self) -> list[str]:
        """The class names, index order; the same over every split."""

    @abstractmethod
    def read(self, split: str) -> SplitIndex:
        """Every video of `split`; raises ZeldaError when the split's files are not there."""

    @abstractmethod
    def source(self, split: str) -> Path:
        """The file or folder `split` is read from, to name it in reports."""

    def video_dir(self, split: str) -> Path:
        """The folder the split's videos are named relative to, in predictions tables."""
        return self.root

    def require_split(self, split: str) -> None:
        """Refuse a split this format does not have, naming the ones it has."""
        if split not in self.splits:
            raise ZeldaError(f"split {split!r} is not one of this dataset's splits ({', '.join(self.splits)})")



class FoldFormat(DatasetFormat):
    """A dataset whose official split files, one set per `fold`, live in `split_dir` (UCF101, HMDB51)."""

    FOLDS = (1, 2, 3)

    def __init__(self, root: str | Path | None, split_dir: str | Path | None, fold: int, splits: tuple[str, ...],
                 name: str, split_files: str) -> None:
        super().__init__(root, splits)
        if split_dir is None:
            raise ZeldaError(f"data.split_dir is not set: add data.split_dir=DIR, the folder of {name}'s {split_files}")
        if fold not in self.FOLDS:
            raise ZeldaError(f"data.fold={fold!r}: {name}'s splits are folds 1, 2 and 3")
        self.split_dir, self.fold = Path(split_dir).absolute(), fold


def require(path: Path, what: str, key: str = "data.root") -> Path:
    """`path` when it exists; else a sentence naming it and the key that points there."""
    if not path.exists():
        raise ZeldaError(f"The {what} {path} does not exist: point {key} at the right folder (for datasets under "
                         f"paths.data_dir: paths.data_dir=DIR or ZELDA_DATA_DIR), or fetch a known dataset with "
                         f"`python -m zelda.data.download`.")
    return path


def read_names(path: Path) -> list[str]:
    """Class names, one per line (line i names class i), read as annotation files are."""
    names = [text for _, text in annotation_lines(path)]
    if not names:
        raise ZeldaError(f"{path} names no classes: write one class name per line (line i names class i)")
    return names


_CLASSES: dict[str, list[str]] = {}


def dataset_classes(index: DictConfig) -> list[str]:
    """`data.classes: ${dataset_classes:${data.index}}`: the class names of the format `index`
    configures, read once per process for each distinct (resolved) configuration."""
    from hydra.utils import instantiate  # hydra is imported only when a config asks for classes

    key = json.dumps(OmegaConf.to_container(index, resolve=True), sort_keys=True, default=str)
    if key not in _CLASSES:
        try:
            _CLASSES[key] = list(instantiate(index).classes())
        except Exception as error:  # instantiate wraps what the format raises
            if (reason := find_zelda_error(error)) is None:
                raise
            raise ZeldaError(f"data.classes is read from the dataset: {reason} (entry points run data.prepare "
                             f"first; in code, instantiate(cfg.data.prepare) before reading data.classes)") from error
    return list(_CLASSES[key])
