"""The epoch loop: train, validate, checkpoint, log. It receives built objects."""

import logging
import math
import time
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from zelda.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from zelda.metrics import AccuracyMetric

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Trainer:
    """Train for `max_epochs`, validating every `val_interval` epochs.

    `limit_train_batches` / `limit_val_batches` cut epochs short for smoke runs.
    Writes `checkpoints/last.pt` after every epoch and `checkpoints/best.pt` whenever
    `val/top1` improves; `resume` (a checkpoint path) continues from its epoch.
    """

    def __init__(
        self,
        max_epochs: int = 10,
        val_interval: int = 1,
        device: str = "auto",
        log_every_n_steps: int = 1,
        progress_bar: bool | str = "auto",
        resume: str | None = None,
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
    ) -> None:
        self.max_epochs = max_epochs
        self.val_interval = val_interval
        self.device = resolve_device(device)
        self.log_every_n_steps = log_every_n_steps
        # tqdm's disable=None hides the bar when the console is not a terminal (CI, logs)
        self.disable_bar = None if progress_bar == "auto" else not progress_bar
        self.resume = resume
        self.limit_train_batches = limit_train_batches
        self.limit_val_batches = limit_val_batches
        self.summary: dict[str, Any] = {}

    def fit(
        self,
        model: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        train_loader: DataLoader,
        val_loader: DataLoader,
        metric: AccuracyMetric,
        loggers: Sequence[Any],
        run_dir: str | Path,
        extra_state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run the whole training; returns the summary (best and final metrics)."""
        run_dir = Path(run_dir)
        model.to(self.device)
        opt = optimizer(model.parameters())
        start_epoch, global_step = 0, 0
        best = {"val/top1": -math.inf, "epoch": None}
        if self.resume:
            state = load_checkpoint(self.resume)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            set_rng_state(state["rng"])
            start_epoch, global_step, best = state["epoch"], state["global_step"], state["best"]
            log.info("resumed from %s after epoch %d", self.resume, start_epoch)
        log.info("training on %s for %d epochs: %d train clips, %d val videos",
                 self.device, self.max_epochs, len(train_loader.dataset), len(val_loader.dataset))
        fit_start = time.perf_counter()
        for epoch in range(start_epoch + 1, self.max_epochs + 1):
            epoch_start = time.perf_counter()
            row, global_step = self.train_epoch(model, opt, train_loader, epoch, global_step, loggers, run_dir)
            if epoch % self.val_interval == 0 or epoch == self.max_epochs:
                val_start = time.perf_counter()
                row.update({f"val/{k}": v for k, v in self.evaluate(model, val_loader, metric).items()})
                row["val/time_s"] = time.perf_counter() - val_start
                if row["val/top1"] > best["val/top1"]:
                    best = {"val/top1": row["val/top1"], "epoch": epoch}
            row["epoch_time_s"] = time.perf_counter() - epoch_start
            for logger in loggers:
                logger.log_epoch(row, epoch)
            log.info("epoch %d/%d: %s", epoch, self.max_epochs,
                     ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
            state = {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                "global_step": global_step, "best": best, "rng": rng_state(), **(extra_state or {}),
            }
            save_checkpoint(state, run_dir / "checkpoints" / "last.pt")
            if best["epoch"] == epoch:
                save_checkpoint(state, run_dir / "checkpoints" / "best.pt")
            self.summary = {
                "best/val_top1": best["val/top1"] if best["epoch"] else None,
                "best/epoch": best["epoch"], "final": row, "epochs": epoch,
                "train_time_s": time.perf_counter() - fit_start,
            }
            for logger in loggers:
                logger.summary({k: v for k, v in self.summary.items() if k != "final"})
        return self.summary

    def train_epoch(
        self, model: nn.Module, opt: torch.optim.Optimizer, loader: DataLoader, epoch: int,
        global_step: int, loggers: Sequence[Any], run_dir: Path,
    ) -> tuple[dict[str, Any], int]:
        """One pass over the training set; returns the epoch's row and the new global step."""
        model.train()
        loader.sampler.set_epoch(epoch)
        losses, clips, skipped = [], 0, 0
        data_time = step_time = 0.0
        bar = tqdm(islice(loader, self.limit_train_batches), desc=f"epoch {epoch}/{self.max_epochs} train",
                   total=min(len(loader), self.limit_train_batches or len(loader)),
                   disable=self.disable_bar, leave=False, dynamic_ncols=True)
        tick = time.perf_counter()
        for batch in bar:
            loaded = time.perf_counter()
            skipped += record_skipped(batch["samples"], run_dir)
            loss = model(batch["inputs"], batch["samples"], mode="loss")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_value = loss.item()
            done = time.perf_counter()
            global_step += 1
            losses.append(loss_value)
            clips += batch["inputs"].shape[0]
            data_time += loaded - tick
            step_time += done - loaded
            lr = opt.param_groups[0]["lr"]
            bar.set_postfix(loss=f"{loss_value:.4f}", clips_per_s=f"{clips / (data_time + step_time):.2f}")
            if global_step % self.log_every_n_steps == 0:
                step_row = {"train/loss": loss_value, "lr": lr, "time/data_s": loaded - tick, "time/step_s": done - loaded}
                for logger in loggers:
                    logger.log_step(step_row, global_step)
            tick = time.perf_counter()
        row = {
            "train/loss": sum(losses) / len(losses), "lr": opt.param_groups[0]["lr"],
            "train/data_time_s": data_time, "train/step_time_s": step_time,
            "train/clips_per_s": clips / (data_time + step_time), "train/skipped_videos": skipped,
        }
        return row, global_step

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader, metric: AccuracyMetric) -> dict[str, float]:
        """Metrics of the model over the whole loader, from a fresh metric state."""
        model.eval()
        metric.reset()
        batches = islice(loader, self.limit_val_batches)
        total = min(len(loader), self.limit_val_batches or len(loader))
        for batch in tqdm(batches, desc="val", total=total, disable=self.disable_bar, leave=False, dynamic_ncols=True):
            views = {sample.meta.get("num_clips") for sample in batch["samples"]}
            if views != {batch["inputs"].shape[1]}:
                raise ValueError(f"batch has {batch['inputs'].shape[1]} views per video but samples say {views}")
            scores = model(batch["inputs"], batch["samples"], mode="predict")
            metric.update(scores, torch.tensor([sample.label for sample in batch["samples"]]))
        return metric.compute()


def record_skipped(samples: Sequence[Any], run_dir: Path) -> int:
    """Append the videos that failed and were replaced to `bad_videos.txt`; count them."""
    lines = [f"{filename}\t{error}\n" for sample in samples for filename, error in sample.skipped]
    if lines:
        with (run_dir / "bad_videos.txt").open("a") as file:
            file.writelines(lines)
        log.warning("skipped %d unreadable video(s), listed in %s", len(lines), run_dir / "bad_videos.txt")
    return len(lines)
