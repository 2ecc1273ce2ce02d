"""Fixtures of the data tests: odd and good videos on disk, the reference pipelines."""

from pathlib import Path

import pytest
from helpers import ROOT, make_video
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from videos_on_disk import ODD_VIDEOS, PIPELINE

from zelda.data.transforms import Compose


@pytest.fixture(scope="module")
def odd_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("odd_videos")
    for name, write in ODD_VIDEOS.items():
        write(root / name)
    return root


@pytest.fixture(scope="module")
def pipelines() -> dict[str, Compose]:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=k400_tiny", *PIPELINE])
    return {split: Compose(instantiate(cfg.pipeline[split])) for split in ("train", "val")}


@pytest.fixture(scope="module")
def good_videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("good_videos")
    return [make_video(root / f"good{i}.mp4", num_frames=12, label=i % 2, seed=10 + i) for i in range(6)]
