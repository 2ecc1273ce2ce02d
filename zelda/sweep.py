"""What a multirun sweeps over, recorded once so that every job can name itself by it.

Inside a job, Hydra only knows that job's values (`optimizer.lr=0.01`), not which
keys were swept. `SweepRecorder` runs in the launching process before any job and
writes `<sweep dir>/sweep.json`; jobs, in any process or on any node that sees the
sweep dir, read it to name their W&B run by the swept keys alone.
"""

import json
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

SWEEP_FILE = "sweep.json"


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
