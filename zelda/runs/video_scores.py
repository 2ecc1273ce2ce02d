"""Every val video's scores from one evaluation, gathered from every rank: what the
predictions tables (W&B, and `predictions_<when>.csv` in the run dir) are built from."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from zelda.engine.distributed import gather
from zelda.engine.metrics import rank_classes


@dataclass
class VideoScores:
    """Per-video scores `[videos, classes]` with each video's file (relative to its split's
    folder, as in the annotation file) and label."""

    filenames: list[str]
    labels: list[int]
    scores: torch.Tensor

    def predicted(self) -> list[int]:
        """Each video's top class; ties go to the lower index, as in the metrics."""
        return rank_classes(self.scores)[:, 0].tolist()


class ScoreCollector:
    """The evaluation loop's `on_batch(samples, scores)` hook: keeps what this rank saw."""

    def __init__(self, root: str | Path) -> None:
        self.root = root
        self.rows: list[tuple[str, int, torch.Tensor]] = []

    def __call__(self, samples: Sequence[Any], scores: torch.Tensor) -> None:
        self.rows += [(os.path.relpath(sample.filename, self.root), sample.label, score)
                      for sample, score in zip(samples, scores.detach().float().cpu())]

    def gathered(self) -> VideoScores:
        """Every rank's videos (each rank evaluates its share): a collective, every rank calls it."""
        rows = [row for rows in gather(self.rows) for row in rows]
        return VideoScores([f for f, _, _ in rows], [label for _, label, _ in rows],
                           torch.stack([s for _, _, s in rows]) if rows else torch.empty(0, 0))


def class_labels(names: Sequence[str], num_classes: int) -> list[str]:
    """A name for each class: `names`, then the index for classes it does not name."""
    return [names[index] if index < len(names) else str(index) for index in range(num_classes)]
