"""What a run leaves in its directory besides metrics: config, provenance, summary."""

import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from zelda.sweep import read_swept_keys

PACKAGES = ("torch", "decord", "hydra-core", "omegaconf", "wandb", "numpy")


def provenance() -> dict[str, Any]:
    """The code version, library versions and command line that produced a run."""
    root = Path(__file__).resolve().parent.parent
    git = {"commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
        git = {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.CalledProcessError):
        pass  # not a git checkout: the versions below still identify the code
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"git": git, "versions": versions, "command": list(sys.orig_argv), "host": platform.node()}


def write_provenance(run_dir: Path) -> dict[str, Any]:
    """Write `provenance.json` (code version, library versions, command line); return it."""
    values = provenance()
    (run_dir / "provenance.json").write_text(json.dumps(values, indent=2) + "\n")
    return values


def write_config(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Write the resolved config to `config.yaml`; return it as a plain dict."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    return resolved


def write_summary(run_dir: Path, values: dict[str, Any]) -> None:
    """Write `summary.json` (status, best and final metrics, wall time)."""
    values = {**values, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (run_dir / "summary.json").write_text(json.dumps(values, indent=2, default=str) + "\n")


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
