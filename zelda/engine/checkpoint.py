"""Checkpoints: written atomically, loaded with `torch.load(weights_only=True)`, and the
policy of which ones a run keeps (`last.pt` always, `best.pt` when val/top1 improves)."""

import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from zelda.engine.seed import rng_state, set_rng_state
from zelda.engine.state import EpochProgress, TrainState
from zelda.errors import ZeldaError

log = logging.getLogger(__name__)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write `state` to `path` atomically: a crash mid-write leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """`trainer.resume`: null (start fresh), `auto` (this run dir's last.pt, if any) or a path."""
    if not resume:
        return None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.pt"
        if last.is_file():
            return last
        log.info("trainer.resume=auto: no checkpoint at %s; starting from scratch", last)
        return None
    path = Path(resume)
    if not path.is_file():
        raise ZeldaError(f"trainer.resume={resume}: no such checkpoint; use a checkpoints/last.pt path or auto")
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint without unpickling arbitrary objects."""
    return torch.load(path, map_location="cpu", weights_only=True)


class Checkpoints:
    """Everything a resumed run needs, saved under `folder`: the model, optimizer, loss
    scaler, schedule, RNG states and the `TrainState`, plus `extra` (the W&B run id, and the
    resolved config, which a resumed run is compared with).
    Only the process with `enabled` writes (rank 0)."""

    def __init__(self, folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, scheduler: LRScheduler | None, extra: dict[str, Any],
                 enabled: bool) -> None:
        self.folder, self.model, self.optimizer = folder, model, optimizer
        self.scaler, self.scheduler, self.extra, self.enabled = scaler, scheduler, extra, enabled

    def save(self, state: TrainState, best: bool = False) -> None:
        """Write `last.pt` (and `best.pt`)."""
        if not self.enabled:
            return
        checkpoint = {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "epoch": state.epoch, "global_step": state.global_step, "best": state.best,
            "progress": asdict(state.progress), "rng": rng_state(), **self.extra,
        }
        save_checkpoint(checkpoint, self.folder / "last.pt")
        if best:
            save_checkpoint(checkpoint, self.folder / "best.pt")

    def restore(self, path: str | Path) -> TrainState:
        """Load `path` into the model, optimizer, scaler, schedule and RNGs; where training stood."""
        checkpoint = load_checkpoint(path)
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if checkpoint.get("scaler"):  # empty unless the run used 16-mixed
            self.scaler.load_state_dict(checkpoint["scaler"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        set_rng_state(checkpoint["rng"])
        return TrainState(epoch=checkpoint["epoch"], global_step=checkpoint["global_step"], best=checkpoint["best"],
                          progress=EpochProgress(**checkpoint["progress"]))
