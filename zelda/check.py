"""Check a dataset before training: `python -m zelda.check [--deep] [--json PATH] [--split train|val|all] [overrides]`.

Finds in seconds what would otherwise stop or skew a run hours in: bad annotation
lines, missing or undecodable videos, duplicates (also across train and val),
class imbalance and videos shorter than a clip. Exit status: 0 clean (warnings
allowed), 1 problems found, 2 usage error (e.g. no dataset where the config points).
"""

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import decord
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from zelda.config import compose_config
from zelda.data.annotations import Annotation, parse_line
from zelda.errors import ZeldaError

SYNTHETIC = "zelda.data.synthetic.ensure_synthetic"
SPLITS = {"train": ("train",), "val": ("val",), "all": ("train", "val")}
CHUNK_FRAMES, CHUNK_BYTES = 64, 128 << 20  # --deep decodes at most this many frames / bytes at a time


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


def require_paths(node: DictConfig) -> tuple[Path, Path]:
    """The split's annotation file and video folder; a sentence, not a long list, when absent."""
    root = Path(node.data_root)
    ann_file, video_dir = root / node.ann_file, root / node.data_prefix
    checks = ((root, "dataset folder", root.is_dir()), (ann_file, "annotation file", ann_file.is_file()),
              (video_dir, "video folder", video_dir.is_dir()))
    for path, what, present in checks:
        if not present:
            raise ZeldaError(f"The {what} {path} does not exist: point paths.data_dir=DIR (or ZELDA_DATA_DIR) at the "
                             f"folder that holds the dataset, or fetch it with `python -m zelda.data.download`.")
    return ann_file, video_dir


def issue(kind: str, file: Path | str, line: int | None, text: str) -> dict[str, Any]:
    """One finding; `kind` is annotation, duplicate or video (problems) or a warning's topic."""
    return {"kind": kind, "file": str(file), "line": line, "problem": text}


def read_split(ann_file: Path, num_classes: int | None) -> tuple[list[Annotation], list[dict[str, Any]]]:
    """Every listed video once, plus every bad or repeated line, so one run shows them all."""
    annotations, problems, first_line = [], [], {}
    for number, text in enumerate(ann_file.read_text().splitlines(), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue  # skipped, as read_annotations does
        try:
            filename, label = parse_line(text, num_classes)
        except ValueError as error:
            problems.append(issue("annotation", ann_file, number, str(error)))
            continue
        if filename in first_line:
            again = f"{filename} is listed again (first on line {first_line[filename]})"
            problems.append(issue("duplicate", ann_file, number, again))
            continue
        first_line[filename] = number
        annotations.append(Annotation(filename, label, number))
    return annotations, problems


def describe(error: Exception) -> str:
    """A one-line reason: decord's messages can run over many lines."""
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0][:200]}"


def decode_error(reader: decord.VideoReader, indices: list[int]) -> Exception | None:
    """Why these frames do not decode, or None when they do."""
    try:
        reader.get_batch(indices)
    except Exception as error:
        return error
    return None


def first_bad_frame(reader: decord.VideoReader, chunk: int) -> tuple[int, str] | None:
    """Decode every frame, `chunk` at a time; in a failing chunk, find its first bad frame."""
    for start in range(0, len(reader), chunk):
        indices = list(range(start, min(start + chunk, len(reader))))
        if (chunk_error := decode_error(reader, indices)) is None:
            continue
        for index in indices:
            if (error := decode_error(reader, [index])) is not None:
                return index, describe(error)
        return start, describe(chunk_error)  # fails only as a batch: blame its first frame
    return None


def probe(path: Path, deep: bool) -> tuple[dict[str, Any], str | None]:
    """Open a video as training will and decode its first frame (every frame when deep): facts, or why it fails."""
    if not path.is_file():
        return {}, "not a regular file (a directory?)" if path.exists() else "file not found"
    if path.stat().st_size == 0:
        return {}, "empty file (0 bytes)"
    try:
        reader = decord.VideoReader(str(path), num_threads=1)
    except Exception as error:
        return {}, f"does not open ({describe(error)})"
    facts = {"frames": len(reader), "fps": round(float(reader.get_avg_fps()), 3)}
    if facts["frames"] < 1:
        return facts, "has no frames"
    try:
        shape = tuple(reader[0].shape)
    except Exception as error:
        return facts, f"first frame does not decode ({describe(error)})"
    facts.update(height=shape[0], width=shape[1])
    if shape[2:] != (3,):  # decord returns this for videos whose batches it cannot decode (e.g. 48 px wide)
        return facts, f"first frame decodes to shape {shape}, not (height, width, 3): decord cannot decode this video"
    chunk = max(1, min(CHUNK_FRAMES, CHUNK_BYTES // (shape[0] * shape[1] * 3)))
    if deep and (bad := first_bad_frame(reader, chunk)):
        return facts, f"frame {bad[0]} of {facts['frames']} does not decode ({bad[1]})"
    return facts, None


def check_split(name: str, paths: tuple[Path, Path], cfg: DictConfig, deep: bool) -> dict[str, Any]:
    """Annotation problems, then every video probed; short videos and empty classes are warnings."""
    (ann_file, video_dir), num_classes, clip_len = paths, cfg.data[name].get("num_classes"), cfg.pipeline.clip_len
    annotations, problems = read_split(ann_file, num_classes)
    videos, warnings = [], []
    for annotation in tqdm(annotations, desc=f"check {name}", unit="video", disable=None, file=sys.stderr):
        path = video_dir / annotation.filename
        facts, trouble = probe(path, deep)
        videos.append({"file": str(path), "line": annotation.line, "label": annotation.label, "ok": trouble is None,
                       "frames": None, "fps": None, "height": None, "width": None, **facts})
        if trouble:
            problems.append(issue("video", path, None, trouble))
        elif facts["frames"] < clip_len:
            short = f"{facts['frames']} frames < pipeline.clip_len={clip_len} (not an error: the sampler loops it)"
            warnings.append(issue("short", path, None, short))
    counts = Counter(annotation.label for annotation in annotations)  # every class listed, so an empty one shows
    class_counts = {label: counts[label] for label in (range(num_classes) if num_classes else sorted(counts))}
    warnings += [issue("class", ann_file, None, f"class {label} has no videos")
                 for label, count in class_counts.items() if count == 0]
    return {"ann_file": str(ann_file), "video_dir": str(video_dir), "class_counts": class_counts,
            "problems": problems, "warnings": warnings, "videos": videos}


def flag_cross_split(reports: dict[str, dict[str, Any]]) -> None:
    """A file in both train and val leaks the answers into validation: a problem of the later split."""
    seen: dict[Path, str] = {}
    for name, report in reports.items():
        for video in report["videos"]:
            key = Path(video["file"]).resolve()
            if key in seen and seen[key] != name:
                report["problems"].append(issue("duplicate", report["ann_file"], video["line"],
                                                f"{video['file']} is also in the {seen[key]} split"))
            seen.setdefault(key, name)


def spread(values: list[float]) -> dict[str, float] | None:
    """min / median / max, or None with nothing to measure."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else None


def summarize(report: dict[str, Any]) -> None:
    """Add counts, and stats over the videos that passed: what the report shows first."""
    videos, kinds = report["videos"], Counter(problem["kind"] for problem in report["problems"])
    ok = [v for v in videos if v["ok"]]
    report["counts"] = {"listed": len(videos), "ok": len(ok), "with_problems": len(videos) - len(ok),
                        "bad_lines": kinds["annotation"], "duplicates": kinds["duplicate"],
                        "warnings": len(report["warnings"])}
    resolution = Counter(f"{v['height']}x{v['width']}" for v in ok)
    report["stats"] = {"frames": spread([v["frames"] for v in ok]), "fps": spread([v["fps"] for v in ok]),
                       "resolution": dict(resolution.most_common()),
                       "min_short_side": min((min(v["height"], v["width"]) for v in ok), default=None)}


def format_spread(values: dict[str, float] | None) -> str:
    """`min / median / max` in one line."""
    return "n/a" if values is None else f"min {values['min']:g} / median {values['median']:g} / max {values['max']:g}"


def where(item: dict[str, Any]) -> str:
    """`file` or `file:line`, the form editors and terminals link to."""
    return item["file"] if item["line"] is None else f"{item['file']}:{item['line']}"


def format_split(name: str, report: dict[str, Any]) -> list[str]:
    """The readable report of one split: summary lines, then every problem and warning."""
    counts, stats = report["counts"], report["stats"]
    lines = [f"== {name}: {report['ann_file']} (videos in {report['video_dir']})",
             f"videos:      {counts['ok']} ok, {counts['with_problems']} with problems ({counts['listed']} listed)",
             f"frames:      {format_spread(stats['frames'])}",
             f"fps:         {format_spread(stats['fps'])}",
             f"resolution:  {', '.join(f'{hw} x{n}' for hw, n in stats['resolution'].items()) or 'n/a'} "
             f"(h x w; min short side {stats['min_short_side']})",
             f"classes:     {', '.join(f'{label}: {n}' for label, n in report['class_counts'].items())}",
             f"duplicates:  {counts['duplicates']}   bad annotation lines: {counts['bad_lines']}"]
    for title, items in (("problems", report["problems"]), ("warnings", report["warnings"])):
        lines.append(f"{title}: {len(items) or 'none'}")
        lines += [f"  {where(item)}: {item['problem']}" for item in items]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Compose, check the chosen splits, print (and maybe write) the report; the exit status says the verdict."""
    args, overrides = parse_args(argv)
    start = time.perf_counter()
    try:
        cfg = load_config(overrides)
        paths = {name: require_paths(cfg.data[name]) for name in SPLITS[args.split]}
    except (ZeldaError, HydraException, OmegaConfBaseException) as error:
        print(f"zelda.check: {error}", file=sys.stderr)
        return 2
    reports = {name: check_split(name, split_paths, cfg, args.deep) for name, split_paths in paths.items()}
    flag_cross_split(reports)
    for report in reports.values():
        summarize(report)
    problems = sum(len(report["problems"]) for report in reports.values())
    elapsed = time.perf_counter() - start
    result = {"dataset": cfg.data.name, "deep": args.deep, "problems": problems, "elapsed_s": round(elapsed, 3),
              "splits": reports}
    print("\n".join(line for name, report in reports.items() for line in format_split(name, report)))
    verdict = f"{problems} problem(s)" if problems else "no problems"
    print(f"{cfg.data.name}: {verdict} ({'every frame' if args.deep else 'first frames'} decoded) in {elapsed:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
