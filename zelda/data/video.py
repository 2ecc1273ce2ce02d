"""Video files: the one module that knows the decoder library (decord).

The transforms, `zelda.check` and `zelda.bench` open videos with `open_video` and read
frames from the `Video` it returns, so another decoder (torchcodec, PyAV) can come in
here, behind an argument of `open_video`, without changing any of them. Decoders are
imported inside the functions: only processes that decode (loader workers) need them.
"""

from pathlib import Path
from typing import Any, Sequence

import torch


class Video:
    """An opened video file: its frame count and rate, and its frames by index.

    Frames are uint8 `[H, W, C]` with C = 3, as decoded. decord mis-sizes the frames of
    some widths (e.g. 48 pixels) instead of failing, so a caller that must not read
    garbage checks the shape it gets.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader  # a decord.VideoReader

    @property
    def num_frames(self) -> int:
        """The frame count the container reports (read when asked, like `fps`)."""
        return len(self._reader)

    @property
    def fps(self) -> float:
        """The average frame rate."""
        return float(self._reader.get_avg_fps())

    def frames(self, indices: Sequence[int]) -> torch.Tensor:
        """Frames `indices` in one batch, uint8 `[N, H, W, C]`: a single pass over the file
        when the indices increase."""
        return torch.from_numpy(self._reader.get_batch(indices).asnumpy())

    def frame(self, index: int) -> torch.Tensor:
        """Frame `index` alone, uint8 `[H, W, C]`: what a probe of the file reads (decord returns
        a mis-sized frame of a video whose batches fail, so the shape tells the probe why)."""
        return torch.from_numpy(self._reader[index].asnumpy())


def open_video(path: str | Path, num_threads: int = 1, size: tuple[int, int] | None = None) -> Video:
    """Open `path` for decoding with `num_threads` threads. With `size` `(height, width)`, the
    decoder scales each frame to it as it decodes it (far cheaper than resizing afterwards);
    without, frames keep the source size. Decoder errors pass through unchanged."""
    import decord

    height, width = size if size is not None else (-1, -1)  # decord: -1 is the source size
    return Video(decord.VideoReader(str(path), num_threads=num_threads, width=width, height=height))


def probe_shape(path: str | Path) -> tuple[int, int]:
    """`(height, width)` of the first video stream, from the container header (~2 ms, no decoding)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.height, stream.width
