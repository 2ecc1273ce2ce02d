"""Evaluate a checkpoint: `python -m zelda.test ckpt_path=PATH [split=val|test] [test.num_clips=N]
[test.crops=center|three|ten] [overrides]`.

Restores the model and the config it was trained with (other overrides change that config),
runs `Trainer.evaluate` over the split with the chosen views, and writes `test_metrics.json`
and `predictions.csv` into its own run dir.
"""

import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from zelda.config.checks import check_config
from zelda.data.dataset import build_dataset
from zelda.data.loader import build_loader
from zelda.data.views import split_dataset
from zelda.errors import ZeldaError, user_error
from zelda.runs.predictions import write_predictions
from zelda.runs.records import write_config, write_json
from zelda.runs.restore import RESTORE_KEYS, class_names, restore
from zelda.runs.video_scores import ScoreCollector

log = logging.getLogger("zelda.test")
TEST_KEYS = (*RESTORE_KEYS, "split", "test")  # this tool's keys; the other overrides go to the training config


def training_overrides() -> list[str]:
    """The command line's overrides of the checkpoint's training config."""
    return [line for line in HydraConfig.get().overrides.task
            if line.lstrip("+~").split("=", 1)[0].split(".", 1)[0] not in TEST_KEYS]


def run_test(cfg: DictConfig, overrides: list[str], run_dir: Path) -> dict[str, Any]:
    """Evaluate `cfg.ckpt_path` on `cfg.split`; write the metrics and predictions into `run_dir`."""
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ZeldaError("ckpt_path is required: python -m zelda.test ckpt_path=outputs/RUN/checkpoints/best.pt")
    restored = restore(cfg.ckpt_path, overrides, cfg.config_path)
    train_cfg = restored.cfg
    check_config(train_cfg)
    if OmegaConf.select(train_cfg, "data.index") is None:  # saved before dataset formats: data.val.ann_file
        raise ZeldaError(f"{restored.config_path} describes its data the old way (data.val.ann_file, no data.index), "
                         "which this version cannot read: pass config_path= a config.yaml of this version for the "
                         "same data and model (a `python -m zelda.train ... trainer.max_epochs=1` run writes one)")
    dataset_cfg = split_dataset(train_cfg, cfg.split, cfg.test.num_clips, cfg.test.crops)
    write_config(OmegaConf.merge(train_cfg, {key: cfg[key] for key in TEST_KEYS}), run_dir)
    if train_cfg.data.get("prepare"):
        instantiate(train_cfg.data.prepare)
    dataset = build_dataset(dataset_cfg)
    trained, found = OmegaConf.select(train_cfg, "data.classes"), dataset.index.classes()
    if trained is not None and found != list(trained):  # labels would count as other classes than the model's
        raise ZeldaError(f"the {len(found)} classes of the data at {dataset.index.root} differ from the {len(trained)} "
                         f"the checkpoint was trained on (its data.classes): point data.root (or paths.data_dir) at "
                         f"the dataset it was trained on; python -m zelda.check lists a dataset's classes")
    loader = build_loader(dataset, train_cfg.data.val_batch_size, shuffle=False, num_workers=train_cfg.data.num_workers,
                          persistent_workers=False, seed=train_cfg.seed, pad=False)
    trainer = instantiate(train_cfg.trainer, progress_bar="auto", resume=None, limit_val_batches=None)
    metric = instantiate(train_cfg.metric)
    log.info("testing %s (epoch %s) on %d %s videos", restored.ckpt_path, restored.epoch, len(dataset), cfg.split)
    collected = ScoreCollector(dataset.video_dir)
    metrics = trainer.evaluate(restored.model, loader, metric, on_batch=collected)
    videos = collected.gathered()
    meta = dataset[0]["sample"].meta
    results = {**metrics, "num_videos": len(dataset), "views_per_video": meta["num_clips"] * meta.get("num_crops", 1),
               "num_clips": meta["num_clips"], "num_crops": meta.get("num_crops", 1), "crops": cfg.test.crops,
               "split": cfg.split, "ckpt_path": str(restored.ckpt_path.resolve()), "epoch": restored.epoch,
               "config_path": str(restored.config_path.resolve())}
    write_json(run_dir / "test_metrics.json", results)
    write_predictions(run_dir / "predictions.csv", videos.filenames, videos.labels, videos.scores,
                      class_names(train_cfg))
    print(f"{'videos':>7} {'views':>6} " + " ".join(f"{key:>14}" for key in metrics))
    print(f"{len(dataset):>7} {results['views_per_video']:>6} " + " ".join(f"{v:>14.4f}" for v in metrics.values()))
    print(f"metrics:     {run_dir / 'test_metrics.json'}\npredictions: {run_dir / 'predictions.csv'}")
    return results


@hydra.main(config_path="../conf", config_name="test", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, Any]:
    """Entry point; returns the metrics (and how they were measured)."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    log.info("run dir: %s", run_dir)
    try:
        return run_test(cfg, training_overrides(), run_dir)
    except Exception as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        log.error("%s", user_error(error))  # a problem the user can fix: a sentence, not a traceback
        sys.exit(1)


if __name__ == "__main__":
    main()
