"""The epoch loop: train, validate, checkpoint, log. It receives built objects."""

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader
from tqdm import tqdm

from zelda.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from zelda.distributed import local_rank, mean_over_ranks, world
from zelda.errors import ZeldaError
from zelda.interrupt import GracefulStop
from zelda.metrics import AccuracyMetric

log = logging.getLogger(__name__)
PRECISIONS = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively (CUDA with bf16; CPUs with AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str | int, device: torch.device) -> str:
    """`auto`: bf16-mixed where the device has native bf16, else 32."""
    if str(precision) == "auto":
        return "bf16-mixed" if native_bf16(device) else "32"
    if str(precision) not in PRECISIONS:
        raise ValueError(f"trainer.precision must be auto or one of {list(PRECISIONS)}, got {precision!r}")
    return str(precision)


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when present (this rank's GPU under torchrun), else the CPU."""
    if device == "auto":
        return torch.device(f"cuda:{local_rank()}" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class EpochProgress:
    """What one training epoch has done so far; saved in checkpoints to resume mid-epoch."""

    batches: int = 0
    clips: int = 0
    skipped: int = 0
    data_time: float = 0.0
    step_time: float = 0.0
    losses: list[float] = field(default_factory=list)


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
        self.max_epochs = max_epochs
        self.val_interval = val_interval
        if strategy not in ("auto", "ddp"):
            raise ValueError(f"trainer.strategy must be auto or ddp, got {strategy!r}")
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
        self.limit_train_batches = limit_train_batches
        self.limit_val_batches = limit_val_batches
        self.precision = resolve_precision(precision, self.device)
        self.compile = compile
        self.cudnn_benchmark = cudnn_benchmark
        self.test_after_fit = test_after_fit
        self.summary: dict[str, Any] = {}

    def autocast(self) -> torch.autocast:
        """Mixed precision for `bf16-mixed` / `16-mixed`; a no-op for 32."""
        dtype = PRECISIONS[self.precision]
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

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
        self.run_dir = Path(run_dir)
        self.loggers, self.extra_state = loggers, extra_state or {}
        if self.strategy == "ddp" and self.sync_batchnorm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(self.device)
        torch.backends.cudnn.benchmark = self.cudnn_benchmark  # fastest conv algorithms for fixed shapes
        if self.compile:
            model.backbone.compile()  # in place: checkpoint keys stay those of the plain module
        # training steps go through DDP (gradients averaged over ranks); evaluation and
        # checkpoints use the plain module, so checkpoints load without DDP
        self.train_model = DistributedDataParallel(model, device_ids=[self.device] if self.device.type == "cuda" else None) \
            if self.strategy == "ddp" else model
        opt = optimizer(model.parameters())
        steps = min(len(train_loader), self.limit_train_batches or len(train_loader))
        self.scheduler = scheduler(opt, steps_per_epoch=steps, max_epochs=self.max_epochs) if scheduler else None
        # fp16 gradients underflow without loss scaling; bf16 and fp32 need none
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "16-mixed")
        epoch, global_step, progress = 1, 0, EpochProgress()
        best = {"val/top1": -math.inf, "epoch": None}
        if self.resume:
            state = load_checkpoint(self.resume)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if state.get("scaler"):  # empty unless the run used 16-mixed
                self.scaler.load_state_dict(state["scaler"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"])
            epoch, global_step, best = state["epoch"] + 1, state["global_step"], state["best"]
            progress = EpochProgress(**state["progress"])
            log.info("resumed from %s: %d epochs done, %d batches into the next", self.resume, epoch - 1, progress.batches)
        log.info("training on %s for %d epochs: %d train clips, %d val videos",
                 self.device, self.max_epochs, len(train_loader.dataset), len(val_loader.dataset))
        fit_start = time.perf_counter()
        with GracefulStop() as stop:
            for epoch in range(epoch, self.max_epochs + 1):
                epoch_start = time.perf_counter()
                save_progress = lambda step: self.save(model, opt, epoch - 1, step, best, progress)  # noqa: E731
                global_step = self.train_epoch(model, opt, train_loader, epoch, global_step, progress, stop, save_progress)
                row = self.epoch_row(progress, opt)
                if epoch % self.val_interval == 0 or epoch == self.max_epochs:
                    val_start = time.perf_counter()
                    on_stop = lambda: save_progress(global_step)  # noqa: E731
                    row.update({f"val/{k}": v for k, v in self.evaluate(model, val_loader, metric, stop, on_stop).items()})
                    row["val/time_s"] = time.perf_counter() - val_start
                    if row["val/top1"] > best["val/top1"]:
                        best = {"val/top1": row["val/top1"], "epoch": epoch}
                row["epoch_time_s"] = time.perf_counter() - epoch_start
                for logger in loggers:
                    logger.log_epoch(row, epoch)
                log.info("epoch %d/%d: %s", epoch, self.max_epochs,
                         ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
                progress = EpochProgress()
                self.save(model, opt, epoch, global_step, best, progress, best_epoch=best["epoch"] == epoch)
                self.summary = {
                    "best/val_top1": best["val/top1"] if best["epoch"] else None,
                    "best/epoch": best["epoch"], "final": row, "epochs": epoch,
                    "train_time_s": time.perf_counter() - fit_start,
                }
                for logger in loggers:
                    logger.summary({k: v for k, v in self.summary.items() if k != "final"})
        if self.test_after_fit and test_loader is not None:
            self.test(model, test_loader, metric)
        return self.summary

    def test(self, model: nn.Module, loader: DataLoader, metric: AccuracyMetric) -> None:
        """Evaluate the final weights on the test split: `test/*` in the summary, W&B and
        `test_metrics.json`."""
        results = {f"test/{k}": v for k, v in self.evaluate(model, loader, metric).items()}
        log.info("test: %s", ", ".join(f"{k}={v:.4g}" for k, v in results.items()))
        self.summary.update(results)
        for logger in self.loggers:
            logger.summary(results)
        if self.main_process:
            (self.run_dir / "test_metrics.json").write_text(json.dumps(results, indent=2) + "\n")

    def save(self, model: nn.Module, opt: torch.optim.Optimizer, epoch: int, global_step: int,
             best: dict[str, Any], progress: EpochProgress, best_epoch: bool = False) -> None:
        """Write `last.pt` (and `best.pt`): `epoch` epochs done, then `progress` into the next."""
        if not self.main_process:
            return
        state = {
            "model": model.state_dict(), "optimizer": opt.state_dict(), "scaler": self.scaler.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None, "epoch": epoch,
            "global_step": global_step, "best": best, "progress": asdict(progress), "rng": rng_state(),
            **self.extra_state,
        }
        save_checkpoint(state, self.run_dir / "checkpoints" / "last.pt")
        if best_epoch:
            save_checkpoint(state, self.run_dir / "checkpoints" / "best.pt")

    def train_epoch(
        self, model: nn.Module, opt: torch.optim.Optimizer, loader: DataLoader, epoch: int,
        global_step: int, progress: EpochProgress, stop: GracefulStop, save_progress: Callable[[int], None],
    ) -> int:
        """Train over the epoch's remaining batches, updating `progress`; returns the global step."""
        model.train()
        loader.sampler.set_epoch(epoch, start=progress.batches * loader.batch_size)
        limit = self.limit_train_batches or math.inf
        remaining = max(0, min(len(loader), limit - progress.batches))
        bar = tqdm(islice(loader, remaining), desc=f"epoch {epoch}/{self.max_epochs} train", total=remaining,
                   disable=self.disable_bar, leave=False, dynamic_ncols=True)
        tick = time.perf_counter()
        for batch in bar:
            loaded = time.perf_counter()
            progress.skipped += record_skipped(batch["samples"], self.run_dir)
            with self.autocast():
                loss = self.train_model(batch["inputs"], batch["samples"], mode="loss")
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
            lr = opt.param_groups[0]["lr"]  # the lr this step used
            if self.scheduler is not None:
                self.scheduler.step()
            loss_value = loss.item()
            done = time.perf_counter()
            global_step += 1
            progress.batches += 1
            progress.losses.append(loss_value)
            progress.clips += batch["inputs"].shape[0]
            progress.data_time += loaded - tick
            progress.step_time += done - loaded
            bar.set_postfix(loss=f"{loss_value:.4f}", clips_per_s=f"{progress.clips / (progress.data_time + progress.step_time):.2f}")
            if global_step % self.log_every_n_steps == 0:
                step_row = {"train/loss": loss_value, "lr": lr,
                            "time/data_s": loaded - tick, "time/step_s": done - loaded}
                for logger in self.loggers:
                    logger.log_step(step_row, global_step)
            stop.check(lambda: save_progress(global_step))
            tick = time.perf_counter()
        return global_step

    @staticmethod
    def epoch_row(progress: EpochProgress, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """The epoch's training values for metrics.jsonl and the loggers."""
        seconds = progress.data_time + progress.step_time
        return {
            "train/loss": mean_over_ranks(sum(progress.losses) / max(len(progress.losses), 1)),
            "lr": opt.param_groups[0]["lr"],
            "train/data_time_s": progress.data_time, "train/step_time_s": progress.step_time,
            "train/clips_per_s": progress.clips / seconds if seconds else 0.0, "train/skipped_videos": progress.skipped,
        }

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader, metric: AccuracyMetric,
                 stop: GracefulStop | None = None, on_stop: Callable[[], None] | None = None,
                 on_batch: Callable[[Sequence[Any], torch.Tensor], None] | None = None) -> dict[str, float]:
        """Metrics of the model over the whole loader, from a fresh metric state;
        `on_batch(samples, scores)` sees every batch's per-video scores."""
        model.to(self.device).eval()
        metric.reset()
        total = min(len(loader), self.limit_val_batches or len(loader))
        for batch in tqdm(islice(loader, total), desc="val", total=total, disable=self.disable_bar,
                          leave=False, dynamic_ncols=True):
            views = {sample.meta["num_clips"] * sample.meta.get("num_crops", 1) for sample in batch["samples"]}
            if views != {batch["inputs"].shape[1]}:
                raise ValueError(f"batch has {batch['inputs'].shape[1]} views per video, but its samples were "
                                 f"sampled as {views} (num_clips x num_crops)")
            with self.autocast():
                scores = model(batch["inputs"], batch["samples"], mode="predict")
            metric.update(scores, torch.tensor([sample.label for sample in batch["samples"]]))
            if on_batch is not None:
                on_batch(batch["samples"], scores)
            if stop is not None:
                stop.check(on_stop)
        metric.gather()  # every rank's videos, each once
        return metric.compute()


def record_skipped(samples: Sequence[Any], run_dir: Path) -> int:
    """Append the videos that failed and were replaced to `bad_videos.txt`; count them."""
    lines = [f"{filename}\t{error}\n" for sample in samples for filename, error in sample.skipped]
    if lines:
        with (run_dir / "bad_videos.txt").open("a") as file:
            file.writelines(lines)
        log.warning("skipped %d unreadable video(s), listed in %s", len(lines), run_dir / "bad_videos.txt")
    return len(lines)
