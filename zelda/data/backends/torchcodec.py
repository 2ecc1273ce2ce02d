"""torchcodec: PyTorch's decoder, on the CPU or on an NVIDIA GPU (NVDEC).

Optional: `pip install torchcodec==0.12.0` (the CPU build that works beside torch 2.13.0)
and FFmpeg's shared libraries from the system (see the README's "Decoders").
"""

import torch
from torchcodec.decoders import VideoDecoder
from torchcodec.transforms import Resize

from zelda.data.backends import BaseReader

ERRORS = (RuntimeError, ValueError)  # RuntimeError: open and decode; ValueError: no video stream


class Reader(BaseReader):
    """A `VideoDecoder` in exact seek mode: it scans the file at open (the frame count is the
    number of video packets, as decord's) and decodes a batch of frames from the keyframe
    before each. With `size`, its Resize transform (bilinear, antialiased) sizes each frame
    in the decoder. On `device` `cuda:N`, NVDEC decodes and the frames are copied back
    to the CPU, where the rest of the pipeline runs."""

    def __init__(self, path: str, num_threads: int, size: tuple[int, int] | None, device: str = "cpu") -> None:
        self._decoder = VideoDecoder(path, seek_mode="exact", num_ffmpeg_threads=num_threads, dimension_order="NHWC",
                                     device=device, transforms=[Resize(size)] if size else None)
        metadata = self._decoder.metadata
        self.num_frames = int(metadata.num_frames)
        # the header's rate, as decord's (average_fps divides the frames by the duration)
        self.fps = float(metadata.average_fps_from_header or metadata.average_fps or 0)

    def frames(self, indices: list[int]) -> torch.Tensor:
        return self._decoder.get_frames_at(indices=indices).data.cpu()
