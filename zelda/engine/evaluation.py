"""The evaluation loop: every video of a loader through the model, scored by a metric."""

from itertools import islice
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from zelda.engine.device import autocast
from zelda.engine.distributed import reduce_over_ranks
from zelda.engine.interrupt import GracefulStop
from zelda.engine.metrics import AccuracyMetric


def check_views(batch: dict[str, Any]) -> None:
    """The batch holds as many views per video as its samples were sampled with (clips x crops)."""
    views = {sample.meta["num_clips"] * sample.meta.get("num_crops", 1) for sample in batch["samples"]}
    if views != {batch["inputs"].shape[1]}:
        raise ValueError(f"batch has {batch['inputs'].shape[1]} views per video, but its samples were "
                         f"sampled as {views} (num_clips x num_crops)")


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, metric: AccuracyMetric, device: torch.device, precision: str,
             limit_batches: int | None = None, disable_bar: bool | None = None, stop: GracefulStop | None = None,
             on_stop: Callable[[], None] | None = None,
             on_batch: Callable[[Sequence[Any], torch.Tensor], None] | None = None) -> dict[str, float]:
    """Metrics of the model over the loader (its first `limit_batches`), from a fresh metric
    state; `on_batch(samples, scores)` sees every batch's per-video scores."""
    model.to(device).eval()
    metric.reset()
    total = min(len(loader), limit_batches or len(loader))
    # ranks may hold one batch more than others (no padding): a stop is agreed only at batches all have
    stop_points = int(reduce_over_ranks([total], dist.ReduceOp.MIN)[0]) if stop is not None else 0
    for index, batch in enumerate(tqdm(islice(loader, total), desc="val", total=total, disable=disable_bar,
                                       leave=False, dynamic_ncols=True)):
        check_views(batch)
        with autocast(device, precision):
            scores = model(batch["inputs"], batch["samples"], mode="predict")
        metric.update(scores, torch.tensor([sample.label for sample in batch["samples"]]))
        if on_batch is not None:
            on_batch(batch["samples"], scores)
        if index < stop_points:
            stop.check(on_stop)
    metric.gather()  # every rank's videos, each once
    return metric.compute()
