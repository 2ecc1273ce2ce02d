"""Odd but valid videos (one frame, portrait, very wide, variable frame rate) train without skips,
whichever decoder reads them."""

import json

import numpy as np
import pytest
from decoders import BACKENDS
from helpers import ROOT
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from videos_on_disk import (CLIP_LEN, CROP, ODD_VIDEOS, PIPELINE, VAL_CLIPS, VFR_GAPS, frame_times, k400_dataset,
                            metrics_rows, train_cli)

from zelda.data.transforms import Compose


@pytest.fixture(scope="module")
def backend_pipelines() -> dict[str, dict[str, Compose]]:
    """The reference train and val pipelines of each backend (pipeline.backend)."""
    pipelines = {}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for backend in ("decord", "pyav", "torchcodec"):
            cfg = compose(config_name="train", overrides=["data=k400_tiny", *PIPELINE, f"pipeline.backend={backend}"])
            pipelines[backend] = {split: Compose(instantiate(cfg.pipeline[split])) for split in ("train", "val")}
    return pipelines


def test_vfr_video_really_has_irregular_frame_times(odd_videos):
    gaps = np.round(np.diff(frame_times(odd_videos / "vfr.mp4")) * 90).astype(int)
    assert gaps.tolist() == [VFR_GAPS[i % len(VFR_GAPS)] for i in range(len(gaps))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(ODD_VIDEOS))
@pytest.mark.parametrize("split,num_clips", [("train", 1), ("val", VAL_CLIPS)])
def test_odd_video_gives_exact_clip_shape(odd_videos, backend_pipelines, backend, name, split, num_clips):
    results = {"filename": str(odd_videos / name), "label": 1, "modality": "RGB", "rng": np.random.default_rng(0)}
    item = backend_pipelines[backend][split](results)
    inputs = item["inputs"]
    assert tuple(inputs.shape) == (num_clips, 3, CLIP_LEN, CROP, CROP)
    assert inputs.dtype.is_floating_point is False and str(inputs.dtype) == "torch.uint8"
    assert item["sample"].meta["num_clips"] == num_clips and item["sample"].meta["clip_len"] == CLIP_LEN
    assert item["sample"].label == 1 and item["sample"].skipped == []


def test_training_on_odd_videos_completes_without_skips(tmp_path_factory, odd_videos, good_videos):
    tmp = tmp_path_factory.mktemp("odd_train")
    k400_dataset(tmp, {name: odd_videos / name for name in ODD_VIDEOS},
                 {"v0.mp4": good_videos[0], "v1.mp4": good_videos[1]})
    result, output = train_cli(tmp, "logger=none")
    assert result.returncode == 0, output[-3000:]
    run_dir = tmp / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 1
    [row] = metrics_rows(run_dir)
    assert row["train/skipped_videos"] == 0
    assert not (run_dir / "bad_videos.txt").exists()
    assert "skipping video" not in output
