"""Shared fixtures: tiny generated videos, the repo root, and an isolated data dir."""

from pathlib import Path

import numpy as np
import pytest

from zelda.data.synthetic import render_video, write_mp4

ROOT = Path(__file__).resolve().parent.parent
SHARED_K400 = ROOT.parent / "shared" / "data" / "kinetics400_tiny"


def make_video(path: Path, num_frames: int = 12, height: int = 48, width: int = 64, label: int = 0, seed: int = 0) -> Path:
    """Write a small real h264 mp4 of moving squares."""
    frames = render_video(np.random.default_rng(seed), label, num_frames, height, width)
    write_mp4(path, frames)
    return path


def make_dataset(root: Path, videos: dict[str, list[tuple[str, int]]], **video: int) -> Path:
    """A kinetics400_tiny-style folder: `<split>.txt` annotations and `<split>/` videos."""
    for split, entries in videos.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for i, (name, label) in enumerate(entries):
            make_video(root / split / name, label=label, seed=i, **video)
        (root / f"{split}.txt").write_text("".join(f"{name} {label}\n" for name, label in entries))
    return root


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of tiny videos: 12 frames (48x64), 3 frames, and a portrait one (96x64)."""
    root = tmp_path_factory.mktemp("videos")
    make_video(root / "clip12.mp4", num_frames=12)
    make_video(root / "clip3.mp4", num_frames=3)
    make_video(root / "portrait.mp4", num_frames=10, height=96, width=64)
    return root
