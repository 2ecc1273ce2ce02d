"""The epoch loop: train, validate, checkpoint, log. It receives built objects."""

import logging
import math
import time
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader
from tqdm import tqdm

from zelda.engine.checkpoint import Checkpoints
from zelda.engine.device import autocast, grad_scaler, resolve_device, resolve_precision
from zelda.engine.distributed import STRATEGIES, data_parallel, world
from zelda.engine.evaluation import evaluate
from zelda.engine.interrupt import GracefulStop
from zelda.engine.metrics import AccuracyMetric
from zelda.engine.reports import Reports
from zelda.engine.state import EpochProgress, TrainState
from zelda.errors import ZeldaError
from zelda.runs.video_scores import ScoreCollector

log = logging.getLogger(__name__)


class Trainer:
    """Train for `max_epochs`, validating every `val_interval` epochs.

    `limit_train_batches` / `limit_val_batches` cut epochs short for smoke runs.
    Writes `checkpoints/last.pt` after every epoch (and at a safe point when stopped
    by Ctrl-C or SIGTERM) and `checkpoints/best.pt` whenever `val/top1` improves;
    `resume` (a checkpoint path) continues exactly where that checkpoint stopped.
    """

    def __init__(
        self,
        max_epochs: int = 10,
        val_interval: int = 1,
        device: str = "auto",
        strategy: str = "auto",
        sync_batchnorm: bool = False,
        log_every_n_steps: int = 1,
        progress_bar: bool | str = "auto",
        resume: str | None = None,
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
        precision: str | int = "32",
        compile: bool = False,
        cudnn_benchmark: bool = True,
        test_after_fit: bool = False,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"trainer.strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.max_epochs, self.val_interval = max_epochs, val_interval
        self.device = resolve_device(device)
        self.strategy, self.sync_batchnorm = strategy, sync_batchnorm
        if sync_batchnorm and self.device.type != "cuda":
            raise ZeldaError("trainer.sync_batchnorm=true needs CUDA (PyTorch's SyncBatchNorm has no CPU kernel); "
                             "on the CPU use model.backbone.norm_eval=true for batch-independent BatchNorm")
        self.main_process = world()[0] == 0
        self.log_every_n_steps = log_every_n_steps
        # tqdm's disable=None hides the bar when the console is not a terminal (CI, logs)
        self.disable_bar = None if progress_bar == "auto" and self.main_process else not (progress_bar and self.main_process)
        self.resume = resume
        self.limit_train_batches, self.limit_val_batches = limit_train_batches, limit_val_batches
        self.precision = resolve_precision(precision, self.device)
        self.compile, self.cudnn_benchmark = compile, cudnn_benchmark
        self.test_after_fit = test_after_fit
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
        scheduler: Callable[..., LRScheduler] | None = None,
        test_loader: DataLoader | None = None,
    ) -> dict[str, Any]:
        """Run the whole training; returns the summary (best and final metrics).
        `scheduler(optimizer, steps_per_epoch, max_epochs)` builds an lr schedule
        stepped after every optimizer step."""
        self.reports = Reports(loggers, Path(run_dir), self.main_process)
        torch.backends.cudnn.benchmark = self.cudnn_benchmark  # fastest conv algorithms for fixed shapes
        if self.compile:
            model.backbone.compile()  # in place: checkpoint keys stay those of the plain module
        model, self.train_model = data_parallel(model, self.device, self.strategy, self.sync_batchnorm)
        opt = optimizer(model.parameters())
        steps = min(len(train_loader), self.limit_train_batches or len(train_loader))
        self.scheduler = scheduler(opt, steps_per_epoch=steps, max_epochs=self.max_epochs) if scheduler else None
        self.scaler = grad_scaler(self.device, self.precision)
        checkpoints = Checkpoints(Path(run_dir) / "checkpoints", model, opt, self.scaler, self.scheduler,
                                  extra_state or {}, enabled=self.main_process)
        state = TrainState()
        if self.resume:
            state = checkpoints.restore(self.resume)
            log.info("resumed from %s: %d epochs done, %d batches into the next",
                     self.resume, state.epoch, state.progress.batches)
        log.info("training on %s for %d epochs: %d train clips, %d val videos",
                 self.device, self.max_epochs, len(train_loader.dataset), len(val_loader.dataset))
        fit_start = time.perf_counter()

        def save_progress() -> None:
            """At an agreed stop: rank 0 saves every rank's progress into the epoch, merged."""
            self.reports.merge_progress(state.progress)
            checkpoints.save(state)

        with GracefulStop() as stop:
            for epoch in range(state.epoch + 1, self.max_epochs + 1):
                epoch_start = time.perf_counter()
                self.train_epoch(model, opt, train_loader, epoch, state, stop, save_progress)
                row = epoch_row(state.progress, opt.param_groups[0]["lr"])
                videos = ScoreCollector(val_loader.dataset.video_dir)
                if epoch % self.val_interval == 0 or epoch == self.max_epochs:
                    val_start = time.perf_counter()
                    row.update({f"val/{k}": v for k, v in self.evaluate(model, val_loader, metric, stop, save_progress, videos).items()})
                    row["val/time_s"] = time.perf_counter() - val_start
                best = state.improves(row, epoch)
                row["epoch_time_s"] = time.perf_counter() - epoch_start
                self.reports.epoch(row, epoch, self.max_epochs, videos, best)
                state.epoch, state.progress = epoch, EpochProgress()
                checkpoints.save(state, best=best)
                self.reports.checkpoint(checkpoints.folder / "last.pt", best)
                self.summary = summarize(state, row, time.perf_counter() - fit_start)
                self.reports.summary(self.summary)
        if self.test_after_fit and test_loader is not None:
            self.test(model, test_loader, metric)
        return self.summary

    def train_epoch(self, model: nn.Module, opt: torch.optim.Optimizer, loader: DataLoader, epoch: int,
                    state: TrainState, stop: GracefulStop, save_progress: Callable[[], None]) -> None:
        """Train over the epoch's remaining batches, advancing `state` step by step."""
        model.train()
        progress = state.progress
        loader.sampler.set_epoch(epoch, start=progress.batches * loader.batch_size)
        remaining = max(0, min(len(loader), (self.limit_train_batches or math.inf) - progress.batches))
        bar = tqdm(islice(loader, remaining), desc=f"epoch {epoch}/{self.max_epochs} train", total=remaining,
                   disable=self.disable_bar, leave=False, dynamic_ncols=True)
        tick = time.perf_counter()
        for batch in bar:
            loaded = time.perf_counter()
            progress.unrecorded += [video for sample in batch["samples"] for video in sample.skipped]
            with autocast(self.device, self.precision):
                loss = self.train_model(batch["inputs"], batch["samples"], mode="loss")
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
            lr = progress.lr = opt.param_groups[0]["lr"]  # the lr this step used
            if self.scheduler is not None:
                self.scheduler.step()
            loss_value = loss.item()
            done = time.perf_counter()
            state.global_step += 1
            progress.batches += 1
            progress.losses.append(loss_value)
            progress.clips += batch["inputs"].shape[0]
            progress.data_time += loaded - tick
            progress.step_time += done - loaded
            bar.set_postfix(loss=f"{loss_value:.4f}", clips_per_s=f"{progress.clips / (progress.data_time + progress.step_time):.2f}")
            if state.global_step % self.log_every_n_steps == 0:
                step_row = {"train/loss": loss_value, "lr": lr, "time/data_s": loaded - tick, "time/step_s": done - loaded}
                self.reports.step(step_row, state.global_step)
            stop.check(save_progress)
            tick = time.perf_counter()
        self.reports.merge_progress(progress)

    def evaluate(self, model: nn.Module, loader: DataLoader, metric: AccuracyMetric,
                 stop: GracefulStop | None = None, on_stop: Callable[[], None] | None = None,
                 on_batch: Callable[[Sequence[Any], torch.Tensor], None] | None = None) -> dict[str, float]:
        """`zelda.engine.evaluation.evaluate` on this trainer's device, precision and batch limit."""
        return evaluate(model, loader, metric, self.device, self.precision, self.limit_val_batches,
                        self.disable_bar, stop, on_stop, on_batch)

    def test(self, model: nn.Module, loader: DataLoader, metric: AccuracyMetric) -> None:
        """Evaluate the final weights on the test split: `test/*` in the summary, W&B and
        `test_metrics.json`."""
        results = {f"test/{k}": v for k, v in self.evaluate(model, loader, metric).items()}
        log.info("test: %s", ", ".join(f"{k}={v:.4g}" for k, v in results.items()))
        self.summary.update(results)
        self.reports.test_results(results)

def epoch_row(progress: EpochProgress, current_lr: float) -> dict[str, Any]:
    """The epoch's training values for metrics.jsonl and the loggers; `lr` is the one its last
    step used (`current_lr` when it took no step)."""
    seconds = progress.data_time + progress.step_time
    return {
        "train/loss": sum(progress.losses) / max(len(progress.losses), 1),  # merged: means over ranks
        "lr": current_lr if progress.lr is None else progress.lr, "train/data_time_s": progress.data_time, "train/step_time_s": progress.step_time,
        "train/clips_per_s": progress.clips / seconds if seconds else 0.0, "train/skipped_videos": progress.skipped,
    }


def summarize(state: TrainState, final: dict[str, Any], train_time_s: float) -> dict[str, Any]:
    """The run's summary after `state.epoch` epochs: best and final metrics."""
    return {"best/val_top1": state.best["val/top1"] if state.best["epoch"] else None, "best/epoch": state.best["epoch"],
            "final": final, "epochs": state.epoch, "train_time_s": train_time_s}
