"""DDP with torchrun on 2 CPU processes (gloo) equals one process over the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import ROOT, TINY_DATA, read_wandb_run, run_cli

from zelda.data.loader import SeededSampler

# Frozen BatchNorm, no dropout, fp32: the only differences left between 2 ranks x 2 clips
# and 1 process x 4 clips are float summation orders (SyncBatchNorm has no CPU kernel).
RUN = [*TINY_DATA, "data.prepare.num_val=5", "pipeline.clip_len=4", "trainer.max_epochs=2",
       "model.head.dropout=0", "model.backbone.norm_eval=true", "trainer.precision=32"]
COMPARED = ("train/loss", "val/top1", "val/top5", "val/mean_class_acc")


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("ddp")
    data = f"paths.data_dir={tmp / 'data'}"
    single = run_cli("zelda.train", *RUN, data, "data.batch_size=4", "data.val_batch_size=2",
                     f"hydra.run.dir={tmp / 'single'}", "logger=none")
    assert single.returncode == 0, single.stderr[-2000:]
    workdir = tmp / "ddp"
    workdir.mkdir()
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "zelda.train",
         *RUN, data, "data.batch_size=2", "trainer.strategy=ddp"],
        cwd=workdir, env={**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=600,
    )
    assert ddp.returncode == 0, (ddp.stdout + ddp.stderr)[-3000:]
    [ddp_run] = list((workdir / "outputs").iterdir())  # exactly one run dir for both ranks
    return tmp / "single", ddp_run


def test_ddp_metrics_and_weights_equal_a_single_process_run(runs):
    single, ddp = runs
    for a, b in zip(rows(single), rows(ddp), strict=True):
        for key in COMPARED:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    ddp_weights = torch.load(ddp / "checkpoints" / "last.pt", weights_only=True)["model"]
    single_weights = torch.load(single / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert ddp_weights.keys() == single_weights.keys()  # no "module." prefix: loads without DDP
    for key in single_weights:
        assert torch.allclose(ddp_weights[key].float(), single_weights[key].float(), atol=1e-4), key


def test_only_rank_zero_writes_one_run_dir_and_one_wandb_run(runs):
    _, ddp = runs
    assert len(list(ddp.glob("wandb/offline-run-*"))) == 1
    assert read_wandb_run(ddp)["state"] == "finished"
    summary = json.loads((ddp / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["world_size"] == 2
    assert (ddp / ".hydra").is_dir() and (ddp / "train.log").read_text().count("epoch 2/2") == 1


def test_val_counts_every_video_once(runs):
    ranks = [list(SeededSampler(5, False, 0, rank, 2, pad=False)) for rank in range(2)]
    assert sorted(index for keys in ranks for index, _ in keys) == [0, 1, 2, 3, 4]


def test_launching_several_processes_without_ddp_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "zelda.train",
         *RUN, f"paths.data_dir={tmp_path / 'data'}", "logger=none"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "add trainer.strategy=ddp" in result.stdout + result.stderr


def test_sync_batchnorm_on_cpu_is_refused_with_the_alternative(tmp_path):
    result = run_cli("zelda.train", *RUN, "trainer.sync_batchnorm=true", "logger=none",
                     f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 1 and "model.backbone.norm_eval=true" in result.stdout + result.stderr


def test_a_ddp_checkpoint_loads_in_single_process_test_and_predict(runs, tmp_path):
    _, ddp = runs
    checkpoint = ddp / "checkpoints" / "last.pt"
    data = f"paths.data_dir={ddp.parent.parent / 'data'}"
    tested = run_cli("zelda.test", f"ckpt_path={checkpoint}", data, f"hydra.run.dir={tmp_path / 'test'}")
    assert tested.returncode == 0, tested.stderr[-2000:]
    metrics = json.loads((tmp_path / "test" / "test_metrics.json").read_text())
    assert metrics["top1"] == pytest.approx(rows(ddp)[-1]["val/top1"])  # what the DDP run validated
    video = next((ddp.parent.parent / "data" / "synthetic" / "val").glob("*.mp4"))
    predicted = run_cli("zelda.predict", str(video), f"ckpt_path={checkpoint}", data)
    assert predicted.returncode == 0, predicted.stderr[-2000:]


@pytest.mark.parametrize("length,world_size,pad", [(7, 2, True), (7, 2, False), (8, 3, True), (5, 1, False), (2, 3, False)])
def test_sampler_length_matches_its_keys(length, world_size, pad):
    for rank in range(world_size):
        sampler = SeededSampler(length, True, 0, rank, world_size, pad)
        assert len(sampler) == len(list(sampler))
        sampler.set_epoch(1, start=1)
        assert len(sampler) == len(list(sampler))
