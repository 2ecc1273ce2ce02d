"""Sweeps: what a multirun sweeps over, each job's W&B group and name, and the value a
job returns to a sweeper that optimizes.

Inside a job, Hydra only knows that job's values (`optimizer.lr=0.01`), not which
keys were swept. `SweepRecorder` runs in the launching process before any job and
writes `<sweep dir>/sweep.json`; jobs, in any process or on any node that sees the
sweep dir, read it to name their W&B run by the swept keys alone.
"""

import json
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

SWEEP_FILE = "sweep.json"
OBJECTIVES = ("final", "best")  # `objective`: the val/top1 of the last epoch or of the best one


def swept_keys(command_line: list[str], sweeper_params: dict[str, Any] | None) -> list[str]:
    """Keys given several values on the command line or in `hydra.sweeper.params`."""
    parsed = OverridesParser.create().parse_overrides(command_line)
    keys = [override.key_or_group for override in parsed if override.is_sweep_override()]
    return keys + [key for key in (sweeper_params or {}) if key not in keys]


def read_swept_keys(sweep_dir: str | Path) -> list[str] | None:
    """The keys recorded by `SweepRecorder`, or None if the sweep has no record."""
    path = Path(sweep_dir) / SWEEP_FILE
    return json.loads(path.read_text())["swept_keys"] if path.is_file() else None


class SweepRecorder(Callback):
    """Hydra callback: write `sweep.json` (swept keys, command line) at multirun start."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        hydra = config.hydra
        command_line = list(hydra.overrides.task)
        params = hydra.sweeper.get("params")
        record = {"swept_keys": swept_keys(command_line, dict(params) if params else None), "overrides": command_line}
        sweep_dir = Path(hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(record, indent=2) + "\n")


def run_name(overrides: list[str], exclude: list[str], only: list[str] | None = None) -> str | None:
    """A short name from a job's overrides: `optimizer.lr=0.01` -> `lr=0.01`."""
    parts = []
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key not in exclude and not key.startswith("hydra.") and (only is None or key in only):
            parts.append(f"{key.rsplit('.', 1)[-1]}={value}")
    return ",".join(parts) or None


def job_identity() -> dict[str, str | None]:
    """W&B group and name of this Hydra job: the sweep's folder name groups the jobs
    of one multirun; the name comes from the job's overrides (in a sweep, the swept
    ones only), minus `hydra.job.config.override_dirname.exclude_keys` (e.g. `seed`)."""
    hydra = HydraConfig.get()
    exclude = list(hydra.job.config.override_dirname.exclude_keys)
    if hydra.mode != RunMode.MULTIRUN:
        return {"group": None, "name": run_name(list(hydra.overrides.task), exclude)}
    swept = read_swept_keys(hydra.sweep.dir)
    return {"group": Path(hydra.sweep.dir).name, "name": run_name(list(hydra.overrides.task), exclude, swept)}


def objective(summary: dict[str, Any], which: str) -> float | None:
    """The val/top1 a sweeper maximizes: of the last epoch (`final`) or of the best one (`best`)."""
    return (summary.get("final") or {}).get("val/top1") if which == "final" else summary.get("best/val_top1")
