"""Runs side by side: grouping seeds into mean ± std, ranking, and the table, CSV,
markdown and plot that `zelda.compare` writes."""

import csv
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zelda.config.changes import matches

METRICS = ("final_val_top1", "best_val_top1", "best_epoch", "final_val_top5", "final_val_mca", "final_train_loss",
           "epoch_time_s", "epochs", "wall_time_s")
SPREAD = ("final_val_top1", "best_val_top1", "final_val_top5", "final_val_mca", "final_train_loss",
          "epoch_time_s")  # shown with ± std
RANKINGS = ("final_val_top1", "best_val_top1")  # the best epoch of a small val set flatters: final by default
DODGE = 0.04  # metric_vs_keys.png: sideways step between lines, in units of the gap between two values


def split_common(runs: list[dict[str, Any]], ignore: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Keys set to one value in every run (a header line) and the keys that vary (columns);
    keys matching a pattern of `ignore` are neither."""
    ignore = list(ignore)
    keys = sorted(k for k in {k for run in runs for k in run["overrides"]} if not matches(k, ignore))
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
    """One printed row for runs of the same configuration: the means are over its completed
    runs (a crashed run's last epoch is not a final one), over all of them when none completed;
    `n` counts the runs in the means, `status` all of them."""
    row: dict[str, Any] = {"group": label(runs[0]["overrides"], keys)}
    row.update({k: runs[0]["overrides"].get(k, "") for k in keys})
    averaged = [run for run in runs if run["status"] == "completed"] or runs
    for metric in METRICS:
        row[metric], row[f"{metric}_std"] = stats([run[metric] for run in averaged])
    counts = sorted(Counter(run["status"] for run in runs).items())
    row["status"] = ", ".join(f"{n} {status}" for status, n in counts) if len(counts) > 1 else counts[0][0]
    row["n"], row["runs"] = len(averaged), [run["run_dir"] for run in runs]
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


def value_order(value: str) -> tuple[bool, float, str]:
    """Numbers in numeric order (0.001 before 0.01 before 0.1), then other text alphabetically."""
    try:
        return (False, float(value), value)
    except ValueError:
        return (True, 0.0, value)


def label_order(name: str) -> tuple[tuple[bool, float, str], ...]:
    """A `label` (`key=value key=value`) sorted by its values in `value_order` (4 before 16)."""
    return tuple(value_order(part.split("=", 1)[-1]) for part in name.split(" "))


def final_by_key(runs: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, dict[str, list[tuple]]]:
    """For each key but `seed`: one line per combination of the other keys' values, with the
    mean and std over seeds (completed runs) of the final val/top1 at each value of the key."""
    curves: dict[str, dict[str, list[tuple]]] = {}
    completed = [run for run in runs if run["status"] == "completed" and run["final_val_top1"] is not None]
    for key in (k for k in keys if k != "seed"):
        others = [k for k in keys if k not in (key, "seed")]
        points: dict[str, dict[str, list[float]]] = {}
        for run in completed:
            line = points.setdefault(label(run["overrides"], others), {})
            line.setdefault(run["overrides"].get(key, "default"), []).append(run["final_val_top1"])
        curves[key] = {name: [(value, *stats(line[value])) for value in sorted(line, key=value_order)]
                       for name, line in sorted(points.items(), key=lambda item: label_order(item[0]))}
    return curves


def plot_final_by_key(path: Path, curves: dict[str, dict[str, list[tuple]]]) -> None:
    """`final_by_key` as one panel per key: the mean final val/top1 at each value, ± std over seeds."""
    figure = Figure(figsize=(5.5 * len(curves), 4.5))
    FigureCanvasAgg(figure)
    for axes, (key, lines) in zip(figure.subplots(1, len(curves), squeeze=False)[0], curves.items()):
        values = sorted({value for line in lines.values() for value, _, _ in line}, key=value_order)
        for index, (name, line) in enumerate(lines.items()):
            # values as evenly spaced categories (lr=0.001,0.01,0.1 reads as a log axis), each line
            # nudged sideways so that error bars at one value do not hide each other
            shift = (index - (len(lines) - 1) / 2) * DODGE
            axes.errorbar([values.index(value) + shift for value, _, _ in line], [mean for _, mean, _ in line],
                          yerr=[std or 0.0 for _, _, std in line], marker="o", capsize=3, label=name)
        axes.set_xticks(range(len(values)), values)
        axes.set(xlabel=key, ylabel="final val/top1", title=f"final val/top1 vs {key}")
        axes.grid(alpha=0.3)
        if len(lines) > 1:
            axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def aligned(cells: list[list[str]]) -> str:
    """The table as plain text, columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in cells)
