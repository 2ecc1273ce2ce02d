"""Test helpers: generated videos and datasets, CLI runs, and W&B offline read-back."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from zelda.data.synthetic import render_video, write_mp4

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# With @pytest.mark.cuda (python -m pytest -m cuda on a GPU machine): skipped without CUDA.
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# A synthetic run small enough for a test: 8 train / 4 val videos of 32x32 clips.
TINY_DATA = [
    "data.prepare.num_train=8", "data.prepare.num_val=4", "data.prepare.num_frames=8",
    "data.prepare.height=48", "data.prepare.width=64",
    "pipeline.resize=40", "pipeline.crop_size=32", "pipeline.val_num_clips=2", "trainer.progress_bar=false",
]
TINY_RUN = [*TINY_DATA, "pipeline.clip_len=4", "trainer.max_epochs=1"]


def make_video(path: Path, num_frames: int = 12, height: int = 48, width: int = 64, label: int = 0, seed: int = 0) -> Path:
    """Write a small real h264 mp4 of a moving texture."""
    write_mp4(path, render_video(np.random.default_rng(seed), label, num_frames, height, width))
    return path


def run_cli(module: str, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python -m <module> args...` as a user would, W&B offline."""
    environment = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=timeout,
    )


def read_wandb_run(run_dir: Path) -> dict[str, Any]:
    """The one offline W&B run of a run dir (see `read_wandb_file`)."""
    [run] = read_wandb_runs(run_dir)
    return run


def read_wandb_runs(run_dir: Path) -> list[dict[str, Any]]:
    """Every offline W&B run of a run dir, oldest first: each launch of a resumed run writes its own."""
    return [read_wandb_file(path) for path in sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))]


def read_wandb_file(run_file: Path) -> dict[str, Any]:
    """Read an offline W&B run back from its file: run record, history rows, artifact records
    (logged tables and models, each with its manifest), the folder of its media files (tables
    are JSON files there, at the `path` their summary entry names), and the `--summary` view
    (state, exit_code, config, summary)."""
    wandb = Path(sys.executable).parent / "wandb"
    out = subprocess.run([str(wandb), "leet", "inspect", "--json", str(run_file)],
                         capture_output=True, text=True, check=True, timeout=120)
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    summary = subprocess.run([str(wandb), "leet", "inspect", "--summary", "--json", str(run_file)],
                             capture_output=True, text=True, check=True, timeout=120)
    [run] = [r["run"] for r in records if r["type"] == "run"]
    return {
        "run": run,
        "history": [r["history"]["item"] for r in records if r["type"] == "history"],
        "artifacts": [r["artifact"] for r in records if r["type"] == "artifact"],
        "config_updates": [r["config"]["update"] for r in records if r["type"] == "config"],  # e.g. chart panels
        "files": run_file.parent / "files",
        **json.loads(summary.stdout),
    }
