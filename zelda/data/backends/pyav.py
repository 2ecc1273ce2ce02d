"""PyAV: FFmpeg through its Python bindings (a pip wheel with FFmpeg inside; no system packages)."""

from bisect import bisect_right
from typing import Iterator

import av
import numpy as np
import torch

from zelda.data.backends import BaseReader
from zelda.data.video import VideoReadError

ERRORS = (av.FFmpegError,)


class Reader(BaseReader):
    """The first video stream of a file, read as decord reads it: at open, every packet's
    presentation time is indexed (frame i is the i-th smallest, so the frame count is the
    number of video packets, as decord's), with the keyframes among them. A requested frame
    is decoded by seeking to the keyframe at or before it and decoding forward; the next
    request continues from there unless it lies behind, or past another keyframe.

    With `size`, libswscale (bilinear, as decord's scale filter) sizes each frame while
    converting it to RGB.
    """

    def __init__(self, path: str, num_threads: int, size: tuple[int, int] | None) -> None:
        self._path = path
        self._container = av.open(path)
        if not self._container.streams.video:
            self._container.close()
            raise VideoReadError(f"{path}: the file has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.thread_count = num_threads
        packets = [(p.pts, p.is_keyframe) for p in self._container.demux(self._stream) if p.pts is not None]
        self._times = sorted(pts for pts, _ in packets)
        self._keyframes = sorted(pts for pts, keyframe in packets if keyframe)
        self.num_frames = len(self._times)
        self.fps = float(self._stream.average_rate or 0)
        self._format = {"format": "rgb24"} | ({"height": size[0], "width": size[1]} if size else {})
        self._decoded: Iterator[av.VideoFrame] = iter(())
        self._position: int | None = None  # the time of the last frame decoded since the last seek

    def frames(self, indices: list[int]) -> torch.Tensor:
        done: dict[int, np.ndarray] = {}
        for index in indices:
            if index not in done:
                done[index] = self._decode(index)
        return torch.from_numpy(np.stack([done[index] for index in indices]))

    def _decode(self, index: int) -> np.ndarray:
        target = self._times[index]
        position = bisect_right(self._keyframes, target)
        keyframe = self._keyframes[position - 1] if position else self._times[0]
        if self._position is None or target <= self._position or keyframe > self._position:
            self._container.seek(keyframe, stream=self._stream, backward=True)
            self._decoded, self._position = self._container.decode(self._stream), None
        for frame in self._decoded:
            self._position = frame.pts
            if frame.pts == target:
                return frame.to_ndarray(**self._format)
            if frame.pts is not None and frame.pts > target:
                break
        self._position = None  # the decoder passed or missed the frame: seek for the next one
        raise VideoReadError(f"{self._path}: frame {index} (time {target}) did not come out of the decoder")
