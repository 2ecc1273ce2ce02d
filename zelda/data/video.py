"""Video files: the one module that knows the decoder library (decord).

The transforms, `zelda.check` and `zelda.bench` open videos with `open_video` and read
frames from the `Video` it returns, so another decoder (torchcodec, PyAV) can come in
here, behind an argument of `open_video`, without changing any of them. Decoders are
imported inside the functions: only processes that decode (loader workers) need them.

A file that cannot be opened or decoded raises `VideoReadError`, whatever the decoder
raised; with `OSError` it makes `UNREADABLE`, the one definition of "this video cannot be
read" that training skips (`data.train.on_error=skip`). Every other exception is a bug.
"""

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from zelda.errors import ZeldaError


class VideoReadError(ZeldaError):
    """A video file that cannot be opened or decoded; the message names the file and why."""


UNREADABLE = (VideoReadError, OSError)  # what an unreadable video raises; anything else is a bug


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Turn what the decoders raise for a bad file into VideoReadError: decord raises RuntimeError
    (at open) and DECORDError (while decoding), PyAV its FFmpegError."""
    import av
    import decord

    try:
        yield
    except (RuntimeError, decord.DECORDError, av.FFmpegError) as error:
        reason = next((line for line in str(error).splitlines() if line.strip()), "")  # decord's run on for pages
        raise VideoReadError(f"{path}: {type(error).__name__}: {reason}") from error


class Video:
    """An opened video file: its frame count and rate, and its frames by index.

    Frames are uint8 `[H, W, C]` with C = 3, as decoded. decord mis-sizes the frames of
    some widths (e.g. 48 pixels) instead of failing, so a caller that must not read
    garbage checks the shape it gets.
    """

    def __init__(self, reader: Any, path: str | Path) -> None:
        self._reader = reader  # a decord.VideoReader
        self.path = path

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
        with reading(self.path):
            frames = self._reader.get_batch(indices).asnumpy()
        return torch.from_numpy(frames)

    def frame(self, index: int) -> torch.Tensor:
        """Frame `index` alone, uint8 `[H, W, C]`: what a probe of the file reads (decord returns
        a mis-sized frame of a video whose batches fail, so the shape tells the probe why)."""
        with reading(self.path):
            frame = self._reader[index].asnumpy()
        return torch.from_numpy(frame)


BACKENDS = ("decord",)


def open_video(path: str | Path, num_threads: int = 1, size: tuple[int, int] | None = None,
               backend: str = "decord") -> Video:
    """Open `path` for decoding with `num_threads` threads, by `backend` (one of BACKENDS). With `size` `(height, width)`, the
    decoder scales each frame to it as it decodes it (far cheaper than resizing afterwards);
    without, frames keep the source size. A file that does not open raises VideoReadError."""
    import decord

    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}: choose one of {BACKENDS} (pipeline.backend)")
    height, width = size if size is not None else (-1, -1)  # decord: -1 is the source size
    with reading(path):
        reader = decord.VideoReader(str(path), num_threads=num_threads, width=width, height=height)
    return Video(reader, path)


def probe_shape(path: str | Path) -> tuple[int, int]:
    """`(height, width)` of the first video stream, from the container header (~2 ms, no decoding)."""
    import av

    with reading(path), av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path}: the file has no video stream")
        stream = container.streams.video[0]
        return stream.height, stream.width
