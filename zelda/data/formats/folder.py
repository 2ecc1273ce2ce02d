"""One folder per class: `root/<split>/<class>/<video>`, as torchvision's ImageFolder, for videos."""

from pathlib import Path

from zelda.data.formats.base import DatasetFormat, Entry, Issue, SplitIndex, require

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv"})


def is_video(path: Path) -> bool:
    """A video file by its extension (any case); hidden files such as macOS's `._clip.mp4` are not."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".") and path.is_file()


class FolderFormat(DatasetFormat):
    """Classes: the class folders of every split, sorted by name. Anything that is not a video
    in a class folder is ignored, with a warning."""

    def source(self, split: str) -> Path:
        return self.root / split

    def video_dir(self, split: str) -> Path:
        return self.root / split

    def class_dirs(self, split: str) -> list[Path]:
        """The split's class folders, sorted."""
        require(self.root, "dataset folder")
        return sorted(path for path in require(self.source(split), "split folder").iterdir() if path.is_dir())

    def classes(self) -> list[str]:
        return sorted({folder.name for split in self.splits for folder in self.class_dirs(split)})

    def read(self, split: str) -> SplitIndex:
        self.require_split(split)
        classes = {name: index for index, name in enumerate(self.classes())}
        entries, warnings = [], []
        for path in sorted(self.source(split).iterdir()):
            if not path.is_dir():
                warnings.append(Issue("ignored", str(path), None, "not in a class folder: ignored"))
                continue
            for video in sorted(path.iterdir()):
                if is_video(video):
                    entries.append(Entry(video, classes[path.name], str(video)))
                else:
                    extensions = " ".join(sorted(suffix[1:] for suffix in VIDEO_EXTENSIONS))
                    warnings.append(Issue("ignored", str(video), None, f"not a video ({extensions}): ignored"))
        return SplitIndex(entries, [], warnings)
