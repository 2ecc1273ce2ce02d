"""Test-time views and per-video predictions, shared by `zelda.test` and `zelda.predict`."""

import csv
from pathlib import Path
from typing import Sequence

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from zelda.data.transforms import CROPS
from zelda.errors import ZeldaError

SAMPLE, CROP = "zelda.data.transforms.VideoSample", "zelda.data.transforms.VideoCrop"
SPLITS = ("val", "test")


def view_pipeline(pipeline: ListConfig, num_clips: int | None, crops: str) -> ListConfig:
    """A copy of a (val) pipeline config taking `num_clips` clips (None: as configured) and
    `crops` windows (`center`, `three` or `ten`) of every video."""
    if num_clips is not None and (not isinstance(num_clips, int) or num_clips < 1):
        raise ZeldaError(f"test.num_clips={num_clips!r}: must be an integer >= 1 (or null for pipeline.val_num_clips)")
    if crops not in CROPS:
        raise ZeldaError(f"test.crops={crops!r}: must be one of {', '.join(CROPS)}")
    steps = OmegaConf.create(OmegaConf.to_container(pipeline, resolve=True))
    targets = [step.get("_target_") for step in steps]
    for target, key, value in ((SAMPLE, "num_clips", num_clips), (CROP, "crops", crops)):
        if target not in targets:
            raise ZeldaError(f"pipeline.val has no {target}, so its {key} cannot be set for testing")
        if value is not None:
            steps[targets.index(target)][key] = value
    return steps


def split_dataset(cfg: DictConfig, split: str, num_clips: int | None, crops: str) -> DictConfig:
    """The `data.<split>` dataset config, reading videos through the test-time views of `pipeline.val`."""
    if split not in SPLITS:
        raise ZeldaError(f"split={split!r}: must be one of {', '.join(SPLITS)}")
    if OmegaConf.select(cfg, f"data.{split}") is None:
        raise ZeldaError(f"split={split}: the training config defines no data.{split}; add a data.{split} "
                         f"node (like data.val, with its own ann_file) or use split=val")
    node = cfg.data[split]
    node.pipeline = view_pipeline(cfg.pipeline.val, num_clips, crops)
    return node


def top_classes(scores: torch.Tensor, names: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
    """The `k` best `(class name, score)` of each row of per-video scores `[B, K]`, best first."""
    values, indices = scores.float().topk(min(k, scores.shape[-1]), dim=-1)
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
