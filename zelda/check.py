"""Check a dataset before training: `python -m zelda.check [--deep] [--json PATH] [--split train|val|all] [overrides]`.

Finds in seconds what would otherwise stop or skew a run hours in: bad annotation
lines, missing or undecodable videos, duplicates (also across train and val),
class imbalance and videos shorter than a clip. The dataset is read by its format
(`data.index`), as training reads it. Exit status: 0 clean (warnings
allowed), 1 problems found, 2 usage error (e.g. no dataset where the config points).
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from zelda.config.compose import compose_config
from zelda.data.checks import check_split, flag_cross_split, summarize
from zelda.data.formats.base import where
from zelda.errors import ZeldaError, find_zelda_error

SYNTHETIC = "zelda.data.synthetic.ensure_synthetic"
SPLITS = {"train": ("train",), "val": ("val",), "all": ("train", "val")}
SHOWN_WARNINGS = 20  # per split; a Kinetics copy can lack thousands of videos


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Our own `--` flags; everything else is a Hydra override."""
    parser = argparse.ArgumentParser(prog="python -m zelda.check", description="Check a dataset before training.",
                                     epilog="Other arguments are Hydra overrides: data=k400_tiny paths.data_dir=DIR")
    parser.add_argument("--deep", action="store_true", help="decode every frame, not just the first")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument("--split", choices=sorted(SPLITS), default="all", help="which split(s) to check")
    args, overrides = parser.parse_known_args(argv)
    if unknown := [arg for arg in overrides if arg.startswith("-")]:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args, overrides


def load_config(overrides: list[str]) -> DictConfig:
    """Compose the training config; generate the embedded synthetic data, but fetch nothing."""
    cfg = compose_config(overrides)
    if OmegaConf.select(cfg, "data.prepare._target_") == SYNTHETIC:
        instantiate(cfg.data.prepare)
    return cfg


def format_spread(values: dict[str, float] | None) -> str:
    """`min / median / max` in one line."""
    return "n/a" if values is None else f"min {values['min']:g} / median {values['median']:g} / max {values['max']:g}"


def format_split(name: str, report: dict[str, Any], classes: list[str]) -> list[str]:
    """The readable report of one split: summary lines, the class table, then every problem and
    (the first `SHOWN_WARNINGS` of) every warning."""
    counts, stats = report["counts"], report["stats"]
    lines = [f"== {name}: {report['source']} (videos in {report['video_dir']})",
             f"videos:      {counts['ok']} ok, {counts['with_problems']} with problems ({counts['listed']} listed)",
             f"frames:      {format_spread(stats['frames'])}",
             f"fps:         {format_spread(stats['fps'])}",
             f"resolution:  {', '.join(f'{hw} x{n}' for hw, n in stats['resolution'].items()) or 'n/a'} "
             f"(h x w; min short side {stats['min_short_side']})",
             f"classes:     {len(classes)} (label name: videos)",
             *(f"  {label} {classes[label]}: {n}" for label, n in report["class_counts"].items()),
             f"duplicates:  {counts['duplicates']}   bad annotation lines: {counts['bad_lines']}"]
    for title, items, shown in (("problems", report["problems"], None),
                                ("warnings", report["warnings"], SHOWN_WARNINGS)):
        lines.append(f"{title}: {len(items) or 'none'}")
        lines += [f"  {where(item['file'], item['line'])}: {item['problem']}" for item in items[:shown]]
        if shown is not None and len(items) > shown:
            lines.append(f"  ... and {len(items) - shown} more (all of them in --json)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Compose, check the chosen splits, print (and maybe write) the report; the exit status says the verdict."""
    args, overrides = parse_args(argv)
    start = time.perf_counter()
    try:
        cfg = load_config(overrides)
        classes = list(cfg.data.classes)
        splits = {name: (instantiate(cfg.data[name].index), cfg.data[name].split) for name in SPLITS[args.split]}
        decoder = (cfg.pipeline.backend, cfg.pipeline.decode_timeout_s)
        reports = {name: check_split(index, split, classes, cfg.pipeline.clip_len, args.deep, *decoder)
                   for name, (index, split) in splits.items()}
    except (ZeldaError, HydraException, OmegaConfBaseException) as error:
        print(f"zelda.check: {find_zelda_error(error) or error}", file=sys.stderr)
        return 2
    flag_cross_split(reports)
    for report in reports.values():
        summarize(report)
    problems = sum(len(report["problems"]) for report in reports.values())
    elapsed = time.perf_counter() - start
    result = {"dataset": cfg.data.name, "classes": classes, "deep": args.deep, "problems": problems,
              "elapsed_s": round(elapsed, 3), "splits": reports}
    print("\n".join(line for name, report in reports.items() for line in format_split(name, report, classes)))
    verdict = f"{problems} problem(s)" if problems else "no problems"
    print(f"{cfg.data.name}: {verdict} ({'every frame' if args.deep else 'first frames'} decoded) in {elapsed:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
