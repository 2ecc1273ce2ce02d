"""Measure where an epoch's time goes: `python -m zelda.bench [--epochs N] [--reps N] [--sections epoch,loader] [overrides]`.

Section `epoch` (the default) compares the trainer's real epoch times with two floors measured
on the same config: the bare decoder (`pipeline.backend` opening each video and decoding exactly
the indices the sampler picks) and the bare model (forward + backward on random
tensors of the same shape, per precision mode; modes the device cannot run natively,
such as bf16 on a CPU without AVX512-BF16, are skipped, saying why). Perfect overlap
of decoding and compute would make an epoch cost `max(decode, compute)`; doing them
one after the other costs their sum. Section `loader` measures the clips per second the
train loader delivers with no model, per worker count (`--loader-workers 0,1`): the rate
that bounds a GPU. Prints one table per section and writes `bench.json`.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.config.compose import compose_config
from zelda.data.dataset import build_dataset
from zelda.data.loader import usable_cpus
from zelda.engine.device import PRECISIONS, not_native
from zelda.errors import user_error
from zelda.perf.compute import model_floor, trainer_epochs
from zelda.perf.decoding import decode_floor, full_res_decode, pipeline_time
from zelda.perf.loader import format_throughput, loader_throughput
from zelda.perf.timing import peak_memory

SECTIONS = ("epoch", "loader")


def run(cfg: DictConfig, epochs: int, reps: int, full_res: int = 0, sections: tuple[str, ...] = ("epoch",),
        loader_workers: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    """Every measurement of the chosen sections, as one dict."""
    if cfg.data.get("prepare"):
        instantiate(cfg.data.prepare)
    configured = instantiate(cfg.trainer, progress_bar=False)
    device, precision = configured.device, configured.precision  # `auto` resolved
    report: dict[str, Any] = {"config": {"data": cfg.data.name, "root": cfg.data.get("root"),
                                         "backend": cfg.pipeline.get("backend"), "batch_size": cfg.data.batch_size,
                                         "clip_len": cfg.pipeline.clip_len, "crop_size": cfg.pipeline.crop_size,
                                         "val_num_clips": cfg.pipeline.val_num_clips,
                                         "precision": precision,
                                         "channels_last": cfg.model.channels_last,
                                         "num_workers": cfg.data.num_workers, "device": str(device),
                                         "threads": torch.get_num_threads(), "cpus": usable_cpus()}}
    if "epoch" in sections:
        report.update(epoch_costs(cfg, device, precision, epochs, reps, full_res))
    if "loader" in sections:
        report["loader"] = [loader_throughput(cfg, workers) for workers in loader_workers]
    report["memory"] = peak_memory()
    return report


def epoch_costs(cfg: DictConfig, device: torch.device, precision: str, epochs: int, reps: int,
                full_res: int) -> dict[str, Any]:
    """The epoch section: decode and model floors, real trainer epochs, and how they compare."""
    train_set, val_set = build_dataset(cfg.data.train), build_dataset(cfg.data.val)
    skipped = {mode: reason for mode in PRECISIONS if (reason := not_native(mode, device))}  # hours, not seconds
    report: dict[str, Any] = {}
    for name, dataset in (("train", train_set), ("val", val_set)):
        decode = statistics.median(decode_floor(dataset, cfg.seed) for _ in range(reps))
        pipeline = statistics.median(pipeline_time(dataset, cfg.seed) for _ in range(reps))
        report[name] = {"videos": len(dataset), "decode_floor_s": decode, "pipeline_s": pipeline,
                        "pipeline_vs_decode_floor": decode / pipeline}
    report["model_floor"] = {mode: model_floor(cfg, train_set, val_set, mode, reps)
                             for mode in PRECISIONS if mode not in skipped}
    report["model_floor_skipped"] = skipped
    rows = trainer_epochs(cfg, train_set, val_set, epochs)
    measured = rows[1:] or rows  # the first epoch warms up (and fills the val cache)
    train_s = statistics.median(r["train/data_time_s"] + r["train/step_time_s"] for r in measured)
    val_s = statistics.median(r["val/time_s"] for r in measured)
    floor = report["model_floor"][precision]
    compute, decode = floor["train_s"] + floor["val_s"], report["train"]["decode_floor_s"] + report["val"]["decode_floor_s"]
    report["trainer"] = {"epochs": epochs, "train_s": train_s, "val_s": val_s, "first_val_s": rows[0]["val/time_s"],
                         "epoch_s": train_s + val_s, "vs_max_floor": (train_s + val_s) / max(compute, decode),
                         "vs_serial_sum": (train_s + val_s) / (compute + decode),
                         "val_later_vs_first": val_s / rows[0]["val/time_s"]}
    if full_res:
        report["full_res"] = full_res_decode(build_dataset(cfg.data.train), full_res, 1080, reps)
    return report


def format_report(report: dict[str, Any]) -> str:
    """The tables printed to the console."""
    lines = [f"zelda.bench: {report['config']}"]
    if "trainer" in report:
        lines += ["", *format_epoch(report)]
    if "loader" in report:
        title = (f"loader throughput: train split, batch {report['config']['batch_size']}, no model "
                 "(the first batch, with worker start-up, timed on its own)")
        lines += ["", title, *format_throughput(report["loader"])]
    lines.append(f"peak memory: {report['memory']}")
    return "\n".join(lines)


def format_epoch(report: dict[str, Any]) -> list[str]:
    """The epoch section's table."""
    trainer = report["trainer"]
    lines = [f"{'what':<44}{'train':>10}{'val':>10}"]
    for key, label in (("decode_floor_s", "decode floor, s/epoch (bare decoder)"),
                       ("pipeline_s", "pipeline, s/epoch"), ("pipeline_vs_decode_floor", "pipeline speed / decode floor")):
        lines.append(f"{label:<44}{report['train'][key]:>10.3g}{report['val'][key]:>10.3g}")
    for mode, floor in report["model_floor"].items():
        lines.append(f"{f'model floor {mode}, s/epoch':<44}{floor['train_s']:>10.3g}{floor['val_s']:>10.3g}")
    lines += [f"model floor {mode}: skipped ({reason})" for mode, reason in report["model_floor_skipped"].items()]
    lines.append(f"{'trainer epoch, s (median after the first)':<44}{trainer['train_s']:>10.3g}{trainer['val_s']:>10.3g}")
    lines += ["", f"epoch (train + val): {trainer['epoch_s']:.3g} s = {trainer['vs_max_floor']:.2f} x max(compute, decode) "
                  f"floor, {trainer['vs_serial_sum']:.2f} x their serial sum",
              f"val epoch after the first: {trainer['val_later_vs_first']:.2f} x the first ({trainer['first_val_s']:.3g} s)"]
    if "full_res" in report:
        full = report["full_res"]
        lines.append(f"{full['videos']} copies at short side {full['short_side']}: train pipeline {full['decode_at_size_s']:.3g} s/clip "
                     f"decoding at size vs {full['decode_then_resize_s']:.3g} s/clip decoding full frames "
                     f"({full['speedup']:.2f}x)")
    return lines


def choices(allowed: tuple[str, ...]):
    """An argparse type: a comma-separated list of `allowed` names."""
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(text.split(","))
        if unknown := [name for name in names if name not in allowed]:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}: choose from {', '.join(allowed)}")
        return names
    return parse


def counts(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated worker counts such as `0,1,2`."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. 0,1,2") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zelda.bench", description=__doc__.splitlines()[0],
                                     epilog="Other arguments are Hydra overrides, e.g. data=k400_tiny trainer.precision=bf16-mixed")
    parser.add_argument("--epochs", type=int, default=3, help="trainer epochs to run (the first is warm-up)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each floor measurement")
    parser.add_argument("--out", default="bench.json", help="where to write the JSON report")
    parser.add_argument("--full-res", type=int, default=0, metavar="N",
                        help="also time decoding 1080p copies of N train videos, at size vs full size")
    parser.add_argument("--sections", type=choices(SECTIONS), default=("epoch",), metavar="NAME[,NAME]",
                        help=f"what to measure, from {', '.join(SECTIONS)} (default: epoch)")
    parser.add_argument("--loader-workers", type=counts, default=(0, 1), metavar="N[,N]",
                        help="the loader section's worker counts (default: 0,1)")
    args, overrides = parser.parse_known_args(argv)
    try:
        report = run(compose_config(overrides), args.epochs, args.reps, args.full_res, args.sections, args.loader_workers)
    except Exception as error:
        print(f"zelda.bench: {user_error(error)}", file=sys.stderr)
        return 2
    print(format_report(report))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
