"""Per-video predictions: the top classes, their probabilities, `predictions.csv`.
Shared by `zelda.test` and `zelda.predict`."""

import csv
from pathlib import Path
from typing import Sequence

import torch

from zelda.engine.metrics import rank_classes
from zelda.errors import ZeldaError


def top_classes(scores: torch.Tensor, names: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
    """The `k` best `(class name, score)` of each row of per-video scores `[B, K]`, best first."""
    indices = rank_classes(scores.float())[:, :k]
    values = scores.float().gather(-1, indices)
    return [[(names[i], v) for i, v in zip(row_indices.tolist(), row_values.tolist())]
            for row_indices, row_values in zip(indices, values)]


def write_predictions(path: Path, filenames: Sequence[str], labels: Sequence[int], scores: torch.Tensor,
                      names: Sequence[str], k: int = 5) -> None:
    """`predictions.csv`: filename, label, then the top-k classes and their scores, a row per video."""
    k = min(k, scores.shape[-1])
    header = ["filename", "label"] + [f"{column}{rank}" for rank in range(1, k + 1) for column in ("pred", "score")]
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for filename, label, best in zip(filenames, labels, top_classes(scores, names, k)):
            writer.writerow([filename, names[label], *(x for name, score in best for x in (name, f"{score:.6f}"))])


def probabilities(scores: torch.Tensor, average_clips: str | None) -> torch.Tensor:
    """Per-video class probabilities from the head's `predict` output."""
    if average_clips == "prob":
        return scores
    if average_clips == "score":
        return scores.softmax(dim=-1)
    raise ZeldaError("model.head.average_clips=null keeps per-view scores; use prob or score to rank classes")
