"""What a run leaves in its directory besides metrics: config, provenance, summary,
skipped videos, test metrics."""

import json
import logging
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)
PACKAGES = ("torch", "decord", "av", "torchcodec", "hydra-core", "omegaconf", "wandb", "numpy")  # decoders: any may be absent


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


def write_json(path: Path, values: dict[str, Any]) -> None:
    """One of a run's JSON files (summary, test metrics), indented for reading."""
    path.write_text(json.dumps(values, indent=2, default=str) + "\n")


def write_summary(run_dir: Path, values: dict[str, Any]) -> None:
    """Write `summary.json` (status, best and final metrics, wall time)."""
    write_json(run_dir / "summary.json", {**values, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")})


def read_summary(run_dir: Path) -> dict[str, Any]:
    """`summary.json` back; empty when absent or half-written (a run killed while writing it)."""
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def record_skipped(videos: Sequence[tuple[str, str]], run_dir: Path) -> None:
    """Append the videos that failed and were replaced, `(path, error)`, to `bad_videos.txt`."""
    if videos:
        with (run_dir / "bad_videos.txt").open("a") as file:
            file.writelines(f"{filename}\t{error}\n" for filename, error in videos)
        log.warning("skipped %d unreadable video(s), listed in %s", len(videos), run_dir / "bad_videos.txt")
