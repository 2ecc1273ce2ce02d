"""Loader throughput: the clips per second training's DataLoader delivers with no model behind it.

That rate bounds any accelerator: a GPU whose step takes milliseconds waits for it. The
loader is built by `build_loaders`, as training builds it (sampler, workers, pinned memory,
the configured decoder backend), with only `data.num_workers` changed.
"""

import time
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zelda.data.loader import build_loaders


def loader_throughput(cfg: DictConfig, workers: int) -> dict[str, Any]:
    """One epoch of the train loader with `workers` workers. The first batch (worker start-up,
    filling the prefetch queue) is timed on its own; the rate counts the batches after it."""
    train_loader, _, _ = build_loaders(OmegaConf.merge(cfg, {"data": {"num_workers": workers}}), rank=0, world_size=1)
    start = time.perf_counter()
    batches = iter(train_loader)
    next(batches)
    first_s = time.perf_counter() - start
    clips, count, start = 0, 0, time.perf_counter()
    for batch in batches:
        clips += batch["inputs"].shape[0] * batch["inputs"].shape[1]  # videos x clips per video
        count += 1
    seconds = time.perf_counter() - start
    return {"workers": workers, "clips_per_s": clips / seconds if count else None, "clips": clips,
            "batches": count, "seconds": seconds, "first_batch_s": first_s}


def format_throughput(rows: list[dict[str, Any]]) -> list[str]:
    """The loader table, a row per worker count."""
    lines = [f"{'workers':>8}{'clips/s':>10}{'batches':>9}{'seconds':>9}{'first batch, s':>16}"]
    for row in rows:
        rate = "n/a" if row["clips_per_s"] is None else f"{row['clips_per_s']:.3g}"
        lines.append(f"{row['workers']:>8}{rate:>10}{row['batches']:>9}{row['seconds']:>9.3g}{row['first_batch_s']:>16.3g}")
    return lines
