"""CUDA paths, run only where a GPU is present (`-m cuda`; skipped elsewhere)."""

import csv
import json
from pathlib import Path

import pytest
import torch
from helpers import TINY_RUN, run_cli

from zelda.data.dataset import VideoDataset
from zelda.data.loader import build_loader

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")]


def train_on_cuda(tmp_path: Path, precision: str) -> Path:
    run_dir = tmp_path / f"run_{precision}"
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", "trainer.device=cuda", f"trainer.precision={precision}",
                     f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.mark.parametrize("precision", ["32", "bf16-mixed", "16-mixed"])
def test_a_training_epoch_runs_on_cuda_in_each_precision(tmp_path, precision):
    run_dir = train_on_cuda(tmp_path, precision)
    [row] = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert torch.isfinite(torch.tensor(row["train/loss"])) and 0 <= row["val/top1"] <= 1
    state = torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert state["scaler"] if precision == "16-mixed" else not state["scaler"]  # loss scaling for fp16 only


def test_pinned_batches_reach_the_gpu_unchanged(tmp_path):
    train_on_cuda(tmp_path, "32")  # generates the tiny data set
    from hydra.utils import instantiate

    from zelda.config.compose import compose_config

    cfg = compose_config([*TINY_RUN, f"paths.data_dir={tmp_path / 'data'}"])
    dataset: VideoDataset = instantiate(cfg.data.val)
    loader = build_loader(dataset, 2, shuffle=False, num_workers=1, persistent_workers=False, seed=0, pin_memory=True)
    batch = next(iter(loader))
    assert batch["inputs"].is_pinned()
    on_gpu = batch["inputs"].to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    assert torch.equal(on_gpu.cpu(), batch["inputs"])


def read_scores(out: Path) -> dict[str, list[float]]:
    """filename -> scores of its top classes, from a zelda.test run's predictions.csv."""
    with (out / "predictions.csv").open() as file:
        return {row["filename"]: [float(v) for k, v in row.items() if k.startswith("score")] for row in csv.DictReader(file)}


def test_a_cuda_checkpoint_evaluates_on_the_cpu_with_the_gpus_scores(tmp_path):
    run_dir = train_on_cuda(tmp_path, "32")
    scores = {}
    for device in ("cuda", "cpu"):
        out = tmp_path / f"test_{device}"
        result = run_cli("zelda.test", f"ckpt_path={run_dir / 'checkpoints' / 'last.pt'}", f"trainer.device={device}",
                         f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={out}")
        assert result.returncode == 0, result.stderr[-3000:]
        scores[device] = read_scores(out)
    assert scores["cpu"].keys() == scores["cuda"].keys()
    for video, expected in scores["cuda"].items():
        assert scores["cpu"][video] == pytest.approx(expected, abs=1e-3), video
