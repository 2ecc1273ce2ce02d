"""DDP with torchrun on 2 CPU processes (gloo) equals one process over the same global batch."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import ROOT, TINY_DATA, read_wandb_run, requires_cuda, run_cli
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from zelda.data.loader import SeededSampler
from zelda.runs.per_video import predictions_path, read_predictions

# Frozen BatchNorm, no dropout, fp32: the only differences left between 2 ranks x 2 clips
# and 1 process x 4 clips are float summation orders (SyncBatchNorm has no CPU kernel).
RUN = [*TINY_DATA, "data.prepare.num_val=5", "pipeline.clip_len=4", "trainer.max_epochs=2",
       "model.head.dropout=0", "model.backbone.norm_eval=true", "trainer.precision=32"]
COMPARED = ("train/loss", "val/top1", "val/top5", "val/mean_class_acc")
ENV = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def torchrun(*overrides: str, nproc: int = 2) -> list[str]:
    """The command that trains under torchrun with `nproc` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "zelda.train", *overrides]


def assert_same_metrics(a: Path, b: Path) -> None:
    """The two runs logged the same epochs with the same metrics, up to float summation order."""
    for row_a, row_b in zip(rows(a), rows(b), strict=True):
        for key in COMPARED:
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-4, abs=1e-6), key


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("ddp")
    data = f"paths.data_dir={tmp / 'data'}"
    single = run_cli("zelda.train", *RUN, data, "data.batch_size=4", "data.val_batch_size=2",
                     f"hydra.run.dir={tmp / 'single'}", "logger=none")
    assert single.returncode == 0, single.stderr[-2000:]
    workdir = tmp / "ddp"
    workdir.mkdir()
    ddp = subprocess.run(torchrun(*RUN, data, "data.batch_size=2", "trainer.strategy=ddp"),
                         cwd=workdir, env=ENV, capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, (ddp.stdout + ddp.stderr)[-3000:]
    [ddp_run] = list((workdir / "outputs").iterdir())  # exactly one run dir for both ranks
    return tmp / "single", ddp_run


def test_ddp_metrics_and_weights_equal_a_single_process_run(runs):
    single, ddp = runs
    assert_same_metrics(single, ddp)
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


def test_per_video_predictions_hold_every_ranks_videos(runs):
    """Rank 0 writes (and logs to W&B) the predictions of all 5 val videos, not its own 3."""
    single, ddp = (read_predictions(predictions_path(run, "final")) for run in runs)
    assert len(ddp) == 5 and ddp == single


def test_launching_several_processes_without_ddp_is_a_clear_error(tmp_path):
    result = subprocess.run(torchrun(*RUN, f"paths.data_dir={tmp_path / 'data'}", "logger=none"),
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
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


# Skipped videos: rank 0 records every rank's, and the count is their sum -------------------


def test_rank_zero_lists_every_ranks_skipped_videos_and_counts_them_all(tmp_path):
    overrides = [*RUN, f"paths.data_dir={tmp_path / 'data'}", "data.shuffle=false", "trainer.max_epochs=1"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    root = instantiate(cfg.data.prepare)  # the synthetic set, as the run will find it
    # unshuffled, rank 0 starts with video 0 and rank 1 with video 1: break one for each
    assert [next(iter(SeededSampler(8, False, 0, rank, 2)))[0] for rank in range(2)] == [0, 1]
    broken = [root / "train" / "train_0000.mp4", root / "train" / "train_0001.mp4"]
    broken[0].write_bytes(b"")
    broken[1].write_text("this is not a video\n")
    result = subprocess.run(torchrun(*overrides, "data.batch_size=2", "trainer.strategy=ddp", "logger=none",
                                     f"hydra.run.dir={tmp_path / 'run'}"),
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    lines = (tmp_path / "run" / "bad_videos.txt").read_text().splitlines()
    assert {line.split("\t")[0] for line in lines} == {str(path) for path in broken}
    [row] = rows(tmp_path / "run")
    assert row["train/skipped_videos"] == len(lines)  # both ranks' skips, each listed once


# A stop signal to one rank stops every rank at the same step ------------------------------

STOP_RUN = [*RUN, "data.prepare.num_train=16", "trainer.max_epochs=4", "data.batch_size=2", "trainer.strategy=ddp",
            "data.num_workers=1"]  # loader workers: torchrun signals each rank's whole process group
STEPS_PER_EPOCH = 4  # 16 clips, 2 ranks x 2 clips


def start_stoppable(run_dir: Path, *overrides: str) -> subprocess.Popen:
    """Launch STOP_RUN under torchrun, logging to `<run_dir>.log`; return once epoch 1 is done."""
    with run_dir.with_suffix(".log").open("w") as output:
        launcher = subprocess.Popen(torchrun(*STOP_RUN, *overrides, f"hydra.run.dir={run_dir}"), cwd=run_dir.parent,
                                    env=ENV, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not (run_dir / "metrics.jsonl").exists():
        assert launcher.poll() is None, run_dir.with_suffix(".log").read_text()[-3000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.01)
    return launcher


def assert_stopped_gracefully(launcher: subprocess.Popen, run_dir: Path) -> None:
    """Every rank (and torchrun) exited within 30 s; rank 0 saved the agreed step and closed the run."""
    try:
        launcher.wait(timeout=30)
    finally:
        launcher.kill()
    assert launcher.returncode != 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted", run_dir.with_suffix(".log").read_text()[-3000:]
    assert read_wandb_run(run_dir)["exit_code"] == 1
    saved = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert saved["global_step"] > STEPS_PER_EPOCH  # saved at the agreed stop, not only at epoch 1's end
    assert len(rows(run_dir)) < 4, "the run finished before it could be stopped"


def worker_pids(launcher: subprocess.Popen) -> dict[int, int]:
    """`{rank: pid}` of torchrun's workers: its children, each with its RANK in its environment."""
    children = [int(pid) for task in Path(f"/proc/{launcher.pid}/task").iterdir()
                for pid in (task / "children").read_text().split()]
    ranks = {}
    for pid in children:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        ranks.update({int(item[5:]): pid for item in environ if item.startswith(b"RANK=")})
    return ranks


@pytest.mark.slow
def test_sigterm_to_one_rank_stops_all_ranks_saves_and_resumes_exactly(tmp_path):
    data = f"paths.data_dir={tmp_path / 'data'}"
    reference = subprocess.run(torchrun(*STOP_RUN, data, f"hydra.run.dir={tmp_path / 'reference'}"),
                               cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, (reference.stdout + reference.stderr)[-3000:]
    run_dir = tmp_path / "stopped"
    launcher = start_stoppable(run_dir, data)
    os.kill(worker_pids(launcher)[1], signal.SIGTERM)
    assert_stopped_gracefully(launcher, run_dir)
    resumed = subprocess.run(torchrun(*STOP_RUN, data, "trainer.resume=auto", f"hydra.run.dir={run_dir}"),
                             cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    assert [row["epoch"] for row in rows(run_dir)] == [1, 2, 3, 4]
    assert_same_metrics(run_dir, tmp_path / "reference")


@pytest.mark.slow
def test_sigterm_to_torchrun_stops_every_rank_and_its_loader_workers_gracefully(tmp_path):
    # pre-emption: torchrun passes SIGTERM to each worker's process group, loader workers included
    run_dir = tmp_path / "stopped"
    launcher = start_stoppable(run_dir, f"paths.data_dir={tmp_path / 'data'}")
    launcher.send_signal(signal.SIGTERM)
    assert_stopped_gracefully(launcher, run_dir)


# CUDA ---------------------------------------------------------------------------------------


@pytest.mark.cuda
@requires_cuda
def test_one_process_nccl_torchrun_trains_on_the_gpu(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(torchrun(*RUN, f"paths.data_dir={tmp_path / 'data'}", "trainer.strategy=ddp",
                                     "logger=none", f"hydra.run.dir={run_dir}", nproc=1),
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert "training on cuda" in (run_dir / "train.log").read_text()
    assert len(rows(run_dir)) == 2
