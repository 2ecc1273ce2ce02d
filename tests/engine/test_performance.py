"""Speed switches keep results right: decode at size, the val cache, precision modes, bench."""

import json

import numpy as np
import pytest
import torch
from helpers import TINY_RUN, make_video, run_cli

from zelda.data.dataset import VideoDataset
from zelda.data.transforms import Compose, VideoDecode, VideoFormat, VideoInit, VideoPack, VideoResize, VideoSample


def decode(path, decode_short_side):
    pipeline = Compose([VideoInit(decode_short_side=decode_short_side), VideoSample(8, 2, test_mode=True),
                        VideoDecode(), VideoResize(64)])
    return pipeline({"filename": str(path)})["imgs"]


def test_decode_at_size_matches_decode_then_resize(tmp_path):
    video = make_video(tmp_path / "big.mp4", num_frames=16, height=240, width=320)
    at_size, resized = decode(video, 64), decode(video, None)
    assert at_size.shape == resized.shape == (16, 3, 64, 85) and at_size.dtype == torch.uint8
    difference = (at_size.float() - resized.float()).abs().mean().item()
    assert difference < 6, f"mean absolute difference {difference:.2f} of 255"  # visually equivalent


def test_decode_at_size_leaves_smaller_sources_alone(tmp_path):
    video = make_video(tmp_path / "small.mp4", num_frames=8, height=48, width=64)
    assert torch.equal(decode(video, 64), decode(video, None))


def test_val_cache_serves_identical_items_without_decoding(tmp_path):
    make_video(tmp_path / "v.mp4")
    (tmp_path / "ann.txt").write_text("v.mp4 0\n")
    pipeline = [VideoInit(), VideoSample(4, 2, test_mode=True), VideoDecode(), VideoFormat(), VideoPack()]
    dataset = VideoDataset("ann.txt", pipeline, data_root=str(tmp_path), test_mode=True, cache_mb=10)
    first = dataset[0]
    (tmp_path / "v.mp4").unlink()  # a cached item no longer needs the file
    assert torch.equal(dataset[0]["inputs"], first["inputs"])
    uncached = VideoDataset("ann.txt", pipeline, data_root=str(tmp_path), test_mode=True, cache_mb=0)
    assert uncached.cache_bytes == 0


@pytest.mark.parametrize("switches", [
    ["trainer.precision=bf16-mixed"], ["model.channels_last=true"], ["data.num_workers=1", "data.persistent_workers=true"],
])
def test_speed_switches_train_end_to_end(tmp_path, switches):
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.run.dir={tmp_path / 'run'}", *switches)
    assert result.returncode == 0, result.stderr[-2000:]
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(row["train/loss"]) and 0 <= row["val/top1"] <= 1


def test_bench_prints_a_table_and_writes_json(tmp_path):
    result = run_cli("zelda.bench", "--epochs", "2", "--reps", "1", "--out", str(tmp_path / "bench.json"),
                     *TINY_RUN, f"paths.data_dir={tmp_path / 'data'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "decode floor" in result.stdout and "model floor 32" in result.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["train"]["decode_floor_s"] > 0 and report["trainer"]["epoch_s"] > 0
    assert {"32", "bf16-mixed"} <= report["model_floor"].keys()
