"""Train a video recognizer: `python -m zelda.train [overrides]`."""

import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.data.loader import build_loader
from zelda.distributed import join_process_group, prepare_argv, world
from zelda.errors import ZeldaError, user_error
from zelda.checkpoint import load_checkpoint, resolve_resume
from zelda.loggers import JsonlLogger, drop_rows_after
from zelda.run import job_identity, write_config, write_provenance, write_summary
from zelda.seed import seed_everything
from zelda.validate import check_config

log = logging.getLogger("zelda.train")


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Build everything from `cfg`, train, and leave the run's files in `run_dir`.

    In a distributed run every rank trains; only rank 0 writes files and logs.
    """
    start = time.perf_counter()
    if cfg.trainer.strategy == "ddp":
        join_process_group()
    rank, world_size = world()
    if world_size > 1 and cfg.trainer.strategy != "ddp":
        raise ZeldaError(f"{world_size} processes were launched but trainer.strategy={cfg.trainer.strategy}; "
                         "add trainer.strategy=ddp")
    main_process = rank == 0
    loggers: list[Any] = []
    status, summary, config = "failed", {}, {}
    if main_process:
        config = write_config(cfg, run_dir)
        config["provenance"] = write_provenance(run_dir)
        loggers.append(JsonlLogger(run_dir))
        write_summary(run_dir, {"status": "running", "run_dir": str(run_dir)})
    seed_everything(cfg.seed)
    try:
        resume = resolve_resume(cfg.trainer.resume, run_dir)
        state = load_checkpoint(resume) if resume else {}
        if main_process:
            if resume:
                drop_rows_after(run_dir / "metrics.jsonl", state["epoch"])
            loggers += build_loggers(cfg, run_dir, config, state.get("wandb_run_id"))
        check_config(cfg)
        train_loader, val_loader, test_loader = build_loaders(cfg, rank, world_size)
        trainer = instantiate(cfg.trainer, resume=str(resume) if resume else None)
        summary = trainer.fit(
            instantiate(cfg.model), instantiate(cfg.optimizer), train_loader, val_loader, instantiate(cfg.metric),
            loggers, run_dir, extra_state={"wandb_run_id": getattr(loggers[-1], "run_id", None) if loggers else None},
            scheduler=instantiate(cfg.scheduler) if cfg.scheduler.get("_target_") else None,  # scheduler=none: constant
            test_loader=test_loader,
        )
        status = "completed"
        return summary
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception:
        if main_process:
            (run_dir / "error.txt").write_text(traceback.format_exc())
        raise
    finally:
        if main_process:
            write_summary(run_dir, {"status": status, "run_dir": str(run_dir), "world_size": world_size, **summary,
                                    "wall_time_s": time.perf_counter() - start})
            for logger in loggers:
                logger.finish(status)
            log.info("run %s, files in %s", status, run_dir)


def build_loggers(cfg: DictConfig, run_dir: Path, config: dict[str, Any], run_id: str | None) -> list[Any]:
    """The W&B logger (none with logger=none), resuming `run_id` when given."""
    if not cfg.logger.get("_target_"):  # logger=none leaves no target
        return []
    identity = {k: v for k, v in job_identity().items() if cfg.logger.get(k) is None}
    if run_id:
        identity["run_id"] = run_id
    return [instantiate(cfg.logger, _partial_=True)(run_dir=run_dir, run_config=config, **identity)]


def build_loaders(cfg: DictConfig, rank: int, world_size: int) -> tuple[Any, Any, Any]:
    """Train, val and (with trainer.test_after_fit) test loaders; rank 0 prepares the
    data while the others wait."""
    if cfg.data.get("prepare") and rank == 0:
        instantiate(cfg.data.prepare)
    if world_size > 1:
        torch.distributed.barrier()
    train_set, val_set = instantiate(cfg.data.train), instantiate(cfg.data.val)
    log.info("train set: %r", train_set)
    common = dict(num_workers=cfg.data.num_workers, persistent_workers=cfg.data.persistent_workers,
                  seed=cfg.seed, rank=rank, world_size=world_size, pin_memory=torch.cuda.is_available())
    test_loader = None
    if cfg.trainer.test_after_fit:
        test_loader = build_loader(instantiate(cfg.data.test), cfg.data.val_batch_size, shuffle=False, pad=False, **common)
    return (build_loader(train_set, cfg.data.batch_size, shuffle=cfg.data.shuffle, **common),
            build_loader(val_set, cfg.data.val_batch_size, shuffle=False, pad=False, **common), test_loader)


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns the final or best val/top1 (`objective`) for sweepers that optimize it."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    log.info("run dir: %s", run_dir)
    try:
        summary = train(cfg, run_dir)
    except KeyboardInterrupt:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        log.error("interrupted; continue with: trainer.resume=auto hydra.run.dir=%s", run_dir)
        sys.exit(130)
    except Exception as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweep records the failure and goes on with the other jobs
        log.error("%s", user_error(error))  # a problem the user can fix: a sentence, not a traceback
        sys.exit(1)
    return objective(summary, cfg.objective)


def objective(summary: dict[str, Any], which: str) -> float | None:
    """The val/top1 a sweeper maximizes: of the last epoch (`final`) or of the best one (`best`)."""
    return (summary.get("final") or {}).get("val/top1") if which == "final" else summary.get("best/val_top1")


if __name__ == "__main__":
    sys.argv[1:] = prepare_argv(sys.argv[1:])  # under torchrun: one shared run dir
    main()
