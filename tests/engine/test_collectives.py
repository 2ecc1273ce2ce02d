"""Collectives hand their tensors to the device the process group's backend takes.

NCCL rejects CPU tensors and gloo CUDA ones; with one GPU (or none) no multi-rank NCCL
run is possible, so a fake two-rank world checks where each collective's tensor lives.
"""

import pytest
import torch
import torch.distributed as dist
from helpers import requires_cuda

from zelda.engine import distributed
from zelda.engine.distributed import any_rank, collective_device, mean_over_ranks, reduce_over_ranks
from zelda.engine.interrupt import GracefulStop


@pytest.mark.parametrize("backend,device", [
    ("gloo", "cpu"), ("nccl", "cuda:1"), ("cuda:nccl", "cuda:1"),
    ("cpu:gloo,cuda:nccl", "cpu"),  # a mixed group sends CPU tensors to gloo, as torch's object collectives do
])
def test_the_collective_device_follows_the_backend(monkeypatch, backend, device):
    monkeypatch.setattr(dist, "get_backend", lambda group=None: dist.Backend(backend))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)  # torch.cuda.set_device(LOCAL_RANK) chose GPU 1
    assert collective_device() == torch.device(device)


class Handed(Exception):
    """Raised by the fake collective once it has seen the tensor."""


@pytest.fixture
def handed(monkeypatch) -> list[torch.device]:
    """A two-rank world whose collective device is `meta` (no CPU build can fake CUDA):
    every tensor handed to all_reduce must be there, as NCCL requires tensors on its GPU."""
    devices: list[torch.device] = []

    def all_reduce(tensor: torch.Tensor, op: object = None, **kwargs: object) -> None:
        devices.append(tensor.device)
        raise Handed

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 0)
    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    monkeypatch.setattr(distributed, "collective_device", lambda: torch.device("meta"))
    return devices


@pytest.mark.parametrize("collective", [
    lambda: mean_over_ranks([0.5, 0.25]),
    lambda: reduce_over_ranks([3], dist.ReduceOp.MIN),
    lambda: any_rank(True),
    lambda: GracefulStop().check(lambda: None),  # the stop flag every safe point agrees on
], ids=["mean_over_ranks", "reduce_over_ranks", "any_rank", "stop_flag"])
def test_every_collective_hands_its_tensor_on_the_collective_device(handed, collective):
    with pytest.raises(Handed):
        collective()
    assert handed == [torch.device("meta")]


def test_a_single_process_runs_no_collective(monkeypatch):
    monkeypatch.setattr(dist, "all_reduce", lambda *args, **kwargs: pytest.fail("a collective in a single process"))
    assert mean_over_ranks([0.5]) == [0.5] and reduce_over_ranks([2], dist.ReduceOp.MIN) == [2]
    assert any_rank(True) and not any_rank(False)
    GracefulStop().check(lambda: pytest.fail("saved without a stop request"))


@pytest.mark.cuda
@requires_cuda
def test_collectives_run_on_a_one_rank_nccl_group(monkeypatch):
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", store=dist.HashStore(), rank=0, world_size=1)
    try:
        with pytest.raises(RuntimeError):  # what the fix is for: NCCL refuses CPU tensors
            dist.all_reduce(torch.ones(1))
        monkeypatch.setattr(distributed, "world", lambda: (0, 2))  # take the multi-rank path on one rank
        assert collective_device() == torch.device("cuda", 0)
        assert reduce_over_ranks([1.0, 2.0]) == [1.0, 2.0] and any_rank(True) and not any_rank(False)
    finally:
        dist.destroy_process_group()
