"""Loaders: reproducible sampling, batching into `[B, num_clips, C, T, H, W]`."""

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset, Sampler

from zelda.data.dataset import build_dataset

log = logging.getLogger(__name__)
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2 CPU quota: "<quota> <period>" or "max <period>"


class SeededSampler(Sampler):
    """Yield `(index, seed)` keys whose order and seeds depend only on (seed, epoch).

    Every random choice of the pipeline derives from the key's seed, so an epoch is
    the same with 0 or 8 workers, and a resumed run replays exactly the epoch it lost.
    With several ranks, rank r takes every `world_size`-th key from r on; `pad` repeats
    the first keys so that every rank gets as many (training steps must match across
    ranks), while evaluation leaves it off so that no video counts twice.
    """

    def __init__(self, length: int, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1,
                 pad: bool = True) -> None:
        self.length = length
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Choose the epoch produced next, from its `start`-th key (to resume mid-epoch)."""
        self.epoch = epoch
        self.start = start

    def keys(self) -> list[tuple[int, int]]:
        """This rank's keys of the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.length) if self.shuffle else np.arange(self.length)
        seeds = rng.integers(2**63 - 1, size=self.length)
        keys = [(int(i), int(s)) for i, s in zip(order, seeds)]
        if self.pad:
            keys += keys[: -len(keys) % self.world_size]
        return keys[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.keys()[self.start :])

    def __len__(self) -> int:
        """Counted, not built: loaders ask for it several times an epoch."""
        per_rank = -(-self.length // self.world_size) if self.pad else len(range(self.rank, self.length, self.world_size))
        return max(0, per_rank - self.start)


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack inputs to `[B, num_clips, C, T, H, W]` and keep the samples as a list."""
    return {
        "inputs": torch.stack([item["inputs"] for item in items]),
        "samples": [item["sample"] for item in items],
    }


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity mask (taskset, SLURM, container cpusets),
    lowered to a container's cgroup CPU quota in whole CPUs. `os.cpu_count()` counts the machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        return max(1, min(cpus, int(quota) // int(period)))
    except (OSError, ValueError):  # no cgroup v2 file, or "max": no quota
        return cpus


def auto_workers() -> int:
    """Loader workers for this process: one usable CPU stays with the model, at most 4 workers;
    none inside a pool's worker process (e.g. joblib's), which cannot start its own."""
    if multiprocessing.current_process().name != "MainProcess":
        return 0
    return max(0, min(4, usable_cpus() - 1))


def leave_stop_signals_to_the_main_process(worker_id: int) -> None:
    """Move a loader worker into its own process group. Ctrl-C in a terminal and torchrun's
    SIGTERM (pre-emption, or another rank's exit) reach a whole process group: a worker that
    died of it would fail the run its main process was about to stop at a safe point. The
    main process still ends its workers itself, by pid."""
    os.setpgid(0, 0)


def build_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int | str,
    persistent_workers: bool,
    seed: int,
    pin_memory: bool = False,
    rank: int = 0,
    world_size: int = 1,
    pad: bool = True,
) -> DataLoader:
    """A DataLoader over `dataset` driven by a `SeededSampler` (see there for `pad`)."""
    num_workers = auto_workers() if num_workers == "auto" else int(num_workers)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=SeededSampler(len(dataset), shuffle, seed, rank, world_size, pad),
        num_workers=num_workers,
        persistent_workers=persistent_workers and num_workers > 0,
        collate_fn=collate,
        pin_memory=pin_memory,
        worker_init_fn=leave_stop_signals_to_the_main_process,
        # its own generator: creating an iterator must not draw from the global RNG,
        # or a run resumed mid-epoch would see different dropout masks
        generator=torch.Generator().manual_seed(seed),
    )


def prepare_data(cfg: DictConfig, rank: int, world_size: int) -> None:
    """Run `data.prepare` (generate, or check a download) on rank 0 while the others wait:
    the data's classes, and so `data.num_classes`, are read from it."""
    if cfg.data.get("prepare") and rank == 0:
        instantiate(cfg.data.prepare)
    if world_size > 1:
        torch.distributed.barrier()


def build_loaders(cfg: DictConfig, rank: int, world_size: int) -> tuple[Any, Any, Any]:
    """Train, val and (with trainer.test_after_fit) test loaders, of prepared data."""
    train_set, val_set = build_dataset(cfg.data.train), build_dataset(cfg.data.val)
    log.info("train set: %r", train_set)
    common = dict(num_workers=cfg.data.num_workers, persistent_workers=cfg.data.persistent_workers,
                  seed=cfg.seed, rank=rank, world_size=world_size, pin_memory=torch.cuda.is_available())
    test_loader = None
    if cfg.trainer.test_after_fit:
        test_loader = build_loader(build_dataset(cfg.data.test), cfg.data.val_batch_size, shuffle=False, pad=False, **common)
    return (build_loader(train_set, cfg.data.batch_size, shuffle=cfg.data.shuffle, **common),
            build_loader(val_set, cfg.data.val_batch_size, shuffle=False, pad=False, **common), test_loader)
