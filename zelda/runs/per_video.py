"""Per-video predictions files in a run dir, and `zelda.compare`'s per-video table built from
them: which val videos each row of a comparison gets wrong. Two settings with the same top-1 may
miss different videos; a video every run misses points at the data (a mislabelled or ambiguous
clip), not at a setting. Free of torch, so `zelda.compare` starts fast."""

import csv
from pathlib import Path
from typing import Any

MISSED, HIT = "✗", "✓"  # a single run's cell; a row of several seeds shows how many missed: 2/3
SHOWN = 10  # videos named on each printed line


def predictions_path(run_dir: str | Path, when: str) -> Path:
    """`predictions_final.csv` (the last evaluation) or `predictions_best.csv` (the best one)."""
    return Path(run_dir) / f"predictions_{when}.csv"


def read_predictions(path: Path) -> dict[str, tuple[str, str]] | None:
    """`{video: (true class, predicted class)}` from a predictions CSV; None when the run has none."""
    if not path.is_file():
        return None
    with path.open(newline="") as file:
        return {row["filename"]: (row["label"], row["pred1"]) for row in csv.DictReader(file)}


def misses_table(rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> tuple[list[list[str]] | None, str]:
    """The cells of `per_video.csv` (a video per row, most missed first; a column per comparison
    row with predictions) and a printed summary; no cells, and the reason, when there are no
    predictions or the runs were validated on different videos."""
    predictions = {run["run_dir"]: run["predictions"] for run in runs if run["predictions"]}
    if not predictions:
        return None, "no per-video table: no run has predictions_final.csv (written at a run's last epoch)"
    truths = {tuple(sorted((video, true) for video, (true, _) in p.items())) for p in predictions.values()}
    if len(truths) > 1:
        return None, "no per-video table: the runs were validated on different videos (compare runs on one val set)"
    groups = [(row["group"], [predictions[run] for run in row["runs"] if run in predictions]) for row in rows]
    groups = [(name, members) for name, members in groups if members]
    total = sum(len(members) for _, members in groups)
    body = []
    for video, true in truths.pop():
        counts = [sum(p[video][1] != true for p in members) for _, members in groups]
        cells = [(MISSED if count else HIT) if len(members) == 1 else f"{count}/{len(members)}"
                 for count, (_, members) in zip(counts, groups)]
        body.append((sum(counts), [video, true, f"{sum(counts)}/{total}", *cells]))
    body.sort(key=lambda item: -item[0])  # stable: videos of equal counts stay in name order
    return [["video", "label", "missed_by", *(name for name, _ in groups)], *(cells for _, cells in body)], \
        summary([(count, cells[0]) for count, cells in body], total)


def summary(counts: list[tuple[int, str]], total: int) -> str:
    """Two lines: the videos every run misses, and those only some miss (with how many)."""
    every = [video for count, video in counts if count == total]
    some = [f"{video} ({count}/{total})" for count, video in counts if 0 < count < total]
    return (f"missed by every run ({len(every)} of {len(counts)} videos): {shown(every)}\n"
            f"missed by some runs ({len(some)}): {shown(some)}")


def shown(items: list[str]) -> str:
    """The first `SHOWN` items, and how many more."""
    more = f", ... {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return (", ".join(items[:SHOWN]) or "none") + more


def write_misses(path: Path, cells: list[list[str]]) -> None:
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(cells)
