"""Where training stands, in the form checkpoints save and resumed runs restore."""

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EpochProgress:
    """What one training epoch has done so far; saved in checkpoints to resume mid-epoch."""

    batches: int = 0
    clips: int = 0
    skipped: int = 0
    data_time: float = 0.0
    step_time: float = 0.0
    losses: list[float] = field(default_factory=list)
    lr: float | None = None  # what the epoch's latest step used (the scheduler has moved on since)


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
