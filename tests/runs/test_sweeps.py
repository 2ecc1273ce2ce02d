"""Multiruns: one dir and one W&B run per job, failures contained, launchers, Optuna."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import TINY_DATA, read_wandb_run, run_cli

from zelda.runs.sweep import objective


def multirun(tmp_path: Path, *overrides: str) -> tuple[Path, subprocess.CompletedProcess]:
    sweep = tmp_path / "sweep"
    result = run_cli("zelda.train", "-m", *TINY_DATA, f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.sweep.dir={sweep}", *overrides)
    return sweep, result


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grid")
    sweep, result = multirun(tmp, "optimizer.lr=0.001,0.01", "pipeline.clip_len=4,8", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep


def test_grid_gives_one_dir_per_job_with_its_overrides(grid):
    jobs = sorted(p for p in grid.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1", "2", "3"]
    seen = set()
    for job in jobs:
        config = yaml.safe_load((job / "config.yaml").read_text())
        lr, clip_len = config["optimizer"]["lr"], config["pipeline"]["clip_len"]
        seen.add((lr, clip_len))
        samplers = [t for s in ("train", "val") for t in config["pipeline"][s] if t["_target_"].endswith("VideoSample")]
        assert [s["clip_len"] for s in samplers] == [clip_len, clip_len]
        assert f"pipeline.clip_len={clip_len}" in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        assert json.loads((job / "summary.json").read_text())["status"] == "completed"
    assert seen == {(0.001, 4), (0.001, 8), (0.01, 4), (0.01, 8)}
    assert json.loads((grid / "sweep.json").read_text())["swept_keys"] == ["optimizer.lr", "pipeline.clip_len"]


def test_each_job_is_one_wandb_run_in_the_sweep_group_with_only_its_own_history(grid):
    ids = set()
    for job in sorted(p for p in grid.iterdir() if p.is_dir()):
        config = yaml.safe_load((job / "config.yaml").read_text())
        lr, clip_len = config["optimizer"]["lr"], config["pipeline"]["clip_len"]
        wandb = read_wandb_run(job)
        ids.add(wandb["run_id"])
        assert wandb["run"]["run_group"] == grid.name and wandb["run"]["job_type"] == "train"
        assert wandb["run"]["display_name"] == f"lr={lr},clip_len={clip_len}"
        assert wandb["config"]["optimizer"]["lr"] == lr and wandb["config"]["pipeline"]["clip_len"] == clip_len
        assert [row["epoch"] for row in wandb["history"] if "val/top1" in row] == [1, 2]
        steps = [row["global_step"] for row in wandb["history"] if "train/loss" in row]
        assert steps == [1, 2, 3, 4]  # 2 batches x 2 epochs, counted from 1: nothing from other jobs
        assert wandb["state"] == "finished" and wandb["summary"]["best/val_top1"] is not None
    assert len(ids) == 4


def test_a_failing_job_does_not_stop_the_sweep(tmp_path):
    sweep, result = multirun(tmp_path, "optimizer.lr=-1.0,0.01", "pipeline.clip_len=4", "trainer.max_epochs=1")
    assert result.returncode != 0  # the sweep says that some job failed
    failed, passed = sweep / "0", sweep / "1"
    assert json.loads((failed / "summary.json").read_text())["status"] == "failed"
    assert "optimizer.lr=-1.0: must be a number > 0" in (failed / "error.txt").read_text()
    assert not (failed / "wandb").exists()  # refused at startup, before a W&B run starts
    assert json.loads((passed / "summary.json").read_text())["status"] == "completed"
    assert read_wandb_run(passed)["exit_code"] == 0


def test_two_runs_started_together_get_their_own_dirs(tmp_path):
    command = [sys.executable, "-m", "zelda.train", "experiment=debug_smoke", *TINY_DATA,
               "pipeline.clip_len=4", f"paths.data_dir={tmp_path / 'data'}"]
    processes = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()[-2000:]
    runs = list((tmp_path / "outputs").iterdir())
    assert len(runs) == 2
    assert all(json.loads((run / "summary.json").read_text())["status"] == "completed" for run in runs)


@pytest.mark.parametrize("launcher", ["parallel", "submitit_local"])
def test_parallel_launchers_run_two_jobs(tmp_path, launcher):
    sweep, result = multirun(tmp_path, f"hydra/launcher={launcher}", "optimizer.lr=0.001,0.01",
                             "pipeline.clip_len=4", "trainer.max_epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    for job in ("0", "1"):
        assert json.loads((sweep / job / "summary.json").read_text())["status"] == "completed"
        assert read_wandb_run(sweep / job)["state"] == "finished"


def test_optuna_preset_runs_trials_and_maximizes_the_final_val_top1(tmp_path):
    sweep, result = multirun(tmp_path, "experiment=optuna_lr_clip", "hydra.sweeper.n_trials=3", "trainer.max_epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    finals = [json.loads((sweep / job / "summary.json").read_text())["final"]["val/top1"] for job in ("0", "1", "2")]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(max(finals))


def test_objective_picks_the_final_or_the_best_epoch():
    summary = {"final": {"val/top1": 0.6}, "best/val_top1": 0.8}
    assert objective(summary, "final") == 0.6 and objective(summary, "best") == 0.8
    assert objective({"final": None, "best/val_top1": None}, "final") is None  # no validation ran


def test_compare_reads_the_grid_back(grid, tmp_path):
    result = run_cli("zelda.compare", str(grid), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("common:") and "trainer.max_epochs=2" in lines[0]
    table = [line.split() for line in lines[2:6]]  # header, then one row per job
    for row in table:
        lr, clip_len, final, best = row[:4]
        [job] = [j for j in grid.iterdir() if j.is_dir() and
                 yaml.safe_load((j / "config.yaml").read_text())["optimizer"]["lr"] == float(lr) and
                 yaml.safe_load((j / "config.yaml").read_text())["pipeline"]["clip_len"] == int(clip_len)]
        summary = json.loads((job / "summary.json").read_text())
        assert float(best) == pytest.approx(summary["best/val_top1"], abs=1e-3)
        assert float(final) == pytest.approx(summary["final"]["val/top1"], abs=1e-3)
    assert [float(row[2]) for row in table] == sorted((float(row[2]) for row in table), reverse=True)  # by final
    for name in ("comparison.csv", "comparison.md", "comparison.png"):
        assert (tmp_path / name).stat().st_size > 0
