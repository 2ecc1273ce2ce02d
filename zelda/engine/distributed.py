"""Data-parallel training under torchrun (or SLURM): one process group, one run dir.

Every rank runs Hydra, and each would stamp its own `${now:}` run dir. So before
Hydra starts, the ranks join the process group and rank 0's choice of run dir is
broadcast to all; only rank 0 writes Hydra's files, checkpoints, metrics and W&B.
"""

import os
import secrets
import time
from typing import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

STRATEGIES = ("auto", "ddp")  # trainer.strategy: one process, or DistributedDataParallel under torchrun


def world() -> tuple[int, int]:
    """`(rank, world_size)` of this process; `(0, 1)` outside a distributed launch."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def join_process_group() -> None:
    """Initialize the default group from torchrun's environment (or SLURM's, via submitit)."""
    if dist.is_initialized():
        return
    if "RANK" not in os.environ and "SLURM_PROCID" in os.environ:
        from submitit.helpers import TorchDistributedEnvironment

        TorchDistributedEnvironment().export()  # sets RANK, WORLD_SIZE, MASTER_ADDR, ...
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def data_parallel(model: nn.Module, device: torch.device, strategy: str,
                  sync_batchnorm: bool) -> tuple[nn.Module, nn.Module]:
    """`(model, train_model)`: the model on `device`, and what training steps go through.

    Under `ddp` the steps go through DistributedDataParallel (gradients averaged over
    ranks); evaluation and checkpoints use the plain module, so checkpoints load without DDP.
    """
    if strategy == "ddp" and sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(device)
    if strategy != "ddp":
        return model, model
    return model, DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def prepare_argv(argv: list[str]) -> list[str]:
    """Under torchrun: join the group and add the Hydra overrides that make all ranks
    share rank 0's run dir while only rank 0 writes Hydra's own files."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return argv
    join_process_group()
    choice = [None]
    if dist.get_rank() == 0 and not any(arg.startswith("hydra.run.dir=") for arg in argv):
        choice = [f"hydra.run.dir=outputs/{time.strftime('%Y-%m-%d_%H-%M-%S')}_{secrets.token_hex(3)}"]
    dist.broadcast_object_list(choice, src=0)
    extra = [choice[0]] if choice[0] else []
    if dist.get_rank() > 0:
        extra += ["hydra.output_subdir=null", "hydra/job_logging=none", "hydra/hydra_logging=none"]
    return argv + extra


def collective_device() -> torch.device:
    """Where the default group's collectives take tensors: this rank's GPU under NCCL alone
    (NCCL rejects CPU tensors), else the CPU (gloo; a mixed `cpu:gloo,cuda:nccl` group sends
    CPU tensors to gloo, as torch's object collectives do)."""
    backend = str(dist.get_backend())  # "gloo", "nccl", or device:backend pairs
    if backend == dist.Backend.NCCL or (":" in backend and "cpu:" not in backend):
        return torch.device("cuda", torch.cuda.current_device())  # join_process_group set it
    return torch.device("cpu")


def reduce_over_ranks(values: Sequence[float], op: dist.ReduceOp = dist.ReduceOp.SUM) -> list[float]:
    """`values` reduced element-wise across ranks in one collective (themselves, without
    one, in a single process)."""
    if world()[1] == 1 or not values:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=collective_device())
    dist.all_reduce(tensor, op=op)
    return tensor.tolist()


def mean_over_ranks(values: Sequence[float]) -> list[float]:
    """The element-wise mean of `values` across ranks."""
    return [total / world()[1] for total in reduce_over_ranks(values)]


def any_rank(flag: bool) -> bool:
    """Whether `flag` is set on any rank: what all ranks must agree on (e.g. to stop)."""
    return bool(reduce_over_ranks([float(flag)], dist.ReduceOp.MAX)[0])


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if world()[1] > 1:
        dist.barrier()


def gather(obj: object) -> list[object]:
    """Every rank's `obj`, in rank order (`[obj]` in a single process). Under NCCL it travels
    through this rank's GPU, chosen by `torch.cuda.set_device` in `join_process_group`."""
    if world()[1] == 1:
        return [obj]
    objects: list[object] = [None] * world()[1]
    dist.all_gather_object(objects, obj)
    return objects
