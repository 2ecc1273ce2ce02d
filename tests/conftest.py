"""Shared fixtures: a folder of tiny generated videos."""

from pathlib import Path

import pytest
from helpers import make_video


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of tiny videos: 12 frames (48x64), 3 frames, and a portrait one (96x64)."""
    root = tmp_path_factory.mktemp("videos")
    make_video(root / "clip12.mp4", num_frames=12)
    make_video(root / "clip3.mp4", num_frames=3)
    make_video(root / "portrait.mp4", num_frames=10, height=96, width=64)
    return root
