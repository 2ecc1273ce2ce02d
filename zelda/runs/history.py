"""Finished (or crashed) runs read back from their dirs: overrides, per-epoch history, summary."""

import json
import statistics
from pathlib import Path
from typing import Any

import yaml

from zelda.runs.per_video import predictions_path, read_predictions
from zelda.runs.records import read_summary

MAX_DEPTH = 3  # a multirun dir holds job dirs `0/`, `1/`, ...; allow a little nesting above that


def natural_key(path: Path) -> tuple[bool, int, str]:
    """Job dirs in numeric order (2 before 10), other names alphabetically after them."""
    return (not path.name.isdigit(), int(path.name) if path.name.isdigit() else 0, path.name)


def find_run_dirs(path: Path, depth: int = MAX_DEPTH) -> list[Path]:
    """`path` if it is a run dir, else run dirs at most `depth` levels below it."""
    if (path / "summary.json").is_file():
        return [path]
    if depth == 0 or not path.is_dir():
        return []
    children = sorted((c for c in path.iterdir() if c.is_dir() and not c.name.startswith(".")), key=natural_key)
    return [run for child in children for run in find_run_dirs(child, depth - 1)]


def read_overrides(run_dir: Path) -> dict[str, str]:
    """The job's command-line overrides as key -> value text, `hydra.*` left out."""
    path = run_dir / ".hydra" / "overrides.yaml"
    items = (yaml.safe_load(path.read_text()) or []) if path.is_file() else []
    pairs = (str(item).split("=", 1) for item in items if "=" in str(item))
    return {key.lstrip("+~"): value for key, value in pairs if not key.lstrip("+~").startswith("hydra.")}


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """Rows of `metrics.jsonl`; a half-written last line (a run still going) is skipped."""
    path = run_dir / "metrics.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def last(history: list[dict[str, Any]], key: str) -> Any:
    """The latest value of `key`: epochs without validation have no `val/*`."""
    return next((row[key] for row in reversed(history) if row.get(key) is not None), None)


def load_run(run_dir: Path) -> dict[str, Any]:
    """One run's overrides, numbers and final per-video predictions; the history fills in what a
    crashed run's summary lacks."""
    summary = read_summary(run_dir) or {"status": "unreadable"}
    history = read_history(run_dir)
    final = summary.get("final") or {}
    tops = [(row["val/top1"], row["epoch"]) for row in history if row.get("val/top1") is not None]
    best, best_epoch = max(tops, key=lambda t: t[0], default=(None, None))
    return {
        "run_dir": str(run_dir), "overrides": read_overrides(run_dir), "history": history,
        "status": summary.get("status", "unknown"),
        "best_val_top1": summary.get("best/val_top1", best),
        "best_epoch": summary.get("best/epoch", best_epoch),
        "final_val_top1": final.get("val/top1", last(history, "val/top1")),
        "final_val_top5": final.get("val/top5", last(history, "val/top5")),
        "final_val_mca": final.get("val/mean_class_acc", last(history, "val/mean_class_acc")),
        "final_train_loss": final.get("train/loss", last(history, "train/loss")),
        "epoch_time_s": statistics.median(times) if (times := [row["epoch_time_s"] for row in history
                                                                if row.get("epoch_time_s") is not None]) else None,
        "epochs": summary.get("epochs", len(history) or None),
        "wall_time_s": summary.get("wall_time_s"),
        "predictions": read_predictions(predictions_path(run_dir, "final")),
    }
