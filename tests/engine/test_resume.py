"""Crashes, interrupts and resume; the same seed gives the same run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import ROOT, TINY_DATA, read_wandb_run, run_cli

RUN = [*TINY_DATA, "pipeline.clip_len=4", "trainer.max_epochs=4", "data.batch_size=2", "seed=7"]
TIMES = ("time", "_s", "clips_per_s")


def values(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the timing columns, which legitimately differ."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not any(t in k for t in TIMES)} for row in rows]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]


def train(tmp: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    result = run_cli("zelda.train", *RUN, f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={tmp / name}", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def start(tmp: Path, name: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "zelda.train", *RUN, f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={tmp / name}"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "WANDB_MODE": "offline"})


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("resume")
    train(tmp, "reference")
    return tmp, tmp / "reference"


def test_same_seed_same_metrics_and_weights_other_seed_differs(reference):
    tmp, first = reference
    train(tmp, "again")
    assert values(tmp / "again") == values(first)
    assert all(torch.equal(a, b) for a, b in zip(weights(first).values(), weights(tmp / "again").values()))
    train(tmp, "other_seed", "seed=8")
    assert values(tmp / "other_seed") != values(first)


def test_sigkill_then_resume_auto_matches_an_uninterrupted_run(reference):
    tmp, uninterrupted = reference
    process = start(tmp, "killed")
    wait_for(tmp / "killed" / "checkpoints" / "last.pt", process)
    process.kill()
    process.wait()
    done = len(values(tmp / "killed"))
    assert done < 4, "the run finished before it could be killed"
    result = train(tmp, "killed", "trainer.resume=auto")
    assert "resumed from" in result.stdout + result.stderr
    assert [row["epoch"] for row in values(tmp / "killed")] == [1, 2, 3, 4]  # no duplicated epochs
    assert values(tmp / "killed") == values(uninterrupted)
    assert all(torch.equal(a, b) for a, b in zip(weights(uninterrupted).values(), weights(tmp / "killed").values()))
    summary = json.loads((tmp / "killed" / "summary.json").read_text())
    assert summary["status"] == "completed"
    state = torch.load(tmp / "killed" / "checkpoints" / "last.pt", weights_only=True)
    [first_run] = [p for p in (tmp / "killed" / "wandb").glob("offline-run-*")][:1]
    assert state["wandb_run_id"] and state["wandb_run_id"] in first_run.name  # same W&B run id resumed


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_saves_at_a_safe_point_and_resumes_mid_epoch(reference, sig):
    tmp, uninterrupted = reference
    name = f"stopped_{sig.name}"
    process = start(tmp, name)
    wait_for(tmp / name / "checkpoints" / "last.pt", process)
    process.send_signal(sig)
    assert process.wait(timeout=60) == 130
    run_dir = tmp / name
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert read_wandb_run(run_dir)["exit_code"] == 1
    train(tmp, name, "trainer.resume=auto")
    assert values(run_dir) == values(uninterrupted)
    assert all(torch.equal(a, b) for a, b in zip(weights(uninterrupted).values(), weights(run_dir).values()))


def test_checkpoints_hold_everything_and_load_weights_only(reference):
    _, run_dir = reference
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert {"model", "optimizer", "epoch", "global_step", "best", "rng", "progress", "wandb_run_id"} <= state.keys()
    assert state["epoch"] == 4 and state["progress"]["batches"] == 0  # 4 epochs done, none of a 5th
    assert not list((run_dir / "checkpoints").glob(".*tmp*"))  # atomic writes leave no temp files


def test_resume_from_a_missing_path_is_a_clear_error(tmp_path):
    result = run_cli("zelda.train", *RUN, "logger=none", f"trainer.resume={tmp_path / 'nope.pt'}",
                     f"hydra.run.dir={tmp_path / 'run'}", f"paths.data_dir={tmp_path / 'data'}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert "no such checkpoint" in output
