"""Measure where an epoch's time goes: `python -m zelda.bench [--epochs N] [--reps N] [overrides]`.

Compares the trainer's real epoch times with two floors measured on the same
config: the bare decoder (decord opening each video and `get_batch` of exactly the
indices the sampler picks) and the bare model (forward + backward on random
tensors of the same shape, per precision mode). Perfect overlap of decoding and
compute would make an epoch cost `max(decode, compute)`; doing them one after the
other costs their sum. Prints one table and writes `bench.json`.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.config import compose_config
from zelda.data.dataset import VideoDataset
from zelda.data.loader import SeededSampler, build_loader
from zelda.data.transforms import VideoInit, VideoResize, VideoSample
from zelda.errors import user_error
from zelda.loggers import JsonlLogger
from zelda.trainer import PRECISIONS


def median_time(run: Callable[[], Any], reps: int, warmup: int = 1) -> float:
    """Median seconds of `run()` over `reps` calls after `warmup` calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decode_floor(dataset: VideoDataset, seed: int) -> float:
    """Seconds to open every video and `get_batch` the indices its sampler picks."""
    import decord

    [sampler] = [t for t in dataset.pipeline.transforms if isinstance(t, VideoSample)]
    keys = list(SeededSampler(len(dataset), shuffle=False, seed=seed))
    start = time.perf_counter()
    for index, key_seed in keys:
        reader = decord.VideoReader(str(dataset.path(index)), num_threads=1)
        picked = sampler({"total_frames": len(reader), "rng": np.random.default_rng(key_seed)})
        reader.get_batch(picked["frame_inds"].tolist()).asnumpy()
    return time.perf_counter() - start


def pipeline_time(dataset: VideoDataset, seed: int) -> float:
    """Seconds for the full pipeline (decode, resize, crop, pack) over the split."""
    keys = list(SeededSampler(len(dataset), shuffle=False, seed=seed))
    start = time.perf_counter()
    for key in keys:
        dataset.load_with_policy(*key)  # bypasses the val cache: this measures decoding
    return time.perf_counter() - start


def model_floor(cfg: DictConfig, train_set: VideoDataset, val_set: VideoDataset, precision: str,
                reps: int) -> dict[str, float]:
    """Per-epoch seconds of bare train steps and val forwards on random inputs."""
    trainer = instantiate(cfg.trainer, precision=precision, progress_bar=False)
    model = instantiate(cfg.model).to(trainer.device)
    optimizer = instantiate(cfg.optimizer)(model.parameters())
    pipe = cfg.pipeline
    shape = (3, pipe.clip_len, pipe.crop_size, pipe.crop_size)
    train_batch = torch.randint(0, 256, (cfg.data.batch_size, pipe.num_clips, *shape), dtype=torch.uint8)
    val_batch = torch.randint(0, 256, (cfg.data.val_batch_size, pipe.val_num_clips, *shape), dtype=torch.uint8)
    samples = [train_set[0]["sample"]] * cfg.data.batch_size

    def train_step() -> None:
        with trainer.autocast():
            loss = model(train_batch, samples, mode="loss")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        synchronize(trainer.device)

    @torch.no_grad()
    def val_step() -> None:
        with trainer.autocast():
            model(val_batch, None, mode="predict")
        synchronize(trainer.device)

    model.train()
    train_s = median_time(train_step, reps) * -(-len(train_set) // cfg.data.batch_size)
    model.eval()
    val_s = median_time(val_step, reps) * -(-len(val_set) // cfg.data.val_batch_size)
    return {"train_s": train_s, "val_s": val_s}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trainer_epochs(cfg: DictConfig, train_set: VideoDataset, val_set: VideoDataset, epochs: int) -> list[dict]:
    """Real epochs of the configured trainer; the rows it logs."""
    loader = dict(num_workers=cfg.data.num_workers, persistent_workers=cfg.data.persistent_workers, seed=cfg.seed)
    train_loader = build_loader(train_set, cfg.data.batch_size, shuffle=True, **loader)
    val_loader = build_loader(val_set, cfg.data.val_batch_size, shuffle=False, **loader)
    trainer = instantiate(cfg.trainer, max_epochs=epochs, progress_bar=False, resume=None)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer.fit(instantiate(cfg.model), instantiate(cfg.optimizer), train_loader, val_loader,
                    instantiate(cfg.metric), [JsonlLogger(run_dir)], run_dir)
        return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def upscale_copies(dataset: VideoDataset, count: int, short_side: int, folder: Path, max_frames: int) -> list[Path]:
    """h264 copies of the first `count` videos with a `short_side`-pixel short side."""
    import av
    import decord

    from zelda.data.synthetic import write_mp4
    from zelda.data.transforms import resized_shape

    paths = []
    for index in range(min(count, len(dataset))):
        reader = decord.VideoReader(str(dataset.path(index)), num_threads=1)
        height, width = resized_shape(*reader[0].shape[:2], short_side)
        reader = decord.VideoReader(str(dataset.path(index)), num_threads=1, width=width // 2 * 2, height=height // 2 * 2)
        frames = reader.get_batch(list(range(min(len(reader), max_frames)))).asnumpy()
        paths.append(folder / f"full_res_{index}.mp4")
        write_mp4(paths[-1], frames, fps=int(round(reader.get_avg_fps())))
    return paths


def full_res_decode(dataset: VideoDataset, count: int, short_side: int, reps: int) -> dict[str, Any]:
    """Train-pipeline seconds per clip on full-resolution copies, decoding at the resize
    target vs decoding full frames and resizing them."""
    [init] = [t for t in dataset.pipeline.transforms if isinstance(t, VideoInit)]
    [resize] = [t for t in dataset.pipeline.transforms if isinstance(t, VideoResize)]
    with tempfile.TemporaryDirectory() as folder:
        paths = upscale_copies(dataset, count, short_side, Path(folder), max_frames=150)
        seconds = {}
        for label, size in (("decode_at_size_s", resize.short_side), ("decode_then_resize_s", None)):
            init.decode_short_side = size
            run_all = lambda: [dataset.pipeline({"filename": str(p), "label": 0, "rng": np.random.default_rng(0)})  # noqa: E731
                               for p in paths]
            seconds[label] = median_time(run_all, reps) / len(paths)
    return {"videos": len(paths), "short_side": short_side, **seconds,
            "speedup": seconds["decode_then_resize_s"] / seconds["decode_at_size_s"]}


def peak_memory() -> dict[str, float]:
    """Peak RSS of this process and of its (finished) children, and GPU memory, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"rss_mb": own, "children_rss_mb": children, "gpu_mb": gpu}


def run(cfg: DictConfig, epochs: int, reps: int, full_res: int = 0) -> dict[str, Any]:
    """Every measurement of the benchmark, as one dict."""
    if cfg.data.get("prepare"):
        instantiate(cfg.data.prepare)
    train_set, val_set = instantiate(cfg.data.train), instantiate(cfg.data.val)
    configured = instantiate(cfg.trainer, progress_bar=False)
    device, precision = configured.device, configured.precision  # `auto` resolved
    modes = [p for p in PRECISIONS if device.type == "cuda" or p != "16-mixed"]
    report: dict[str, Any] = {"config": {"data": cfg.data.name, "batch_size": cfg.data.batch_size,
                                         "clip_len": cfg.pipeline.clip_len, "crop_size": cfg.pipeline.crop_size,
                                         "val_num_clips": cfg.pipeline.val_num_clips,
                                         "precision": precision,
                                         "channels_last": cfg.model.channels_last,
                                         "num_workers": cfg.data.num_workers, "device": str(device),
                                         "threads": torch.get_num_threads(), "cpus": os.cpu_count()}}
    for name, dataset in (("train", train_set), ("val", val_set)):
        decode = statistics.median(decode_floor(dataset, cfg.seed) for _ in range(reps))
        pipeline = statistics.median(pipeline_time(dataset, cfg.seed) for _ in range(reps))
        report[name] = {"videos": len(dataset), "decode_floor_s": decode, "pipeline_s": pipeline,
                        "pipeline_vs_decode_floor": decode / pipeline}
    report["model_floor"] = {mode: model_floor(cfg, train_set, val_set, mode, reps) for mode in modes}
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
        report["full_res"] = full_res_decode(instantiate(cfg.data.train), full_res, 1080, reps)
    report["memory"] = peak_memory()
    return report


def format_report(report: dict[str, Any]) -> str:
    """The table printed to the console."""
    config, trainer = report["config"], report["trainer"]
    lines = [f"zelda.bench: {config}", "", f"{'what':<44}{'train':>10}{'val':>10}"]
    for key, label in (("decode_floor_s", "decode floor, s/epoch (bare decord)"),
                       ("pipeline_s", "pipeline, s/epoch"), ("pipeline_vs_decode_floor", "pipeline speed / decode floor")):
        lines.append(f"{label:<44}{report['train'][key]:>10.3g}{report['val'][key]:>10.3g}")
    for mode, floor in report["model_floor"].items():
        lines.append(f"{f'model floor {mode}, s/epoch':<44}{floor['train_s']:>10.3g}{floor['val_s']:>10.3g}")
    lines.append(f"{'trainer epoch, s (median after the first)':<44}{trainer['train_s']:>10.3g}{trainer['val_s']:>10.3g}")
    lines += ["", f"epoch (train + val): {trainer['epoch_s']:.3g} s = {trainer['vs_max_floor']:.2f} x max(compute, decode) "
                  f"floor, {trainer['vs_serial_sum']:.2f} x their serial sum",
              f"val epoch after the first: {trainer['val_later_vs_first']:.2f} x the first ({trainer['first_val_s']:.3g} s)",
              f"peak memory: {report['memory']}"]
    if "full_res" in report:
        full = report["full_res"]
        lines.append(f"{full['videos']} copies at short side {full['short_side']}: train pipeline {full['decode_at_size_s']:.3g} s/clip "
                     f"decoding at size vs {full['decode_then_resize_s']:.3g} s/clip decoding full frames "
                     f"({full['speedup']:.2f}x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zelda.bench", description=__doc__.splitlines()[0],
                                     epilog="Other arguments are Hydra overrides, e.g. data=k400_tiny trainer.precision=bf16-mixed")
    parser.add_argument("--epochs", type=int, default=3, help="trainer epochs to run (the first is warm-up)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each floor measurement")
    parser.add_argument("--out", default="bench.json", help="where to write the JSON report")
    parser.add_argument("--full-res", type=int, default=0, metavar="N",
                        help="also time decoding 1080p copies of N train videos, at size vs full size")
    args, overrides = parser.parse_known_args(argv)
    try:
        report = run(compose_config(overrides), args.epochs, args.reps, args.full_res)
    except Exception as error:
        print(f"zelda.bench: {user_error(error)}", file=sys.stderr)
        return 2
    print(format_report(report))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
