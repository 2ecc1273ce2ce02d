"""Data-side floors: the bare decoder, the whole pipeline, and decoding large sources at size.

Every video is opened as the dataset's pipeline opens it: with its `VideoInit`'s decoder
(`pipeline.backend`, `pipeline.decode_device`).
"""

import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from zelda.data.dataset import VideoDataset
from zelda.data.loader import SeededSampler
from zelda.data.synthetic import write_mp4
from zelda.data.transforms import VideoInit, VideoResize, VideoSample
from zelda.data.transforms.spatial import resized_shape
from zelda.perf.timing import median_time

T = TypeVar("T")


def transform(dataset: VideoDataset, kind: type[T]) -> T:
    """The dataset pipeline's one transform of type `kind`."""
    [found] = [t for t in dataset.pipeline.transforms if isinstance(t, kind)]
    return found


def decode_floor(dataset: VideoDataset, seed: int) -> float:
    """Seconds to open every video and decode (in one batch) the indices its sampler picks,
    in the sampler's order."""
    init, sampler = transform(dataset, VideoInit), transform(dataset, VideoSample)
    keys = list(SeededSampler(len(dataset), shuffle=False, seed=seed))
    start = time.perf_counter()
    for index, key_seed in keys:
        video = init.open(dataset.path(index))
        picked = sampler({"total_frames": video.num_frames, "rng": np.random.default_rng(key_seed)})
        video.frames(picked["frame_inds"].tolist())
    return time.perf_counter() - start


def pipeline_time(dataset: VideoDataset, seed: int) -> float:
    """Seconds for the full pipeline (decode, resize, crop, pack) over the split."""
    keys = list(SeededSampler(len(dataset), shuffle=False, seed=seed))
    start = time.perf_counter()
    for key in keys:
        dataset.load_with_policy(*key)  # bypasses the val cache: this measures decoding
    return time.perf_counter() - start


def upscale_copies(dataset: VideoDataset, count: int, short_side: int, folder: Path, max_frames: int) -> list[Path]:
    """h264 copies of the first `count` videos with a `short_side`-pixel short side."""

    init, paths = transform(dataset, VideoInit), []
    for index in range(min(count, len(dataset))):
        height, width = resized_shape(*init.open(dataset.path(index)).frame(0).shape[:2], short_side)
        video = init.open(dataset.path(index), size=(height // 2 * 2, width // 2 * 2))
        frames = video.frames(list(range(min(video.num_frames, max_frames)))).numpy()
        paths.append(folder / f"full_res_{index}.mp4")
        write_mp4(paths[-1], frames, fps=int(round(video.fps)))
    return paths


def full_res_decode(dataset: VideoDataset, count: int, short_side: int, reps: int) -> dict[str, Any]:
    """Train-pipeline seconds per clip on full-resolution copies, decoding at the resize
    target vs decoding full frames and resizing them."""
    init, resize = transform(dataset, VideoInit), transform(dataset, VideoResize)
    with tempfile.TemporaryDirectory() as folder:
        paths = upscale_copies(dataset, count, short_side, Path(folder), max_frames=150)
        seconds = {}
        for label, size in (("decode_at_size_s", resize.short_side), ("decode_then_resize_s", None)):
            init.decode_short_side = size
            run_all = lambda: [dataset.pipeline({"filename": str(p), "label": 0, "rng": np.random.default_rng(0)})  # noqa: E731
                               for p in paths]
            seconds[label] = median_time(run_all, reps) / len(paths)
    return {"videos": len(paths), "short_side": short_side, **seconds,
            "speedup": seconds["decode_then_resize_s"] / seconds["decode_at_size_s"]}
