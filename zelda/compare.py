"""Compare training runs: `python -m zelda.compare PATH [PATH ...] [--out DIR]`.

PATHs are run dirs (they hold `summary.json`) or sweep dirs (searched for run dirs).
Prints one row per configuration and writes `comparison.csv`, `comparison.md` and
`comparison.png` (the curves of every run); `metric_vs_keys.png` (final val/top1 against each
swept key, mean ± std over seeds) when a key other than `seed` varies; and `per_video.csv`
(which val videos each row misses, from the runs' `predictions_final.csv`) when the runs were
validated on the same videos.

Runs whose overrides differ only in `seed` are shown as one row, mean ± sample std
over the seeds' completed runs with their count `n`: the validation sets here are tiny
(a few dozen videos, one video moves top-1 by several points), so a gap between two
single-seed runs is mostly noise, and a real effect is one larger than the spread across
seeds. Keys that change how a run is run, not what it computes (`trainer.resume`,
`logger`, loader workers: `zelda.config.changes.RUN_SETTINGS`), split no rows. The CSV
keeps one row per run (its `group` names the row it was folded into), so nothing is
lost for re-analysis.
"""

import argparse
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from zelda.config.changes import RUN_SETTINGS
from zelda.errors import ZeldaError
from zelda.runs.comparison import (
    RANKINGS,
    aligned,
    common_line,
    final_by_key,
    group_rows,
    plot,
    plot_final_by_key,
    split_common,
    table,
    write_csv,
    write_markdown,
)
from zelda.runs.history import MAX_DEPTH, find_run_dirs, load_run
from zelda.runs.per_video import misses_table, write_misses

OUTPUTS = ("comparison.csv", "comparison.md", "comparison.png")
METRIC_PLOT, PER_VIDEO = "metric_vs_keys.png", "per_video.csv"  # written when there is something to show


def default_out(paths: Sequence[Path]) -> Path:
    """A sweep is compared into its own dir; single runs into the current dir."""
    first = paths[0]
    return first if first.is_dir() and not (first / "summary.json").is_file() else Path.cwd()


def compare(paths: Sequence[str | Path], out: str | Path | None = None, group_by_seed: bool = True,
            ignore: Iterable[str] = (), sort_by: str = RANKINGS[0]) -> list[dict[str, Any]]:
    """Print the comparison, write its files into `out`, return the printed rows."""
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
    common, varying = split_common(runs, [*RUN_SETTINGS, *ignore])
    keys = [k for k in varying if not (group_by_seed and k == "seed")]
    rows = group_rows(runs, keys, group_by_seed, sort_by)
    cells = table(rows, keys, any(row["n"] > 1 for row in rows))
    out = Path(out) if out is not None else default_out(paths)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / name for name in OUTPUTS]
    write_csv(files[0], runs, [*varying, *common])
    write_markdown(files[1], cells, common)
    plot(files[2], runs, varying)
    if curves := final_by_key(runs, varying):
        files.append(out / METRIC_PLOT)
        plot_final_by_key(files[-1], curves)
    misses, misses_summary = misses_table(rows, runs)
    if misses:
        files.append(out / PER_VIDEO)
        write_misses(files[-1], misses)
    print(common_line(common), aligned(cells), misses_summary, *(f"wrote {file}" for file in files), sep="\n")
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m zelda.compare", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run dirs or sweep dirs")
    parser.add_argument("--out", help="where the files go (default: the first PATH if a sweep, else .)")
    parser.add_argument("--group-by-seed", action=argparse.BooleanOptionalAction, default=True,
                        help="fold runs that differ only in seed into mean ± std (default: on)")
    parser.add_argument("--ignore", nargs="+", action="extend", default=[], metavar="KEY",
                        help="override keys (or patterns such as 'data.*') to leave out of the columns and "
                             "the grouping, besides those that do not change what a run computes")
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
