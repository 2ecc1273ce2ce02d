"""Crashes, interrupts and resume; the same seed gives the same run."""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from helpers import ROOT, TINY_DATA, read_wandb_run, read_wandb_runs, run_cli

from zelda.config.compose import compose_config
from zelda.engine.checkpoint import resolve_resume
from zelda.runs.sweep import objective
from zelda.train import train as train_in_process

RUN = [*TINY_DATA, "pipeline.clip_len=4", "trainer.max_epochs=4", "data.batch_size=2", "seed=7"]
TIMES = ("time", "_s", "clips_per_s")
RUN_FILES = ("summary.json", "metrics.jsonl", "config.yaml", "provenance.json", "checkpoints/last.pt",
             "checkpoints/best.pt")  # a run's own record (Hydra's .hydra/ and train.log note every launch)


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
def test_interrupt_saves_at_a_safe_point_and_resumes_mid_epoch_with_one_wandb_history(reference, sig):
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
    launches = read_wandb_runs(run_dir)  # offline, each launch writes its own file of the same run
    assert len(launches) == 2 and len({run["run_id"] for run in launches}) == 1
    history = [row for run in launches for row in run["history"]]
    assert [row["global_step"] for row in history if "train/loss" in row] == list(range(1, 17))  # 4 epochs x 4 steps
    assert [row["epoch"] for row in history if "val/top1" in row] == [1, 2, 3, 4]
    steps = [row["_step"] for row in history]
    assert steps == sorted(set(steps)), "W&B's row steps restart in the resumed launch: `wandb sync` would drop rows"


def test_checkpoints_hold_everything_and_load_weights_only(reference):
    _, run_dir = reference
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert {"model", "optimizer", "epoch", "global_step", "best", "rng", "progress", "wandb_run_id"} <= state.keys()
    assert state["config"] == yaml.safe_load((run_dir / "config.yaml").read_text())  # checked when resuming
    assert state["epoch"] == 4 and state["progress"]["batches"] == 0  # 4 epochs done, none of a 5th
    assert not list((run_dir / "checkpoints").glob(".*tmp*"))  # atomic writes leave no temp files


def test_resume_from_a_missing_path_is_a_clear_error(tmp_path):
    result = run_cli("zelda.train", *RUN, "logger=none", f"trainer.resume={tmp_path / 'nope.pt'}",
                     f"hydra.run.dir={tmp_path / 'run'}", f"paths.data_dir={tmp_path / 'data'}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert "no such checkpoint" in output


def test_resume_auto_on_a_completed_run_leaves_it_as_it_was_and_returns_its_result(reference):
    tmp, finished = reference
    run_dir = tmp / "relaunched"
    shutil.copytree(finished, run_dir)
    before = {name: (run_dir / name).read_bytes() for name in RUN_FILES}
    wandb_before = sorted(path.name for path in (run_dir / "wandb").iterdir())
    result = train(tmp, "relaunched", "trainer.resume=auto")
    assert "already complete" in result.stdout + result.stderr
    assert {name: (run_dir / name).read_bytes() for name in RUN_FILES} == before
    assert sorted(path.name for path in (run_dir / "wandb").iterdir()) == wandb_before  # no new W&B run
    recorded = json.loads(before["summary.json"])
    cfg = compose_config([*RUN, f"paths.data_dir={tmp / 'data'}", "trainer.resume=auto"])
    summary = train_in_process(cfg, run_dir)  # what a sweeper gets back from a re-launched job
    assert recorded["final"]["val/top1"] is not None
    assert objective(summary, "final") == recorded["final"]["val/top1"]
    assert objective(summary, "best") == recorded["best/val_top1"]


def test_resume_auto_without_a_checkpoint_says_it_starts_from_scratch(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        assert resolve_resume("auto", tmp_path) is None
    assert f"no checkpoint at {tmp_path / 'checkpoints' / 'last.pt'}; starting from scratch" in caplog.text


def test_resume_from_another_run_dir_starts_a_new_wandb_run_that_records_its_origin(reference):
    tmp, finished = reference
    checkpoint = finished / "checkpoints" / "last.pt"
    origin = torch.load(checkpoint, weights_only=True)["wandb_run_id"]
    # keys that may change on resume: train longer, other loader and logging settings
    train(tmp, "elsewhere", f"trainer.resume={checkpoint}", "trainer.max_epochs=5", "data.num_workers=0",
          "trainer.log_every_n_steps=2")
    run_dir = tmp / "elsewhere"
    assert [row["epoch"] for row in values(run_dir)] == [5]
    wandb = read_wandb_run(run_dir)
    resumed_from = {"checkpoint": str(checkpoint), "wandb_run_id": origin}
    assert wandb["run_id"] != origin and wandb["config"]["resumed_from"] == resumed_from
    assert json.loads((run_dir / "summary.json").read_text())["resumed_from"] == resumed_from
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["wandb_run_id"] == wandb["run_id"]


def test_resume_with_a_changed_config_is_refused_with_the_keys_that_differ(reference):
    tmp, finished = reference
    run_dir = tmp / "changed"
    result = run_cli("zelda.train", *RUN, f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={run_dir}",
                     f"trainer.resume={finished / 'checkpoints' / 'last.pt'}", "optimizer.lr=0.01",
                     "pipeline.clip_len=2", "trainer.max_epochs=5", "data.num_workers=0")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    changed = dict(line.strip().split(": ", 1) for line in output.splitlines() if "→" in line)
    assert changed == {"optimizer.lr": "0.001 → 0.01", "pipeline.clip_len": "4 → 2",  # and where it is used:
                       **{f"{split}.1.clip_len": "4 → 2" for split in ("pipeline.train", "pipeline.val",
                                                                      "data.train.pipeline", "data.val.pipeline")}}
    assert "resume_allow_changes" in output
    assert not (run_dir / "wandb").exists() and not (run_dir / "checkpoints").exists()
