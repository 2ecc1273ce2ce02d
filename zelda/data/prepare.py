"""Write a training-ready copy of a dataset: `python -m zelda.data.prepare data=NAME prepare.out=DIR [overrides]`.

Every video the splits list is re-encoded for cheap decoding (`zelda.data.encode`); every
other file under the dataset's root (annotation files, label maps, split lists) is copied to
the same relative path, so the copy trains with the same data config and `paths.data_dir=DIR`.
Resumable: a finished copy of a video is checked and skipped, and each is written under a
temporary name and renamed into place only once it decodes with the source's frame count.
Ends with the bytes and the train-sampling decode time of source and copy, side by side.
"""

import logging
import os
import shutil
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from zelda.data.dataset import build_dataset
from zelda.data.encode import Encoding, encode, problem, target_shape
from zelda.data.formats.folder import VIDEO_EXTENSIONS
from zelda.data.loader import usable_cpus
from zelda.data.video import UNREADABLE, open_video, probe_shape
from zelda.errors import ZeldaError, user_error
from zelda.perf.decoding import decode_floor
from zelda.perf.timing import alternating

log = logging.getLogger("zelda.data.prepare")
SPLITS = ("train", "val", "test")  # the splits a data config may define; test is optional


def absolute(path: str | Path) -> Path:
    """`path` made absolute without following symbolic links (a linked video keeps its place in the tree)."""
    return Path(os.path.abspath(path))


def locate(cfg: DictConfig) -> tuple[Path, Path, str]:
    """The source root, the copy's root, and the override that trains on the copy."""
    if not cfg.data.get("root"):
        raise ZeldaError(f"data={cfg.data.get('name')} has no data.root: zelda.data.prepare copies the tree under it")
    source, out = absolute(cfg.data.root), absolute(cfg.prepare.out)
    data_dir = absolute(cfg.paths.data_dir)
    # the copy sits at the same place under out as the source under paths.data_dir (else at its name)
    target = out / (source.relative_to(data_dir) if source.is_relative_to(data_dir) and source != data_dir else source.name)
    moved = OmegaConf.merge(cfg, {"paths": {"data_dir": str(out)}})  # does data.root follow paths.data_dir there?
    how = f"paths.data_dir={cfg.prepare.out}" if absolute(moved.data.root) == target else f"data.root={target}"
    for a, b in ((target, source), (source, target), (source, out)):
        if a.resolve().is_relative_to(b.resolve()):
            raise ZeldaError(f"prepare.out={cfg.prepare.out} overlaps the source data.root={cfg.data.root} (the copy would be "
                             f"written at {target}): choose a prepare.out outside the source tree that does not contain it")
    return source, target, how


def listed_videos(cfg: DictConfig, source: Path) -> list[Path]:
    """Every video a split of the data config lists, relative to the source root."""
    videos = set()
    for split in (name for name in SPLITS if name in cfg.data):
        dataset = build_dataset(cfg.data[split])
        for index in range(len(dataset)):
            path = absolute(dataset.path(index))
            if not path.is_relative_to(source):
                raise ZeldaError(f"{path} (data.{split}) lies outside data.root={cfg.data.root}: "
                                 "zelda.data.prepare copies the tree under data.root only")
            videos.add(path.relative_to(source))
    return sorted(videos)


def copy_other_files(source: Path, target: Path, videos: list[Path]) -> tuple[int, int]:
    """Copy every file under `source` that is not a video (annotations, label maps, split
    lists), unless an identical one is there; (files copied or present, videos no split lists)."""
    listed, copied, unlisted = set(videos), 0, 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        if relative in listed:
            continue
        if path.suffix.lower() in VIDEO_EXTENSIONS:  # a video no split lists
            unlisted += 1
            continue
        destination = target / relative
        stat = path.stat()
        if not (destination.is_file() and destination.stat().st_size == stat.st_size
                and destination.stat().st_mtime == stat.st_mtime):
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        copied += 1
    return copied, unlisted


def prepare_video(source: Path, target: Path, encoding: Encoding, threads: int) -> tuple[str, str]:
    """Encode one video unless its finished copy is there: ("skipped" | "encoded" | "failed", why).
    The copy is written to a hidden temporary name and renamed into place once it checks out."""
    try:
        frames, shape = open_video(source).num_frames, target_shape(*probe_shape(source), encoding.short_side)
        if problem(target, frames, shape, encoding) is None:
            return "skipped", ""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.stem}.partial{target.suffix}")  # the suffix picks the container
        encode(source, partial, encoding, threads)
    except UNREADABLE as error:
        return "failed", str(error)
    if reason := problem(partial, frames, shape, encoding):
        partial.unlink()
        return "failed", f"{source}: its copy is {reason}"
    partial.replace(target)  # atomic: a file at the final name is always a whole one
    return "encoded", ""


def encode_all(source: Path, target: Path, videos: list[Path], encoding: Encoding, workers: int) -> dict[str, list[str]]:
    """`prepare_video` for every video, `workers` at a time, with a progress bar; the videos by outcome."""
    threads = max(1, usable_cpus() // workers)  # each encoder's share of the CPUs
    outcomes: dict[str, list[str]] = {"encoded": [], "skipped": [], "failed": []}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = {pool.submit(prepare_video, source / video, target / video, encoding, threads): video for video in videos}
        for job in tqdm(as_completed(jobs), total=len(jobs), desc="prepare", unit="video"):
            status, why = job.result()
            outcomes[status].append(why or str(jobs[job]))
    return outcomes


def decode_times(cfg: DictConfig, copy_cfg: DictConfig, reps: int) -> dict[str, list[float]]:
    """Seconds to decode one train-sampled clip of every train video (the configured sampling and
    decoder), in the source and in the copy, alternating, `reps` times each."""
    source_set, copy_set = build_dataset(cfg.data.train), build_dataset(copy_cfg.data.train)
    return alternating({"source": lambda: decode_floor(source_set, cfg.seed),
                        "copy": lambda: decode_floor(copy_set, cfg.seed)}, reps)


def tree_bytes(root: Path, videos: list[Path]) -> int:
    """Bytes of the listed videos under `root` (those that are there)."""
    return sum((root / video).stat().st_size for video in videos if (root / video).is_file())


def format_report(report: dict[str, Any]) -> str:
    """Counts, bytes and decode times of source and copy, as printed."""
    lines = [f"{report['videos']} videos: {len(report['encoded'])} encoded, {len(report['skipped'])} already done, "
             f"{len(report['failed'])} failed; {report['files_copied']} other files copied or present"
             + (f"; left out {report['unlisted']} video(s) that no split lists" if report["unlisted"] else "")]
    lines += [f"  failed: {why}" for why in report["failed"]]
    times = report.get("decode_s", {})
    lines += ["", f"{'tree':<8}{'MB':>10}{'train decode, s/epoch' if times else '':>26}"]
    for tree in ("source", "copy"):
        spread = "  ".join(f"{s:.3g}" for s in times.get(tree, []))
        lines.append(f"{tree:<8}{report['bytes'][tree] / 1e6:>10.1f}{spread:>26}".rstrip())
    ratio = f"copy / source: {report['bytes']['copy'] / max(1, report['bytes']['source']):.2f}x the bytes"
    if times:
        speedup = statistics.median(times["source"]) / statistics.median(times["copy"])
        ratio += f", train decoding {speedup:.2f}x faster (medians; runs alternated source, copy)"
    return "\n".join([*lines, ratio, f"train on the copy with: {report['train_with']}"])


def prepare(cfg: DictConfig) -> dict[str, Any]:
    """Write the copy `cfg.prepare` describes; what was done and measured."""
    if OmegaConf.is_missing(cfg.prepare, "out"):
        raise ZeldaError("prepare.out is required: the data dir to write the copy into, e.g. prepare.out=/datasets/prepared")
    if cfg.data.get("prepare"):  # the source must be there (the synthetic one is generated)
        instantiate(cfg.data.prepare)
    source, target, how = locate(cfg)
    copy_cfg = OmegaConf.merge(cfg, {"data": {"root": str(target)}})
    videos = listed_videos(cfg, source)
    settings = cfg.prepare
    encoding = Encoding(settings.short_side, settings.keyint, settings.crf, settings.preset, settings.tune, settings.bframes)
    workers = usable_cpus() if settings.workers == "auto" else int(settings.workers)
    log.info("preparing %d videos of %s into %s with %s", len(videos), source, target, encoding)
    files_copied, unlisted = copy_other_files(source, target, videos)
    outcomes = encode_all(source, target, videos, encoding, max(1, min(workers, len(videos))))
    report = {"videos": len(videos), **outcomes, "files_copied": files_copied, "unlisted": unlisted,
              "bytes": {"source": tree_bytes(source, videos), "copy": tree_bytes(target, videos)}, "train_with": how}
    if settings.time_reps and not outcomes["failed"]:
        report["decode_s"] = decode_times(cfg, copy_cfg, settings.time_reps)
    return report


@hydra.main(config_path="../../conf", config_name="prepare", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point: exit status 1 when a video could not be prepared, with the reasons printed."""
    try:
        report = prepare(cfg)
    except Exception as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweep records the failure and goes on with the other jobs
        log.error("%s", user_error(error))
        sys.exit(2)
    print(format_report(report))
    if report["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
