"""The embedded default dataset: a textured band sliding left or right, slowly or fast.

Four classes, `label % 2` the direction (0 left, 1 right) and `label // 2` the speed
(0 slow, 1 fast). Every frame of every class looks alike (a textured band on a noisy
textured background); only motion over time tells the classes apart. Direction is seen
in the step between two sampled frames, so a clip whose frames lie too far apart jumps
the fast band further than the model's kernels can follow, and fast left and fast right
look the same: `pipeline.clip_len` and the learning rate both change what a run learns,
which is what a sweep of them should show. Generated deterministically from `seed` and
written as h264 mp4s in the kinetics400_tiny layout.
"""

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
CLASSES = ("sliding left slowly", "sliding right slowly", "sliding left fast", "sliding right fast")
SPEEDS = ((0.8, 1.4), (2.5, 3.5))  # pixels per frame of the slow and the fast classes (drawn per video)
VERSION = 3  # bump when the videos change, so stale copies are regenerated


def texture(rng: np.random.Generator, height: int, width: int, block: int) -> np.ndarray:
    """A random `[height, width, 3]` float texture of `block`-pixel squares."""
    coarse = rng.uniform(30, 225, size=(height // block + 1, width // block + 1, 3))
    return np.kron(coarse, np.ones((block, block, 1)))[:height, :width]


def render_video(rng: np.random.Generator, label: int, num_frames: int, height: int, width: int) -> np.ndarray:
    """`[T, H, W, 3]` uint8 frames: a textured band sliding left (even labels) or right
    (odd labels), slowly (labels 0, 1) or fast (2, 3), across a static textured
    background, with per-frame noise."""
    background = texture(rng, height, width, block=8)
    band_height = int(rng.integers(height // 3, height * 2 // 3))
    top = int(rng.integers(0, height - band_height + 1))
    band = texture(rng, band_height, width, block=6)
    speed = (1.0 if label % 2 else -1.0) * rng.uniform(*SPEEDS[label // 2])
    shift0 = rng.uniform(0, width)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        frame[top : top + band_height] = np.roll(band, int(round(shift0 + speed * t)), axis=1)
        frame += rng.normal(0, 10, size=frame.shape)
        frames[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames


def write_mp4(path: Path, frames: np.ndarray, fps: int = 15) -> None:
    """Encode frames as an h264 mp4 with PyAV."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def generate(root: Path, params: dict) -> None:
    """Write the whole dataset (videos, annotation files, label map) into `root`."""
    rng = np.random.default_rng(params["seed"])
    for split, count in (("train", params["num_train"]), ("val", params["num_val"])):
        (root / split).mkdir(parents=True)
        lines = []
        for index in range(count):
            label = index % len(CLASSES)
            name = f"{split}_{index:04d}.mp4"
            frames = render_video(rng, label, params["num_frames"], params["height"], params["width"])
            write_mp4(root / split / name, frames)
            lines.append(f"{name} {label}\n")
        (root / f"synthetic_{split}_video.txt").write_text("".join(lines))
    (root / "label_map.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "synthetic.json").write_text(json.dumps(params, indent=2) + "\n")


def ensure_synthetic(
    root: str, num_train: int, num_val: int, num_frames: int, height: int, width: int, seed: int
) -> Path:
    """Generate the dataset under `root` unless it is there with the same parameters.

    Writes into a temporary folder and renames it into place, so concurrent jobs of a
    sweep never see a half-written dataset.
    """
    if height % 2 or width % 2:
        raise ValueError(f"h264 needs even frame sizes; got height={height}, width={width}")
    root_path = Path(root)
    params = dict(version=VERSION, num_train=num_train, num_val=num_val, num_frames=num_frames,
                  height=height, width=width, seed=seed)
    marker = root_path / "synthetic.json"
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return root_path
    log.info("generating the synthetic dataset in %s (%d train, %d val videos)", root_path, num_train, num_val)
    tmp = root_path.with_name(f".{root_path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    generate(tmp, params)
    if root_path.exists():
        if marker.is_file() and json.loads(marker.read_text()) == params:
            shutil.rmtree(tmp)  # another job finished first
            return root_path
        shutil.rmtree(root_path)
    tmp.rename(root_path)
    return root_path
