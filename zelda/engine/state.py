"""Where training stands, in the form checkpoints save and resumed runs restore."""

import math
from dataclasses import dataclass, field
from typing import Any

from zelda.engine.distributed import gather, mean_over_ranks


@dataclass
class EpochProgress:
    """What one training epoch has done so far; saved in checkpoints to resume mid-epoch.

    `losses` and `skipped` are this rank's until `merge_ranks`, and the same on every rank
    after it (rank 0 saves them, every rank restores them). `unrecorded`: this rank's
    skipped videos `(path, error)` that `merge_ranks` has not yet handed over.
    """

    batches: int = 0
    clips: int = 0
    skipped: int = 0
    data_time: float = 0.0
    step_time: float = 0.0
    losses: list[float] = field(default_factory=list)
    lr: float | None = None  # what the epoch's latest step used (the scheduler has moved on since)
    unrecorded: list[tuple[str, str]] = field(default_factory=list)

    def merge_ranks(self) -> list[tuple[str, str]]:
        """Make `losses` the per-step means over ranks (every rank runs as many steps) and add
        every rank's new skipped videos to `skipped`; return those videos, once, for rank 0 to
        record. Called by every rank at the epoch's end and before a mid-epoch checkpoint."""
        self.losses = mean_over_ranks(self.losses)
        videos = [video for videos in gather(self.unrecorded) for video in videos]
        self.skipped += len(videos)
        self.unrecorded = []
        return videos


@dataclass
class TrainState:
    """`epoch` epochs completed, `global_step` optimizer steps, the best val/top1 so far,
    and `progress` into the next epoch."""

    epoch: int = 0
    global_step: int = 0
    best: dict[str, Any] = field(default_factory=lambda: {"val/top1": -math.inf, "epoch": None})
    progress: EpochProgress = field(default_factory=EpochProgress)

    def improves(self, row: dict[str, Any], epoch: int) -> bool:
        """Record `row`'s val/top1 as the best when it beats it; whether it did."""
        if "val/top1" not in row or row["val/top1"] <= self.best["val/top1"]:
            return False
        self.best = {"val/top1": row["val/top1"], "epoch": epoch}
        return True
