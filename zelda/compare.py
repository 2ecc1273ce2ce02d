"""Compare training runs: `python -m zelda.compare PATH [PATH ...] [--out DIR]`.

PATHs are run dirs (they hold `summary.json`) or sweep dirs (searched for run dirs).
Prints one row per configuration and writes `comparison.csv`, `comparison.md` and
`comparison.png`.

Runs whose overrides differ only in `seed` are shown as one row, mean ± sample std
over the seeds with their count `n`: the validation sets here are tiny (a few dozen
videos, one video moves top-1 by several points), so a gap between two single-seed
runs is mostly noise, and a real effect is one larger than the spread across seeds.
The CSV keeps one row per run (its `group` names the row it was folded into), so
nothing is lost for re-analysis.
"""

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zelda.errors import ZeldaError

MAX_DEPTH = 3  # a multirun dir holds job dirs `0/`, `1/`, ...; allow a little nesting above that
METRICS = ("final_val_top1", "best_val_top1", "best_epoch", "final_val_top5", "final_val_mca", "final_train_loss",
           "epoch_time_s", "epochs", "wall_time_s")
SPREAD = ("final_val_top1", "best_val_top1", "final_val_top5", "final_val_mca", "final_train_loss",
          "epoch_time_s")  # shown with ± std
RANKINGS = ("final_val_top1", "best_val_top1")  # the best epoch of a small val set flatters: final by default
OUTPUTS = ("comparison.csv", "comparison.md", "comparison.png")


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
    """One run's overrides and numbers; the history fills in what a crashed run's summary lacks."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except json.JSONDecodeError:
        summary = {"status": "unreadable"}
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
    }


def split_common(runs: list[dict[str, Any]], ignore: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Keys set to one value in every run (a header line) and the keys that vary (columns)."""
    keys = sorted({k for run in runs for k in run["overrides"]} - set(ignore))
    values = {k: {run["overrides"].get(k) for run in runs} for k in keys}
    common = {k: v.pop() for k, v in values.items() if len(v) == 1 and None not in v}
    return common, [k for k in keys if k not in common]


def label(overrides: dict[str, str], keys: Sequence[str]) -> str:
    """`key=value ...` of the columns: names a row, a CSV group and a plotted line."""
    return " ".join(f"{k}={overrides[k]}" for k in keys if k in overrides) or "(no overrides)"


def stats(values: list[Any]) -> tuple[float | None, float | None]:
    """Mean and sample std (ddof=1) of the values present; std is None below two values."""
    present = [v for v in values if v is not None]
    mean = statistics.mean(present) if present else None
    return mean, statistics.stdev(present) if len(present) > 1 else None


def aggregate(runs: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """One printed row for runs of the same configuration."""
    row: dict[str, Any] = {"group": label(runs[0]["overrides"], keys)}
    row.update({k: runs[0]["overrides"].get(k, "") for k in keys})
    for metric in METRICS:
        row[metric], row[f"{metric}_std"] = stats([run[metric] for run in runs])
    row["status"] = "/".join(sorted({run["status"] for run in runs}))
    row["n"], row["runs"] = len(runs), [run["run_dir"] for run in runs]
    return row


def group_rows(runs: list[dict[str, Any]], keys: list[str], by_seed: bool,
               sort_by: str = RANKINGS[0]) -> list[dict[str, Any]]:
    """Fold runs equal in `keys` (with `by_seed`; `keys` lacks seed); highest `sort_by` first, failed last."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        name = label(run["overrides"], keys) if by_seed else run["run_dir"]
        groups.setdefault(name, []).append(run)
    rows = []
    for members in groups.values():
        rows.append(aggregate(members, keys))
        for run in members:
            run["group"] = rows[-1]["group"]
    return sorted(rows, key=lambda row: rank(row, sort_by))


def rank(row: dict[str, Any], sort_by: str) -> tuple[bool, float]:
    """Highest `sort_by` first; failed runs and runs without a validation at the end."""
    value = row[sort_by]
    return (row["status"] == "failed" or value is None, -(value or 0.0))


def fmt(value: Any) -> str:
    """Four significant digits; `-` where a run has no such value (no validation, crashed)."""
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def table(rows: list[dict[str, Any]], keys: Sequence[str], spread: bool) -> list[list[str]]:
    """Header and cells of the printed table; `spread` (some row folds seeds) adds ± std and n."""
    columns = [*keys, *METRICS, "status", *(["n"] if spread else [])]
    return [columns, *([cell(row, column, spread) for column in columns] for row in rows)]


def cell(row: dict[str, Any], column: str, spread: bool) -> str:
    """`mean ± std`, std `—` for a single seed, where it can't be estimated."""
    if not (spread and column in SPREAD and row[column] is not None):
        return fmt(row[column])
    std = row[f"{column}_std"]
    return f"{fmt(row[column])} ± {'—' if std is None else fmt(std)}"


def common_line(common: dict[str, str]) -> str:
    return "common: " + (", ".join(f"{k}={v}" for k, v in common.items()) or "(none)")


def write_csv(path: Path, runs: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """One row per run, every override key, so per-seed numbers stay available."""
    columns = ["run_dir", "group", *keys, *METRICS, "status"]
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, columns, extrasaction="ignore")
        writer.writeheader()
        for run in runs:
            writer.writerow({**run, **run["overrides"]})


def write_markdown(path: Path, cells: list[list[str]], common: dict[str, str]) -> None:
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(cells[0]))
    path.write_text(common_line(common) + "\n\n" + "\n".join(lines) + "\n")


def plot(path: Path, runs: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """val/top1 and train/loss against epoch, one line per run; failed runs dashed."""
    figure = Figure(figsize=(12, 4.5))
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2)
    for axes, key in zip(panels, ("val/top1", "train/loss")):
        for run in runs:
            points = [(row["epoch"], row[key]) for row in run["history"] if row.get(key) is not None]
            if points:
                style = "--" if run["status"] == "failed" else "-"
                axes.plot(*zip(*points), style, marker=".", label=label(run["overrides"], keys))
        axes.set(xlabel="epoch", ylabel=key, title=f"{key} vs epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    if panels[1].get_legend_handles_labels()[0]:
        panels[1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def default_out(paths: Sequence[Path]) -> Path:
    """A sweep is compared into its own dir; single runs into the current dir."""
    first = paths[0]
    return first if first.is_dir() and not (first / "summary.json").is_file() else Path.cwd()


def compare(paths: Sequence[str | Path], out: str | Path | None = None, group_by_seed: bool = True,
            ignore: Iterable[str] = (), sort_by: str = RANKINGS[0]) -> list[dict[str, Any]]:
    """Print the comparison, write the three files into `out`, return the printed rows."""
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ZeldaError(f"{', '.join(missing)} does not exist: give run dirs or sweep dirs")
    run_dirs = list(dict.fromkeys(run for path in paths for run in find_run_dirs(path)))
    if not run_dirs:
        raise ZeldaError(f"no runs found in {', '.join(map(str, paths))}: a run dir is one that "
                         "contains summary.json (as written by python -m zelda.train), and a sweep "
                         f"dir is searched for such run dirs at most {MAX_DEPTH} levels down")
    runs = [load_run(run_dir) for run_dir in run_dirs]
    common, varying = split_common(runs, ignore)
    keys = [k for k in varying if not (group_by_seed and k == "seed")]
    rows = group_rows(runs, keys, group_by_seed, sort_by)
    cells = table(rows, keys, any(row["n"] > 1 for row in rows))
    out = Path(out) if out is not None else default_out(paths)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / name for name in OUTPUTS]
    write_csv(files[0], runs, [*varying, *common])
    write_markdown(files[1], cells, common)
    plot(files[2], runs, varying)
    print(common_line(common), aligned(cells), *(f"wrote {file}" for file in files), sep="\n")
    return rows


def aligned(cells: list[list[str]]) -> str:
    """The table as plain text, columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in cells)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m zelda.compare", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run dirs or sweep dirs")
    parser.add_argument("--out", help="where the files go (default: the first PATH if a sweep, else .)")
    parser.add_argument("--group-by-seed", action=argparse.BooleanOptionalAction, default=True,
                        help="fold runs that differ only in seed into mean ± std (default: on)")
    parser.add_argument("--ignore", nargs="+", action="extend", default=[], metavar="KEY",
                        help="override keys to leave out of the columns and the grouping")
    parser.add_argument("--sort-by", choices=RANKINGS, default=RANKINGS[0],
                        help="rank rows by the (mean) final or best-epoch val/top1 (default: final)")
    args = parser.parse_args(argv)
    try:
        compare(args.paths, args.out, args.group_by_seed, args.ignore, args.sort_by)
    except ZeldaError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
