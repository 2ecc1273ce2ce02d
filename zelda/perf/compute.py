"""Compute-side floors: bare train steps and val forwards on random inputs, and real trainer epochs."""

import json
import tempfile
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.data.dataset import VideoDataset
from zelda.data.loader import build_loader
from zelda.engine.device import autocast
from zelda.perf.timing import median_time, synchronize
from zelda.runs.loggers import JsonlLogger


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
        with autocast(trainer.device, trainer.precision):
            loss = model(train_batch, samples, mode="loss")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        synchronize(trainer.device)

    @torch.no_grad()
    def val_step() -> None:
        with autocast(trainer.device, trainer.precision):
            model(val_batch, None, mode="predict")
        synchronize(trainer.device)

    model.train()
    train_s = median_time(train_step, reps) * -(-len(train_set) // cfg.data.batch_size)
    model.eval()
    val_s = median_time(val_step, reps) * -(-len(val_set) // cfg.data.val_batch_size)
    return {"train_s": train_s, "val_s": val_s}


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
