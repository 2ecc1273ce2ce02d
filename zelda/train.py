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

from zelda.data.loader import build_loader
from zelda.errors import find_zelda_error
from zelda.checkpoint import load_checkpoint, resolve_resume
from zelda.loggers import JsonlLogger, drop_rows_after
from zelda.run import job_identity, write_config, write_provenance, write_summary
from zelda.seed import seed_everything
from zelda.validate import check_config

log = logging.getLogger("zelda.train")


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Build everything from `cfg`, train, and leave the run's files in `run_dir`."""
    start = time.perf_counter()
    config = write_config(cfg, run_dir)
    config["provenance"] = write_provenance(run_dir)
    seed_everything(cfg.seed)
    loggers: list[Any] = [JsonlLogger(run_dir)]
    status, summary = "failed", {}
    write_summary(run_dir, {"status": "running", "run_dir": str(run_dir)})
    try:
        resume = resolve_resume(cfg.trainer.resume, run_dir)
        if resume:
            state = load_checkpoint(resume)
            drop_rows_after(run_dir / "metrics.jsonl", state["epoch"])
            log.info("resuming %s (W&B run %s)", resume, state.get("wandb_run_id"))
        if cfg.logger.get("_target_"):  # logger=none leaves no target
            identity = {k: v for k, v in job_identity().items() if cfg.logger.get(k) is None}
            if resume:
                identity["run_id"] = state.get("wandb_run_id")
            loggers.append(instantiate(cfg.logger, _partial_=True)(run_dir=run_dir, run_config=config, **identity))
        check_config(cfg)
        if cfg.data.get("prepare"):
            instantiate(cfg.data.prepare)
        train_set, val_set = instantiate(cfg.data.train), instantiate(cfg.data.val)
        loader = dict(num_workers=cfg.data.num_workers, persistent_workers=cfg.data.persistent_workers, seed=cfg.seed)
        train_loader = build_loader(train_set, cfg.data.batch_size, shuffle=cfg.data.shuffle, **loader)
        val_loader = build_loader(val_set, cfg.data.val_batch_size, shuffle=False, **loader)
        log.info("train set: %r", train_set)
        model = instantiate(cfg.model)
        trainer = instantiate(cfg.trainer, resume=str(resume) if resume else None)
        summary = trainer.fit(
            model, instantiate(cfg.optimizer), train_loader, val_loader, instantiate(cfg.metric),
            loggers, run_dir, extra_state={"wandb_run_id": getattr(loggers[-1], "run_id", None)},
        )
        status = "completed"
        return summary
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception:
        (run_dir / "error.txt").write_text(traceback.format_exc())
        raise
    finally:
        write_summary(run_dir, {"status": status, "run_dir": str(run_dir), **summary,
                                "wall_time_s": time.perf_counter() - start})
        for logger in loggers:
            logger.finish(status)
        log.info("run %s, files in %s", status, run_dir)


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns best val/top1 for sweepers that optimize it."""
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
        reason = find_zelda_error(error)
        if reason is None or HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        log.error("%s", reason)  # a problem the user can fix: a sentence, not a traceback
        sys.exit(1)
    return summary.get("best/val_top1")


if __name__ == "__main__":
    main()
