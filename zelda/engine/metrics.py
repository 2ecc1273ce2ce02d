"""Accuracy metrics over one evaluation: top-k and mean class accuracy.

Top-k for k >= the number of classes is 1.0 by definition (every class is among
the top k); it is reported as such, not hidden. State lives for one evaluation:
call `reset()` before each.
"""

from typing import Sequence

import torch

from zelda.engine.distributed import gather, world


def rank_classes(scores: torch.Tensor) -> torch.Tensor:
    """Class indices of each row of `[B, K]` scores, best first; tied classes in index order
    (as argmax picks the first), so results never depend on the sort algorithm."""
    return scores.argsort(dim=-1, descending=True, stable=True)


class AccuracyMetric:
    """Accumulate per-video scores and labels; compute `top{k}` and `mean_class_acc`."""

    def __init__(self, topk: Sequence[int] = (1, 5)) -> None:
        if not topk or min(topk) < 1:
            raise ValueError(f"metric.topk must be positive integers, got {list(topk)}")
        self.topk = tuple(int(k) for k in topk)
        self.reset()

    def reset(self) -> None:
        """Forget every prediction seen so far."""
        self.scores: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def update(self, scores: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch of per-video scores `[B, K]` and labels `[B]`."""
        if scores.dim() != 2:
            raise ValueError(
                f"metrics need per-video scores [B, K], got shape {tuple(scores.shape)}; "
                "model.head.average_clips=null keeps per-view scores, use prob or score"
            )
        self.scores.append(scores.detach().float().cpu())
        self.labels.append(labels.detach().long().cpu())

    def gather(self) -> None:
        """Replace this process's state by every rank's (a no-op in a single process)."""
        if world()[1] == 1:
            return
        states = gather((self.scores, self.labels))
        self.scores = [s for scores, _ in states for s in scores]
        self.labels = [l for _, labels in states for l in labels]

    def compute(self) -> dict[str, float]:
        """`{"top1": ..., "top5": ..., "mean_class_acc": ...}` over all updates."""
        if not self.scores:
            raise ValueError("no predictions to evaluate: the evaluation set is empty")
        scores, labels = torch.cat(self.scores), torch.cat(self.labels)
        ranked = rank_classes(scores)
        hits = ranked == labels[:, None]
        results = {f"top{k}": hits[:, :k].any(dim=1).float().mean().item() for k in self.topk}
        correct = hits[:, 0].float()
        per_class = [correct[labels == c].mean() for c in labels.unique()]
        results["mean_class_acc"] = torch.stack(per_class).mean().item()
        return results

    def __len__(self) -> int:
        return sum(len(labels) for labels in self.labels)
