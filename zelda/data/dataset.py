"""A split of a dataset (any format of `zelda.data.formats`), with a policy for videos that fail."""

import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset, get_worker_info

from zelda.data.formats.base import DatasetFormat, Issue
from zelda.data.transforms import Compose
from zelda.data.video import UNREADABLE
from zelda.errors import ZeldaError

log = logging.getLogger(__name__)
ON_ERROR_POLICIES = ("skip", "raise")
EXAMPLES = 3  # warnings quoted in the log, per kind


def cache_budget_mb(cache_mb: float | str) -> float:
    """The val cache budget of the whole machine. `auto`: an eighth of the memory available
    now, at most 2 GiB; else the number given."""
    if cache_mb != "auto":
        return float(cache_mb)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    return min(2048.0, available / 8)


def cache_holders() -> int:
    """How many processes on this machine hold a cache like the caller's: its loader's workers
    (each has its own copy of the dataset; 1 without workers) times the ranks torchrun started
    on this machine (`LOCAL_WORLD_SIZE`)."""
    worker = get_worker_info()
    return (worker.num_workers if worker is not None else 1) * int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def log_warnings(split: str, warnings: list[Issue]) -> None:
    """One log line per kind of warning: how many, and a few of them."""
    for kind in dict.fromkeys(warning.kind for warning in warnings):
        found = [warning for warning in warnings if warning.kind == kind]
        log.warning("%s split: %d %s warning(s), e.g.\n  %s%s", split, len(found), kind,
                    "\n  ".join(map(str, found[:EXAMPLES])), "\n  ..." if len(found) > EXAMPLES else "")


class VideoDataset(Dataset):
    """The videos of `split` of the dataset `index` describes.

    Every bad line of the split is reported at once, as `file:line: what is wrong`, before any
    video is touched; the format's warnings (e.g. Kinetics rows whose video is gone) are logged.

    An item is `{"inputs": uint8 tensor, "sample": DataSample}`. A key is an index, or
    `(index, seed)` from `SeededSampler` so that random sampling is reproducible.
    With `on_error="skip"` a video that fails to open or decode (`zelda.data.video.UNREADABLE`)
    is replaced by another one (at most `max_retries` times) and named in the replacement's
    `sample.skipped`; with `"raise"` it fails with the file name and the decoder's message.
    Any other exception is a bug (in a transform, say) and passes through as itself. In test mode,
    packed items are kept in memory, so later epochs skip decoding: up to `cache_mb` (`auto`: an
    eighth of free memory, at most 2 GiB) for the whole machine, shared by every process that
    holds a cache (loader workers x local ranks).
    """

    def __init__(
        self,
        index: DatasetFormat,
        split: str,
        pipeline: Sequence[Callable],
        test_mode: bool = False,
        modality: str = "RGB",
        on_error: str = "raise",
        max_retries: int = 10,
        cache_mb: float | str = 0,
    ) -> None:
        if modality != "RGB":
            raise ZeldaError(f"modality {modality!r} is not supported; zelda reads RGB videos only")
        if on_error not in ON_ERROR_POLICIES:
            raise ZeldaError(f"data.on_error must be one of {ON_ERROR_POLICIES}, got {on_error!r}")
        self.index, self.split = index, split
        self.entries, problems, warnings = index.read(split)
        if problems:
            raise ZeldaError(f"{len(problems)} bad line(s) in the {split} split of {index.source(split)}:\n"
                             + "\n".join(map(str, problems)))
        if warnings:
            log_warnings(split, warnings)
        if not self.entries:
            raise ZeldaError(f"the {split} split of {index.source(split)} has no videos"
                             + (" (see the warnings above)" if warnings else ""))
        self.video_dir = index.video_dir(split)
        self.pipeline = Compose(pipeline)
        self.test_mode = test_mode
        self.modality = modality
        self.on_error = on_error
        self.max_retries = max_retries
        # test-mode items are deterministic: keep them after the first epoch, within this
        # process's share of the machine's budget
        self.machine_cache_bytes = int(cache_budget_mb(cache_mb) * 2**20) if test_mode else 0
        self.cache: dict[int, dict[str, Any]] = {}
        self.cached_bytes = 0

    @property
    def cache_bytes(self) -> int:
        """This process's share of the cache budget, read where the cache is held (in a loader
        worker, each worker holds one)."""
        return self.machine_cache_bytes // cache_holders()

    def __len__(self) -> int:
        return len(self.entries)

    def path(self, index: int) -> Path:
        """Where video `index` lives."""
        return self.entries[index].path

    def load(self, index: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Run the pipeline on one video, with no error policy."""
        results = {
            "filename": str(self.path(index)),
            "label": self.entries[index].label,
            "modality": self.modality,
            "rng": rng,
        }
        return self.pipeline(results)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        if index in self.cache:
            return dict(self.cache[index])
        item = self.load_with_policy(index, seed)
        size = item["inputs"].numel() * item["inputs"].element_size()
        if self.cached_bytes + size <= self.cache_bytes:
            self.cache[index] = item
            self.cached_bytes += size
        return item

    def load_with_policy(self, index: int, seed: int | None) -> dict[str, Any]:
        """`load`, with failures skipped (replaced) or raised as `on_error` says."""
        rng = np.random.default_rng(seed)
        skipped: list[tuple[str, str]] = []
        for _ in range(self.max_retries + 1):
            try:
                item = self.load(index, rng)
            except UNREADABLE as error:
                message = f"{type(error).__name__}: {error}"
                if self.on_error == "raise":
                    raise ZeldaError(f"cannot load video {self.path(index)}: {message}") from error
                log.warning("skipping video %s: %s", self.path(index), message)
                skipped.append((str(self.path(index)), message))
                index = int(rng.integers(len(self)))
                continue
            item["sample"].skipped = skipped
            return item
        raise ZeldaError(
            f"{len(skipped)} videos in a row failed to load from {self.video_dir} "
            f"(data.max_retries={self.max_retries}); the last one: {skipped[-1][0]}: {skipped[-1][1]}. "
            f"Check the dataset with: python -m zelda.check"
        )

    def __repr__(self) -> str:
        return (
            f"VideoDataset({self.split!r} of {str(self.index.source(self.split))!r}, videos={len(self)}, "
            f"test_mode={self.test_mode}, on_error={self.on_error!r},\n pipeline={self.pipeline!r})"
        )


def build_dataset(node: DictConfig) -> "VideoDataset":
    """Instantiate a dataset node (`cfg.data.train`, ...) from a resolved copy: Hydra's
    `instantiate` resolves the `index: ${data.index}` interpolation in place, in the caller's
    config, so a config re-rooted afterwards (another `paths.data_dir`) would keep the old root."""
    return instantiate(OmegaConf.to_container(node, resolve=True))
