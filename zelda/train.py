"""Train a video recognizer: `python -m zelda.train [overrides]`."""

import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.config.checks import check_config
from zelda.data.loader import build_loaders
from zelda.engine.checkpoint import load_checkpoint, resolve_resume
from zelda.engine.distributed import join_process_group, prepare_argv, world
from zelda.engine.seed import seed_everything
from zelda.errors import ZeldaError, user_error
from zelda.runs.loggers import JsonlLogger, build_loggers, drop_rows_after
from zelda.runs.records import write_config, write_provenance, write_summary
from zelda.runs.sweep import objective

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


if __name__ == "__main__":
    sys.argv[1:] = prepare_argv(sys.argv[1:])  # under torchrun: one shared run dir
    main()
