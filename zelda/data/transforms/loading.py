"""Opening a video and decoding the sampled frames, through `zelda.data.video`."""

from pathlib import Path

import numpy as np
import torch

from zelda.data.transforms.compose import Results
from zelda.data.transforms.spatial import resized_shape
from zelda.data.video import DECODE_TIMEOUT_S, Video, VideoReadError, open_video, probe_shape


class VideoInit:
    """Open the video. Reads `filename`; adds `video_reader` (a `zelda.data.video.Video`),
    `total_frames`, `fps`.

    Runs inside the loader worker, so no reader is ever shared across processes. A file
    that is missing, empty, not a video or without frames raises an `UNREADABLE` error.
    With `decode_short_side`, a source larger than that is decoded directly at that
    short side (the decoder scales each frame as it decodes it), which costs far
    less than decoding full-size frames and resizing them afterwards. `backend` and
    `device` choose the decoder (`zelda.data.video.open_video`); each decoder call that
    does not return within `decode_timeout_s` seconds fails the video.
    """

    def __init__(self, num_threads: int = 1, decode_short_side: int | None = None, backend: str = "decord",
                 device: str = "cpu", decode_timeout_s: float | None = DECODE_TIMEOUT_S) -> None:
        self.num_threads = num_threads
        self.decode_short_side = decode_short_side
        self.backend = backend
        self.device = device
        self.decode_timeout_s = decode_timeout_s

    def __call__(self, results: Results) -> Results:
        path = Path(results["filename"])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
        if path.stat().st_size == 0:
            raise VideoReadError(f"{path}: the file is empty")
        size = None  # the source size
        if self.decode_short_side:
            source = probe_shape(path, self.decode_timeout_s)
            if min(source) > self.decode_short_side:
                size = resized_shape(*source, self.decode_short_side)
        video = self.open(path, size)
        results["video_reader"] = video
        results["total_frames"] = video.num_frames
        results["fps"] = video.fps
        if results["total_frames"] < 1:
            raise VideoReadError(f"{results['filename']}: the video has no frames")
        return results

    def open(self, path: str | Path, size: tuple[int, int] | None = None) -> Video:
        """`path` opened with this pipeline's decoder settings (also for `zelda.bench`)."""
        return open_video(path, num_threads=self.num_threads, size=size, backend=self.backend, device=self.device,
                          timeout_s=self.decode_timeout_s)

    def __repr__(self) -> str:
        return (f"VideoInit(num_threads={self.num_threads}, decode_short_side={self.decode_short_side}, "
                f"backend={self.backend!r}, device={self.device!r}, decode_timeout_s={self.decode_timeout_s})")


class VideoDecode:
    """Decode exactly `frame_inds`, then release the reader. Reads `video_reader`,
    `frame_inds`; adds `imgs` (uint8 `[N, C, H, W]`) and `img_shape`; drops `video_reader`.

    Each distinct frame is decoded once, in increasing order (clips of a test-mode
    sample overlap and would otherwise make the decoder seek back once per clip).
    """

    def __call__(self, results: Results) -> Results:
        video = results.pop("video_reader")
        unique, inverse = np.unique(results["frame_inds"], return_inverse=True)
        frames = video.frames(unique.tolist())
        del video
        if frames.dim() != 4 or frames.shape[-1] != 3:
            # decord mis-sizes the frames of some widths (e.g. 48 pixels) instead of failing
            raise VideoReadError(f"{results.get('filename')}: decoder returned frames of shape {tuple(frames.shape)}")
        inverse = inverse.reshape(-1)
        if not np.array_equal(inverse, np.arange(inverse.size)):  # repeated or unordered frames: re-index
            frames = frames[torch.from_numpy(inverse)]
        imgs = frames.permute(0, 3, 1, 2)
        results["imgs"] = imgs
        results["img_shape"] = tuple(imgs.shape[-2:])
        return results

    def __repr__(self) -> str:
        return "VideoDecode()"
