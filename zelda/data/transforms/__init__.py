"""Video transforms: small callables on a results dict, composed into a pipeline.

Frames stay uint8 from decoding to packing; normalization happens on the device
(see `zelda.models.preprocessor`). Between `VideoDecode` and `VideoFormat`,
`imgs` is a uint8 tensor `[N, C, H, W]` holding all sampled frames of all clips.

One module per concern: `loading` (open, decode), `sampling` (which frames),
`spatial` (resize, crop; the crop operations are in `crops`) and `formatting`
(layout, packing). Configs name the classes by their defining module.
"""

from zelda.data.transforms.compose import Compose, Results, sample_rng
from zelda.data.transforms.formatting import VideoFormat, VideoPack
from zelda.data.transforms.loading import VideoDecode, VideoInit
from zelda.data.transforms.sampling import VideoSample
from zelda.data.transforms.spatial import VideoCrop, VideoResize

__all__ = [
    "Compose", "Results", "sample_rng",
    "VideoInit", "VideoDecode", "VideoSample", "VideoResize", "VideoCrop", "VideoFormat", "VideoPack",
]
