"""Classification head: pool, dropout, linear; averages the views of each video."""

import torch
import torch.nn.functional as F
from torch import nn

AVERAGE_CLIPS = ("prob", "score", None)


class ClsHead(nn.Module):
    """Scores `num_classes` from backbone features `[N, C, T, H, W]`.

    `average_clips` says how `predict` joins the V views of a video: `prob` (softmax,
    then mean), `score` (mean of logits) or None (keep `[B, V, K]` per-view logits).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 128,
        dropout: float = 0.5,
        average_clips: str | None = "prob",
        init_std: float = 0.01,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        if average_clips not in AVERAGE_CLIPS:
            raise ValueError(f"model.head.average_clips must be one of {AVERAGE_CLIPS}, got {average_clips!r}")
        self.num_classes = num_classes
        self.average_clips = average_clips
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        nn.init.normal_(self.fc.weight, std=init_std)
        nn.init.zeros_(self.fc.bias)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits `[N, num_classes]`."""
        return self.fc(self.dropout(self.pool(feats).flatten(1)))

    def loss(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of every view against its video's label."""
        scores = self(feats)
        labels = labels.to(scores.device).repeat_interleave(scores.shape[0] // labels.shape[0])
        return self.loss_fn(scores.float(), labels)

    def predict(self, feats: torch.Tensor, num_views: int) -> torch.Tensor:
        """Per-video scores `[B, K]` (or `[B, V, K]` when average_clips is None)."""
        return self.average_views(self(feats).float(), num_views)

    def average_views(self, scores: torch.Tensor, num_views: int) -> torch.Tensor:
        """Join `[B * V, K]` view scores into per-video scores by `average_clips`."""
        if scores.shape[0] % num_views:
            raise ValueError(f"{scores.shape[0]} view scores cannot be split into videos of {num_views} views")
        scores = scores.view(-1, num_views, scores.shape[-1])
        if self.average_clips == "prob":
            return F.softmax(scores, dim=2).mean(dim=1)
        if self.average_clips == "score":
            return scores.mean(dim=1)
        return scores
