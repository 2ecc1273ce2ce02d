"""decord: the default decoder (a pip wheel with FFmpeg 4.1 inside; no system packages)."""

import decord
import torch

from zelda.data.backends import BaseReader

ERRORS = (RuntimeError, decord.DECORDError)  # RuntimeError at open, DECORDError while decoding


class Reader(BaseReader):
    """A `decord.VideoReader`: it indexes every packet at open (the frame count is the
    number of video packets), then seeks to the keyframe before each requested frame
    and decodes forward. With `size`, FFmpeg's scale filter (bilinear) sizes each frame."""

    def __init__(self, path: str, num_threads: int, size: tuple[int, int] | None) -> None:
        height, width = size if size is not None else (-1, -1)  # -1: the source size
        self._reader = decord.VideoReader(path, num_threads=num_threads, width=width, height=height)
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())

    def frames(self, indices: list[int]) -> torch.Tensor:
        return torch.from_numpy(self._reader.get_batch(indices).asnumpy())

    def frame(self, index: int) -> torch.Tensor:
        """decord mis-sizes the frames of some widths (e.g. 48 pixels) instead of failing: read
        alone, such a frame comes back with the wrong shape, which tells a probe why."""
        return torch.from_numpy(self._reader[index].asnumpy())
