"""`zelda.compare` on fake sweep dirs with known numbers: no training, so it stays fast."""

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers import ROOT

from zelda.compare import compare
from zelda.runs.comparison import final_by_key
from zelda.runs.history import load_run
from zelda.runs.per_video import predictions_path
from zelda.runs.predictions import write_predictions

COMMON = ["trainer.max_epochs=2", "hydra.job.chdir=false"]


def write_job(job: Path, overrides: list[str], top1: list[float] | None, status: str = "completed") -> None:
    """A run dir as `python -m zelda.train` leaves it; `top1=None`: a job that failed before epoch 1."""
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in [*overrides, *COMMON]))
    summary: dict[str, Any] = {"status": status, "wall_time_s": 5.0}
    if top1 is not None:
        rows = [{"epoch": e, "train/loss": 1.0 / e, "val/top1": v, "val/top5": min(1.0, v + 0.2),
                 "val/mean_class_acc": v - 0.05, "epoch_time_s": 10.0 * e} for e, v in enumerate(top1, start=1)]
        (job / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        best = max(range(len(top1)), key=top1.__getitem__)
        summary.update({"best/val_top1": top1[best], "best/epoch": best + 1, "final": rows[-1], "epochs": len(rows)})
    (job / "summary.json").write_text(json.dumps(summary))


def write_sweep(root: Path, jobs: list[tuple[list[str], list[float] | None]]) -> Path:
    for i, (overrides, top1) in enumerate(jobs):
        write_job(root / str(i), overrides, top1, "completed" if top1 is not None else "failed")
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


GRID = [  # optimizer.lr x pipeline.clip_len, best val/top1 in the middle of each history
    (["optimizer.lr=0.1", "pipeline.clip_len=4"], [0.50, 0.55]),
    (["optimizer.lr=0.1", "pipeline.clip_len=8"], [0.60, 0.80]),
    (["optimizer.lr=0.01", "pipeline.clip_len=4"], [0.70, 0.65]),
    (["optimizer.lr=0.01", "pipeline.clip_len=8"], [0.40, 0.45]),
]
SEEDS = [(["optimizer.lr=0.1", f"seed={s}"], top1) for s, top1 in [(1, [0.5, 0.6]), (2, [0.7, 0.65]), (3, [0.4, 0.8])]]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as file:
        return list(csv.DictReader(file))


def test_grid_rows_sorted_with_file_numbers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = write_sweep(tmp_path / "sweep", GRID)
    rows = compare([sweep], tmp_path / "out")
    assert [(r["optimizer.lr"], r["pipeline.clip_len"]) for r in rows] == [("0.1", "8"), ("0.01", "4"), ("0.1", "4"), ("0.01", "8")]
    assert [r["best_val_top1"] for r in rows] == [0.80, 0.70, 0.55, 0.45]
    assert [r["best_epoch"] for r in rows] == [2, 1, 2, 2]
    assert rows[1]["final_val_top1"] == 0.65 and rows[1]["final_val_top5"] == pytest.approx(0.85)
    assert rows[1]["final_train_loss"] == 0.5 and rows[1]["epochs"] == 2 and rows[1]["status"] == "completed"
    printed = capsys.readouterr().out
    assert "common: trainer.max_epochs=2" in printed and "hydra.job" not in printed
    for name in ("comparison.csv", "comparison.md", "comparison.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0 and name in printed
    table = read_csv(tmp_path / "out" / "comparison.csv")
    assert len(table) == 4 and "trainer.max_epochs" in table[0] and "hydra.job.chdir" not in table[0]
    by_dir = {Path(r["run_dir"]).name: r for r in table}
    assert float(by_dir["1"]["best_val_top1"]) == 0.80 and by_dir["1"]["pipeline.clip_len"] == "8"
    assert float(by_dir["2"]["final_val_top1"]) == 0.65 and by_dir["2"]["best_epoch"] == "1"
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    assert markdown.startswith("common: trainer.max_epochs=2") and markdown.count("\n| ") == 5


def test_seeds_collapse_into_mean_std(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = write_sweep(tmp_path / "sweep", [*SEEDS, (["optimizer.lr=0.01", "seed=1"], [0.3, 0.2])])
    rows = compare([sweep], tmp_path / "out")
    assert [r["n"] for r in rows] == [3, 1] and "seed" not in rows[0]
    best, final = np.array([0.6, 0.7, 0.8]), np.array([0.6, 0.65, 0.8])
    assert rows[0]["best_val_top1"] == pytest.approx(best.mean())
    assert rows[0]["best_val_top1_std"] == pytest.approx(best.std(ddof=1))
    assert rows[0]["final_val_top1"] == pytest.approx(final.mean())
    assert rows[0]["final_val_top1_std"] == pytest.approx(final.std(ddof=1))
    assert rows[1]["best_val_top1"] == 0.3 and rows[1]["best_val_top1_std"] is None
    assert "0.3 ± —" in capsys.readouterr().out
    table = read_csv(tmp_path / "out" / "comparison.csv")
    assert len(table) == 4 and sorted(r["seed"] for r in table) == ["1", "1", "2", "3"]
    assert {r["group"] for r in table if r["optimizer.lr"] == "0.1"} == {rows[0]["group"]}


def test_rows_rank_by_final_top1_unless_asked_for_the_best_epoch(tmp_path: Path) -> None:
    """A run that peaked early and fell back ranks below one that ended higher."""
    sweep = write_sweep(tmp_path / "sweep", [(["optimizer.lr=0.1"], [0.9, 0.5]), (["optimizer.lr=0.01"], [0.6, 0.7])])
    assert [r["optimizer.lr"] for r in compare([sweep], tmp_path / "out")] == ["0.01", "0.1"]
    assert [r["optimizer.lr"] for r in compare([sweep], tmp_path / "out", sort_by="best_val_top1")] == ["0.1", "0.01"]


def test_rows_carry_mean_class_accuracy_and_median_epoch_time(tmp_path: Path) -> None:
    [row] = compare([write_sweep(tmp_path / "sweep", SEEDS)], tmp_path / "out")
    assert row["final_val_mca"] == pytest.approx(np.mean([0.55, 0.60, 0.75]))
    assert row["epoch_time_s"] == pytest.approx(15.0) and row["epoch_time_s_std"] == pytest.approx(0.0)
    table = read_csv(tmp_path / "out" / "comparison.csv")
    assert sorted(float(r["final_val_mca"]) for r in table) == pytest.approx([0.55, 0.60, 0.75])


def test_no_group_by_seed_keeps_runs_apart(tmp_path: Path) -> None:
    rows = compare([write_sweep(tmp_path / "sweep", SEEDS)], tmp_path / "out", group_by_seed=False)
    assert [(r["seed"], r["best_val_top1"], r["n"]) for r in rows] == [("3", 0.8, 1), ("2", 0.7, 1), ("1", 0.6, 1)]


def test_failed_job_listed_last(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep", [(["optimizer.lr=1.0"], None), *GRID[:2]])
    rows = compare([sweep], tmp_path / "out")
    assert [r["status"] for r in rows] == ["completed", "completed", "failed"]
    assert rows[-1]["optimizer.lr"] == "1.0" and rows[-1]["best_val_top1"] is None


def test_a_resumed_seed_stays_in_its_row(tmp_path: Path) -> None:
    """Keys that change how a run is run, not what it computes, split no rows."""
    resumed = (["optimizer.lr=0.1", "seed=4", "trainer.resume=auto", "data.num_workers=0", "logger=none"], [0.6, 0.7])
    [row] = compare([write_sweep(tmp_path / "sweep", [*SEEDS, resumed])], tmp_path / "out")
    assert row["n"] == 4 and "trainer.resume" not in row and "logger" not in row


def test_n_counts_the_runs_in_the_means_and_the_status_counts_the_others(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    write_job(sweep / "0", ["optimizer.lr=0.1", "seed=1"], [0.5, 0.6])
    write_job(sweep / "1", ["optimizer.lr=0.1", "seed=2"], [0.7, 0.8])
    write_job(sweep / "2", ["optimizer.lr=0.1", "seed=3"], [0.2], status="failed")  # crashed in epoch 2
    write_job(sweep / "3", ["optimizer.lr=0.1", "seed=4"], None, status="failed")  # crashed before epoch 1
    [row] = compare([sweep], tmp_path / "out")
    assert row["n"] == 2 and row["status"] == "2 completed, 2 failed"
    assert row["final_val_top1"] == pytest.approx(0.7) and row["best_val_top1"] == pytest.approx(0.7)
    assert len(read_csv(tmp_path / "out" / "comparison.csv")) == 4  # every run, failed ones too


def test_ignore_drops_key_from_columns_and_grouping(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep", [(["data.root=a", "seed=1"], [0.5]), (["data.root=b", "seed=2"], [0.7])])
    [row] = compare([sweep], tmp_path / "out", ignore=["data.root"])
    assert row["n"] == 2 and "data.root" not in row and row["best_val_top1"] == pytest.approx(0.6)


NAMES = ["left", "right", "still"]
VIDEOS = {"v0.mp4": 0, "v1.mp4": 1, "v2.mp4": 2, "v3.mp4": 0}  # the val set: video -> label


def write_final_predictions(job: Path, wrong: set[str], videos: dict[str, int] = VIDEOS) -> None:
    """The job's `predictions_final.csv`, as training writes it: `wrong` videos get the next class."""
    predicted = [(label + 1) % len(NAMES) if video in wrong else label for video, label in videos.items()]
    scores = torch.nn.functional.one_hot(torch.tensor(predicted), len(NAMES)).float()
    write_predictions(predictions_path(job, "final"), list(videos), list(videos.values()), scores, NAMES)


def test_per_video_table_shows_which_videos_each_row_misses(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = write_sweep(tmp_path / "sweep", [*SEEDS, (["optimizer.lr=0.01", "seed=1"], [0.3, 0.2])])
    for job, wrong in enumerate([{"v3.mp4"}, {"v3.mp4", "v1.mp4"}, {"v3.mp4"}, {"v3.mp4", "v2.mp4"}]):
        write_final_predictions(sweep / str(job), wrong)
    compare([sweep], tmp_path / "out")
    assert read_csv(tmp_path / "out" / "per_video.csv") == [  # most missed first; seed groups as a fraction
        {"video": "v3.mp4", "label": "left", "missed_by": "4/4", "optimizer.lr=0.1": "3/3", "optimizer.lr=0.01": "✗"},
        {"video": "v1.mp4", "label": "right", "missed_by": "1/4", "optimizer.lr=0.1": "1/3", "optimizer.lr=0.01": "✓"},
        {"video": "v2.mp4", "label": "still", "missed_by": "1/4", "optimizer.lr=0.1": "0/3", "optimizer.lr=0.01": "✗"},
        {"video": "v0.mp4", "label": "left", "missed_by": "0/4", "optimizer.lr=0.1": "0/3", "optimizer.lr=0.01": "✓"},
    ]
    printed = capsys.readouterr().out
    assert "missed by every run (1 of 4 videos): v3.mp4" in printed
    assert "missed by some runs (2): v1.mp4 (1/4), v2.mp4 (1/4)" in printed
    assert f"wrote {tmp_path / 'out' / 'per_video.csv'}" in printed


def test_per_video_table_needs_runs_on_the_same_val_set(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = write_sweep(tmp_path / "sweep", GRID[:2])
    write_final_predictions(sweep / "0", set())
    write_final_predictions(sweep / "1", set(), {**VIDEOS, "v4.mp4": 1})
    compare([sweep], tmp_path / "out")
    assert not (tmp_path / "out" / "per_video.csv").exists()
    assert "no per-video table: the runs were validated on different videos" in capsys.readouterr().out


def test_runs_without_predictions_stay_out_of_the_per_video_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Runs from before predictions were written, or that crashed before the last epoch."""
    sweep = write_sweep(tmp_path / "sweep", GRID[:2])
    compare([sweep], tmp_path / "out")
    assert not (tmp_path / "out" / "per_video.csv").exists()
    assert "no per-video table: no run has predictions_final.csv" in capsys.readouterr().out
    write_final_predictions(sweep / "1", {"v0.mp4"})
    compare([sweep], tmp_path / "out")
    table = read_csv(tmp_path / "out" / "per_video.csv")  # a column per row of the comparison that has predictions
    assert list(table[0]) == ["video", "label", "missed_by", "pipeline.clip_len=8"]
    assert [row["pipeline.clip_len=8"] for row in table] == ["✗", "✓", "✓", "✓"]


def test_final_top1_against_each_swept_key_one_line_per_value_of_the_others(tmp_path: Path) -> None:
    seeded = [([*overrides, f"seed={seed}"], [v - 0.1 * seed for v in top1]) for overrides, top1 in GRID for seed in (0, 1)]
    runs = [load_run(job) for job in sorted(write_sweep(tmp_path / "sweep", seeded).glob("[0-9]*"))]
    curves = final_by_key(runs, ["optimizer.lr", "pipeline.clip_len", "seed"])
    assert list(curves) == ["optimizer.lr", "pipeline.clip_len"]  # seeds are averaged, not plotted
    std = np.std([0.0, 0.1], ddof=1)
    assert curves["optimizer.lr"] == {  # values in numeric order; mean ± std over the seeds
        "pipeline.clip_len=4": [("0.01", pytest.approx(0.60), pytest.approx(std)), ("0.1", pytest.approx(0.50), pytest.approx(std))],
        "pipeline.clip_len=8": [("0.01", pytest.approx(0.40), pytest.approx(std)), ("0.1", pytest.approx(0.75), pytest.approx(std))],
    }
    assert curves["pipeline.clip_len"]["optimizer.lr=0.1"] == [("4", pytest.approx(0.50), pytest.approx(std)),
                                                                ("8", pytest.approx(0.75), pytest.approx(std))]
    compare([tmp_path / "sweep"], tmp_path / "out")
    assert (tmp_path / "out" / "metric_vs_keys.png").stat().st_size > 0


def test_metric_plot_lines_follow_the_numeric_order_of_their_values(tmp_path: Path) -> None:
    jobs = [([f"pipeline.clip_len={clip}", f"optimizer.lr={lr}"], [0.5]) for clip in (16, 4, 8) for lr in (0.1, 0.01)]
    runs = [load_run(job) for job in sorted(write_sweep(tmp_path / "sweep", jobs).glob("[0-9]*"))]
    lines = final_by_key(runs, ["optimizer.lr", "pipeline.clip_len"])["optimizer.lr"]
    assert list(lines) == ["pipeline.clip_len=4", "pipeline.clip_len=8", "pipeline.clip_len=16"]  # not as text


def test_no_metric_plot_without_a_swept_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    compare([write_sweep(tmp_path / "sweep", SEEDS)], tmp_path / "out")
    assert not (tmp_path / "out" / "metric_vs_keys.png").exists()


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zelda.compare", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_cli_writes_into_sweep_dir(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep", SEEDS)
    result = run_cli(str(sweep), "--no-group-by-seed")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 + 1 + 3 + 1 + 3  # common, header, 3 runs, no per-video table, 3 files
    assert (sweep / "comparison.png").is_file() and len(read_csv(sweep / "comparison.csv")) == 3


def test_cli_empty_dir_exits_2_with_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli(str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(tmp_path / "empty") in result.stderr and "summary.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli(str(tmp_path / "missing"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
