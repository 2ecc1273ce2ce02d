"""Loader resources: the CPUs this process may use, and the val cache budget shared by the
processes that each hold a cache."""

import os
from types import SimpleNamespace

import pytest
from torch.utils.data import DataLoader, Dataset

from zelda.data import dataset as dataset_module
from zelda.data import loader as loader_module
from zelda.data.dataset import VideoDataset, cache_holders
from zelda.data.formats.listfile import ListFormat
from zelda.data.loader import auto_workers, usable_cpus


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A 64-core machine where this process may use CPUs {0, 1, 2} and `cpu.max` says `text`."""
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(loader_module, "CGROUP_CPU_MAX", cpu_max)
    return cpu_max


@pytest.mark.parametrize("cpu_max,cpus", [
    (None, 3),                   # no cgroup v2 file: the affinity mask
    ("max 100000\n", 3),         # no quota
    ("200000 100000\n", 2),      # a 2-CPU quota below the mask
    ("150000 100000\n", 1),      # 1.5 CPUs: whole CPUs only
    ("50000 100000\n", 1),       # below one CPU: still one
    ("800000 100000\n", 3),      # a quota above the mask: the mask
])
def test_usable_cpus_is_the_affinity_mask_lowered_by_a_cgroup_quota(machine, cpu_max, cpus):
    if cpu_max is not None:
        machine.write_text(cpu_max)
    assert usable_cpus() == cpus


def test_usable_cpus_without_affinity_support_counts_the_machine(machine, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity")
    assert usable_cpus() == 64


def test_auto_workers_counts_the_cpus_this_process_may_use(machine):
    machine.write_text("200000 100000\n")
    assert auto_workers() == 1  # 2 usable CPUs, one stays with the model; not min(4, 63)


@pytest.mark.parametrize("workers,local_ranks,holders", [(None, None, 1), (4, None, 4), (None, 8, 8), (4, 8, 32)])
def test_the_val_cache_budget_is_shared_by_every_process_that_holds_one(monkeypatch, tmp_path, workers, local_ranks,
                                                                        holders):
    """4 loader workers x 8 ranks on one machine each hold a cache: 32 shares of one budget."""
    info = SimpleNamespace(num_workers=workers) if workers else None
    monkeypatch.setattr(dataset_module, "get_worker_info", lambda: info)
    if local_ranks:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local_ranks))
    else:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert cache_holders() == holders
    (tmp_path / "ann.txt").write_text("v.mp4 0\n")
    index = ListFormat(tmp_path, files={"val": "ann.txt"})
    dataset = VideoDataset(index, "val", [], test_mode=True, cache_mb=320)
    assert dataset.cache_bytes == 320 * 2**20 // holders
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": 2**20, "SC_PAGE_SIZE": 2**12}[name])
    auto = VideoDataset(index, "val", [], test_mode=True, cache_mb="auto")
    assert auto.cache_bytes == 512 * 2**20 // holders  # an eighth of 4 GiB free, shared


class Holders(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        return cache_holders()


def test_each_real_loader_worker_counts_every_worker_of_its_loader(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert list(DataLoader(Holders(), batch_size=None, num_workers=2)) == [2, 2, 2, 2]
    assert list(DataLoader(Holders(), batch_size=None, num_workers=0)) == [1, 1, 1, 1]
