"""A real training run through the CLI: run dir contents and the W&B offline run."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from helpers import TINY_RUN, read_wandb_run, run_cli

from zelda.data.synthetic import CLASSES


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("train")
    run_dir = tmp / "run"
    result = run_cli("zelda.train", *TINY_RUN, f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={run_dir}",
                     "trainer.max_epochs=2", "optimizer.lr=0.001", "seed=3")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_run_dir_holds_config_metrics_summary_checkpoints_and_log(tiny_run):
    run_dir, result = tiny_run
    assert f"run dir: {run_dir}" in result.stderr + result.stdout
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["optimizer"]["lr"] == 0.001 and config["seed"] == 3
    assert config["data"]["classes"] == list(CLASSES)  # read from the generated data's label_map.txt
    assert config["model"]["head"]["num_classes"] == config["data"]["num_classes"] == len(CLASSES)
    samplers = [t for split in ("train", "val") for t in config["pipeline"][split] if t["_target_"].endswith("VideoSample")]
    assert [s["clip_len"] for s in samplers] == [4, 4]  # one clip_len feeds both samplers
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        assert {"train/loss", "val/top1", "val/top5", "val/mean_class_acc", "lr", "epoch_time_s"} <= row.keys()
        assert 0 <= row["val/top1"] <= 1 and row["val/top5"] == 1.0  # 2 classes: top5 is always 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert summary["best/val_top1"] == max(row["val/top1"] for row in rows)
    assert summary["final"]["val/top1"] == rows[-1]["val/top1"]
    assert summary["wall_time_s"] > 0
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert provenance["versions"]["torch"] and "zelda.train" in " ".join(provenance["command"])
    last = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and "model" in last and "optimizer" in last
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    assert "epoch 2/2" in (run_dir / "train.log").read_text()


def test_wandb_offline_run_has_config_history_and_summary(tiny_run):
    run_dir, _ = tiny_run
    wandb = read_wandb_run(run_dir)
    assert wandb["state"] == "finished" and wandb["exit_code"] == 0
    assert wandb["run"]["project"] == "zelda" and wandb["run"]["job_type"] == "train"
    assert wandb["config"]["optimizer"]["lr"] == 0.001
    assert wandb["config"]["pipeline"]["clip_len"] == 4
    assert wandb["config"]["data"]["classes"] == list(CLASSES) and wandb["config"]["data"]["num_classes"] == 4
    epochs = [row for row in wandb["history"] if "val/top1" in row]
    assert [row["epoch"] for row in epochs] == [1, 2]
    steps = [row for row in wandb["history"] if "train/loss" in row]
    assert [row["global_step"] for row in steps] == list(range(1, len(steps) + 1))
    assert len(steps) == 2 * 2  # 8 videos / batch 4, 2 epochs
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["val/top1"] for row in epochs] == pytest.approx([row["val/top1"] for row in metrics])
    assert wandb["summary"]["best/val_top1"] == pytest.approx(max(row["val/top1"] for row in metrics))


def test_a_config_error_stops_before_a_wandb_run_starts(tmp_path: Path):
    run_dir = tmp_path / "run"
    result = run_cli("zelda.train", *TINY_RUN, "optimizer.lr=-1", f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "optimizer.lr=-1: must be a number > 0" in output and "Traceback" not in output
    assert not (run_dir / "wandb").exists()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"
    assert "optimizer.lr=-1" in (run_dir / "error.txt").read_text()
