"""zelda.test and zelda.predict on a checkpoint trained through the CLI."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from helpers import TINY_RUN, make_video, run_cli
from hydra.utils import instantiate
from omegaconf import OmegaConf

from zelda.config.compose import compose_config
from zelda.data.views import split_dataset
from zelda.runs.restore import restore

CLASSES = ["walk", "run", "jump", "swim", "climb", "sing"]  # 6 classes, so that top-5 has 5 names


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch run on the synthetic data renamed by a 6-name label map (its labels are 0 to 3): a 6-class head."""
    tmp = tmp_path_factory.mktemp("evaluate")
    run_dir = tmp / "run"
    instantiate(compose_config([*TINY_RUN, f"paths.data_dir={tmp / 'data'}"]).data.prepare)
    (tmp / "data" / "synthetic" / "label_map.txt").write_text("\n".join(CLASSES) + "\n")
    result = run_cli("zelda.train", *TINY_RUN, f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={run_dir}",
                     "logger=none")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def run_test(run_dir: Path, out: Path, *overrides: str) -> dict:
    result = run_cli("zelda.test", f"ckpt_path={run_dir / 'checkpoints' / 'last.pt'}", f"hydra.run.dir={out}", *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(out / "test_metrics.json") in result.stdout and str(out / "predictions.csv") in result.stdout
    return json.loads((out / "test_metrics.json").read_text())


def test_same_views_reproduce_training_validation(trained):
    out = trained.parent / "test_val"
    metrics = run_test(trained, out, f"paths.data_dir={trained.parent / 'data'}")
    [row] = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert metrics["top1"] == row["val/top1"] and metrics["mean_class_acc"] == row["val/mean_class_acc"]
    assert metrics["views_per_video"] == 2 and metrics["num_videos"] == 4 and metrics["epoch"] == 1
    annotations = (trained.parent / "data" / "synthetic" / "synthetic_val_video.txt").read_text().split("\n")[:-1]
    with (out / "predictions.csv").open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["filename", "label"] + [f"{c}{r}" for r in range(1, 6) for c in ("pred", "score")]
    assert [row[:2] for row in rows[1:]] == [[name, CLASSES[int(label)]] for name, label in map(str.split, annotations)]
    for row in rows[1:]:
        assert set(row[2::2]) <= set(CLASSES) and [float(s) for s in row[3::2]] == sorted(map(float, row[3::2]), reverse=True)


def test_a_checkpoint_from_a_gpu_cluster_evaluates_on_this_cpu(trained, tmp_path):
    """A run trained as the slurm_ddp preset does (CUDA, DDP, SyncBatchNorm, compiled, fp16) tests and
    predicts here, in fp32, with the metrics its own validation had."""
    run_dir = tmp_path / "gpu_run"
    shutil.copytree(trained, run_dir)
    config = run_dir / ".hydra" / "config.yaml"
    cfg = OmegaConf.load(config)
    cfg.trainer.update(device="cuda:0", strategy="ddp", sync_batchnorm=True, compile=True, precision="16-mixed")
    OmegaConf.save(cfg, config)
    data = f"paths.data_dir={trained.parent / 'data'}"
    metrics = run_test(run_dir, tmp_path / "test", data)
    [row] = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert metrics["top1"] == row["val/top1"] and metrics["mean_class_acc"] == row["val/mean_class_acc"]
    video = next((trained.parent / "data" / "synthetic" / "val").glob("*.mp4"))
    result = run_cli("zelda.predict", str(video), f"ckpt_path={run_dir / 'checkpoints' / 'last.pt'}", data)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1. " in result.stdout


def test_three_crops_triple_the_views(trained):
    metrics = run_test(trained, trained.parent / "test_three", "test.crops=three", "data.val_batch_size=3")
    assert metrics["views_per_video"] == 2 * 3 and metrics["num_crops"] == 3 and metrics["crops"] == "three"
    restored = restore(trained / "checkpoints" / "last.pt")
    item = instantiate(split_dataset(restored.cfg, "val", None, "three"))[0]
    assert item["inputs"].shape == (2 * 3, 3, 4, 32, 32)
    assert item["sample"].meta["num_crops"] == 3


def test_missing_split_names_the_key(trained):
    result = run_cli("zelda.test", f"ckpt_path={trained / 'checkpoints' / 'last.pt'}", "split=test",
                     f"hydra.run.dir={trained.parent / 'test_split'}")
    assert result.returncode == 1 and "no data.test" in result.stdout + result.stderr


def test_a_config_saved_before_dataset_formats_is_refused_with_a_sentence(trained, tmp_path):
    config = OmegaConf.load(trained / ".hydra" / "config.yaml")
    del config.data["index"]  # as saved before: each split named its own ann_file
    config.data.val = {"_target_": "zelda.data.dataset.VideoDataset", "ann_file": "synthetic_val_video.txt"}
    OmegaConf.save(config, tmp_path / "old.yaml")
    result = run_cli("zelda.test", f"ckpt_path={trained / 'checkpoints' / 'last.pt'}", f"config_path={tmp_path / 'old.yaml'}",
                     f"hydra.run.dir={tmp_path / 'out'}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "describes its data the old way" in output and "Traceback" not in output


def test_predict_ranks_five_names_and_reports_bad_files(trained, tmp_path):
    video, missing = make_video(tmp_path / "clip.mp4", num_frames=10), tmp_path / "missing.mp4"
    report = tmp_path / "out.json"
    result = run_cli("zelda.predict", str(missing), str(video), f"ckpt_path={trained / 'checkpoints' / 'last.pt'}",
                     "--json", str(report))
    assert result.returncode == 1, result.stderr[-3000:]
    [error] = [line for line in result.stderr.splitlines() if str(missing) in line]
    assert error.startswith("ERROR") and "no such file" in error
    lines = result.stdout.splitlines()
    start = lines.index(str(video))
    ranked = [line.split() for line in lines[start + 1 : start + 6]]
    assert [rank for rank, *_ in ranked] == ["1.", "2.", "3.", "4.", "5."]
    assert len({name for _, name, _ in ranked}) == 5 and {name for _, name, _ in ranked} <= set(CLASSES)
    probs = [float(prob) for *_, prob in ranked]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0001
    results = json.loads(report.read_text())["results"]
    assert "error" in results[0] and [r["class"] for r in results[1]["top"]] == [name for _, name, _ in ranked]
    alone = run_cli("zelda.predict", str(video), f"ckpt_path={trained / 'checkpoints' / 'last.pt'}")
    assert alone.returncode == 0 and alone.stdout.splitlines()[0] == str(video)


def test_train_can_test_the_test_split_after_fit(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.run.dir={run_dir}", "trainer.test_after_fit=true", "+data.test=${data.val}")
    assert result.returncode == 0, result.stderr[-2000:]
    tested = json.loads((run_dir / "test_metrics.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    # the test split here is the val split: the final weights must score what the last validation did
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert tested["test/top1"] == summary["test/top1"] == last["val/top1"]


def test_test_after_fit_without_a_test_split_stops_at_startup(tmp_path):
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.run.dir={tmp_path / 'run'}", "trainer.test_after_fit=true")
    assert result.returncode == 1 and "no data.test split" in result.stdout + result.stderr
