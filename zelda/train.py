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
from omegaconf import DictConfig, OmegaConf

from zelda.config.changes import check_resume_config
from zelda.config.checks import check_config, check_dataset_config
from zelda.data.loader import build_loaders, prepare_data
from zelda.engine.checkpoint import load_checkpoint, resolve_resume
from zelda.engine.distributed import barrier, join_process_group, prepare_argv, world
from zelda.engine.interrupt import Interrupted
from zelda.engine.seed import seed_everything
from zelda.errors import ZeldaError, user_error
from zelda.runs.loggers import JsonlLogger, build_loggers, drop_rows_after
from zelda.runs.records import read_summary, write_config, write_provenance, write_summary
from zelda.runs.restore import class_names
from zelda.runs.sweep import objective

log = logging.getLogger("zelda.train")


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Build everything from `cfg`, train, and leave the run's files in `run_dir`.

    In a distributed run every rank trains; only rank 0 writes files and logs. What can
    refuse the run (config values, the checkpoint to resume and its config) is checked
    before a W&B run starts and before an earlier launch's files in `run_dir` change.
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
    status, summary, origin = "failed", {}, {}
    stopped_together = False  # by a stop signal, at the same step on every rank
    # a new run records even a startup failure; an earlier launch's files change only once this one may start
    recording = main_process and not (run_dir / "summary.json").is_file()
    try:
        check_config(cfg)
        prepare_data(cfg, rank, world_size)  # the dataset names the classes: a download comes first
        check_dataset_config(cfg)
        config = OmegaConf.to_container(cfg, resolve=True)
        resume = resolve_resume(cfg.trainer.resume, run_dir)
        state = load_checkpoint(resume) if resume else {}
        if resume:
            check_resume_config(state.get("config"), config, cfg.resume_allow_changes, resume)
        same_run = resume is not None and resume.resolve().is_relative_to(run_dir.resolve())
        if same_run and (recorded := completed_summary(run_dir, state, cfg.trainer.max_epochs)):
            log.info("run already complete: %s holds all %d epochs and summary.json says completed; its files are "
                     "left as they were (raise trainer.max_epochs to train longer)", resume, state["epoch"])
            status = "completed"
            return recorded
        if resume and not same_run:  # only this run dir's own checkpoint continues its W&B run
            origin = {"resumed_from": {"checkpoint": str(resume.absolute()), "wandb_run_id": state.get("wandb_run_id")}}
            log.info("resuming %s in a new run dir: a new W&B run records where it started", resume)
        recording = main_process
        seed_everything(cfg.seed)
        if main_process:
            run_config = {**write_config(cfg, run_dir), "provenance": write_provenance(run_dir), **origin}
            write_summary(run_dir, {"status": "running", "run_dir": str(run_dir), **origin})
            if resume:
                drop_rows_after(run_dir / "metrics.jsonl", state["epoch"])
        train_loader, val_loader, test_loader = build_loaders(cfg, rank, world_size)
        if main_process:
            names = class_names(cfg)
            loggers.append(JsonlLogger(run_dir, names))
            loggers += build_loggers(cfg, run_dir, run_config, state.get("wandb_run_id") if same_run else None,
                                     state.get("global_step", 0), state.get("epoch", 0), names)
        trainer = instantiate(cfg.trainer, resume=str(resume) if resume else None)
        summary = trainer.fit(
            instantiate(cfg.model), instantiate(cfg.optimizer), train_loader, val_loader, instantiate(cfg.metric),
            loggers, run_dir, extra_state={"wandb_run_id": getattr(loggers[-1], "run_id", None) if loggers else None,
                                           "config": config},
            scheduler=instantiate(cfg.scheduler) if cfg.scheduler.get("_target_") else None,  # scheduler=none: constant
            test_loader=test_loader,
        )
        status = "completed"
        return summary
    except KeyboardInterrupt as interrupt:
        status, stopped_together = "interrupted", isinstance(interrupt, Interrupted)
        raise
    except Exception:
        if recording:
            (run_dir / "error.txt").write_text(traceback.format_exc())
        raise
    finally:
        if recording:
            write_summary(run_dir, {"status": status, "run_dir": str(run_dir), "world_size": world_size, **origin,
                                    **summary, "wall_time_s": time.perf_counter() - start})
        for logger in loggers:
            logger.finish(status)
        if main_process:
            log.info("run %s, files in %s", status, run_dir)
        if stopped_together:
            barrier()  # the others wait for rank 0 to close the run: torchrun stops all workers once one exits


def completed_summary(run_dir: Path, state: dict[str, Any], max_epochs: int) -> dict[str, Any] | None:
    """The recorded summary when `state` (this run's last.pt) holds all `max_epochs` epochs and
    summary.json says completed: a re-launched job reports that result instead of redoing it."""
    summary = read_summary(run_dir)
    return summary if summary.get("status") == "completed" and state["epoch"] >= max_epochs else None


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
