"""Where metrics go: `metrics.jsonl` in the run dir always, W&B when configured.

The trainer talks to loggers only through `log_step`, `log_epoch`, `summary` and
`finish`, so adding a backend never touches the training loop.
"""

import json
import logging
import netrc
import os
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.runs.sweep import job_identity

log = logging.getLogger(__name__)
WANDB_MODES = ("auto", "online", "offline", "disabled")


class JsonlLogger:
    """Append one JSON object per epoch to `<run_dir>/metrics.jsonl`."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"

    def log_step(self, metrics: dict[str, Any], step: int) -> None:
        """Per-iteration values are kept out of the file: it holds one row per epoch."""

    def log_epoch(self, metrics: dict[str, Any], epoch: int) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps({"epoch": epoch, **metrics}) + "\n")

    def summary(self, values: dict[str, Any]) -> None:
        """The run's summary is written by the trainer to summary.json."""

    def finish(self, status: str) -> None:
        """Nothing to close: every row is flushed when written."""


def drop_rows_after(path: Path, epoch: int) -> None:
    """Remove rows of epochs after `epoch`: a resumed run rewrites them, without duplicates."""
    if path.is_file():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["epoch"] <= epoch]
        path.write_text("".join(f"{row}\n" for row in rows))


def has_wandb_credentials() -> bool:
    """True when an API key is in the environment or in ~/.netrc (`wandb login`)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str | None) -> str:
    """`auto`: online with credentials, offline without; never a login prompt."""
    mode = mode or "auto"
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.mode must be one of {WANDB_MODES}, got {mode!r}")
    if mode == "auto":
        return "online" if has_wandb_credentials() else "offline"
    return mode


class WandbLogger:
    """One W&B run, its files under the run dir.

    Per-step values (`train/loss`, `lr`, `time/*`) are plotted against `global_step`;
    per-epoch values (`val/*`, `epoch/*`) against `epoch`.
    """

    def __init__(
        self,
        run_dir: str | Path,
        run_config: dict[str, Any],
        project: str = "zelda",
        entity: str | None = None,
        mode: str | None = "auto",
        group: str | None = None,
        name: str | None = None,
        job_type: str = "train",
        tags: list[str] | None = None,
        run_id: str | None = None,
    ) -> None:
        import wandb

        self.mode = resolve_mode(mode)
        self.run = wandb.init(
            project=project,
            entity=entity,
            dir=str(run_dir),
            config=run_config,
            mode=self.mode,
            group=group,
            name=name,
            job_type=job_type,
            tags=list(tags or []),
            id=run_id,
            resume="allow" if run_id else None,
            reinit="finish_previous",
            settings=wandb.Settings(console="off", silent=True),
        )
        self.run.define_metric("global_step")
        self.run.define_metric("epoch")
        for key in ("train/*", "lr", "time/*"):
            self.run.define_metric(key, step_metric="global_step")
        for key in ("val/*", "epoch/*"):
            self.run.define_metric(key, step_metric="epoch")
        log.info("W&B run %s (%s mode) in %s", self.run.id, self.mode, self.run.dir)

    @property
    def run_id(self) -> str:
        return self.run.id

    def log_step(self, metrics: dict[str, Any], step: int) -> None:
        self.run.log({"global_step": step, **metrics})

    def log_epoch(self, metrics: dict[str, Any], epoch: int) -> None:
        """`val/*` keep their names; other epoch values become `epoch/<key>` so that the
        per-epoch mean of `train/loss` does not mix with its per-step history."""
        row = {key if key.startswith("val/") else f"epoch/{key}": value for key, value in metrics.items()}
        self.run.log({"epoch": epoch, **row})

    def summary(self, values: dict[str, Any]) -> None:
        self.run.summary.update(values)

    def finish(self, status: str) -> None:
        """Close the run; a failed or interrupted run is marked failed in W&B."""
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status == "completed" else 1)


def build_loggers(cfg: DictConfig, run_dir: Path, config: dict[str, Any], run_id: str | None) -> list[Any]:
    """The W&B logger (none with logger=none), resuming `run_id` when given."""
    if not cfg.logger.get("_target_"):  # logger=none leaves no target
        return []
    identity = {k: v for k, v in job_identity().items() if cfg.logger.get(k) is None}
    if run_id:
        identity["run_id"] = run_id
    return [instantiate(cfg.logger, _partial_=True)(run_dir=run_dir, run_config=config, **identity)]
