"""Video transforms: small callables on a results dict, composed into a pipeline.

Frames stay uint8 from decoding to packing; normalization happens on the device
(see `zelda.models.preprocessor`). Between `VideoDecode` and `VideoFormat`,
`imgs` is a uint8 tensor `[N, C, H, W]` holding all sampled frames of all clips.
"""

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from zelda.data.sample import DataSample

Results = dict[str, Any]
SHORT_VIDEO_POLICIES = ("loop", "repeat_last")
CROPS = ("center", "three", "ten")


def _rng(results: Results) -> np.random.Generator:
    """The per-sample generator set by the dataset, so train-time randomness is reproducible."""
    rng = results.get("rng")
    return rng if rng is not None else np.random.default_rng()


class Compose:
    """Apply transforms in order; its repr prints the whole pipeline."""

    def __init__(self, transforms: Sequence[Callable[[Results], Results]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, results: Results) -> Results:
        for transform in self.transforms:
            results = transform(results)
        return results

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


def resized_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """`(height, width)` scaled so the short side is `short_side`, aspect ratio kept."""
    scale = short_side / min(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def probe_shape(path: Path) -> tuple[int, int]:
    """`(height, width)` of the first video stream, from the container header (~2 ms)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.height, stream.width


class VideoInit:
    """Open the video. Reads `filename`; adds `video_reader`, `total_frames`, `fps`.

    Runs inside the loader worker, so no reader is ever shared across processes.
    With `decode_short_side`, a source larger than that is decoded directly at that
    short side (the decoder scales each frame as it decodes it), which costs far
    less than decoding full-size frames and resizing them afterwards.
    """

    def __init__(self, num_threads: int = 1, decode_short_side: int | None = None) -> None:
        self.num_threads = num_threads
        self.decode_short_side = decode_short_side

    def __call__(self, results: Results) -> Results:
        import decord  # imported here: only workers that decode need it

        path = Path(results["filename"])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: the file is empty")
        height, width = -1, -1  # decord: the source size
        if self.decode_short_side:
            source = probe_shape(path)
            if min(source) > self.decode_short_side:
                height, width = resized_shape(*source, self.decode_short_side)
        reader = decord.VideoReader(str(path), num_threads=self.num_threads, width=width, height=height)
        results["video_reader"] = reader
        results["total_frames"] = len(reader)
        results["fps"] = float(reader.get_avg_fps())
        if results["total_frames"] < 1:
            raise ValueError(f"{results['filename']}: the video has no frames")
        return results

    def __repr__(self) -> str:
        return f"VideoInit(num_threads={self.num_threads}, decode_short_side={self.decode_short_side})"


class VideoSample:
    """Choose `num_clips` x `clip_len` frame indices. Reads `total_frames` (and `rng`);
    adds `frame_inds`, `clip_len`, `num_clips`.

    `frame_interval=None` is the reference sampling: each clip spans the whole video,
    one frame from each of `clip_len` equal segments (random in training; in test mode
    clip c takes the point (c + 0.5) / num_clips into every segment). An integer
    `frame_interval` samples dense clips of `clip_len` frames that far apart, at a
    random start in training and at evenly spaced starts in test mode. Test mode is
    deterministic and never touches any global RNG. When the video is too short,
    positions past its end `loop` back to the start or `repeat_last` frame.
    """

    def __init__(
        self,
        clip_len: int,
        num_clips: int = 1,
        frame_interval: int | None = None,
        test_mode: bool = False,
        short_video: str = "loop",
    ) -> None:
        if clip_len < 1 or num_clips < 1 or (frame_interval is not None and frame_interval < 1):
            raise ValueError(
                f"VideoSample needs clip_len >= 1, num_clips >= 1 and frame_interval >= 1 or null; "
                f"got clip_len={clip_len}, num_clips={num_clips}, frame_interval={frame_interval}"
            )
        if short_video not in SHORT_VIDEO_POLICIES:
            raise ValueError(f"short_video must be one of {SHORT_VIDEO_POLICIES}, got {short_video!r}")
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.frame_interval = frame_interval
        self.test_mode = test_mode
        self.short_video = short_video

    def __call__(self, results: Results) -> Results:
        total = int(results["total_frames"])
        if self.frame_interval is None:
            positions = self._segment_positions(total, results)
        else:
            positions = self._dense_positions(total, results)
        if self.short_video == "loop":
            inds = positions % total
        else:
            inds = np.minimum(positions, total - 1)
        results["frame_inds"] = inds.reshape(-1).astype(np.int64)
        results["clip_len"] = self.clip_len
        results["num_clips"] = self.num_clips
        return results

    def _segment_positions(self, total: int, results: Results) -> np.ndarray:
        """`[num_clips, clip_len]` positions, one per segment of `total // clip_len` frames."""
        interval = total // self.clip_len
        base = np.arange(self.clip_len) * max(interval, 1)
        if interval <= 1:
            offsets = np.zeros((self.num_clips, 1), dtype=np.int64)
        elif self.test_mode:
            offsets = ((np.arange(self.num_clips) + 0.5) * interval / self.num_clips).astype(np.int64)[:, None]
        else:
            offsets = _rng(results).integers(interval, size=(self.num_clips, self.clip_len))
        return base[None, :] + offsets

    def _dense_positions(self, total: int, results: Results) -> np.ndarray:
        """`[num_clips, clip_len]` positions of dense clips `frame_interval` apart."""
        span = (self.clip_len - 1) * self.frame_interval + 1
        room = total - span + 1
        if room <= 0:
            starts = np.zeros(self.num_clips, dtype=np.int64)
        elif self.test_mode:
            starts = ((np.arange(self.num_clips) + 0.5) * room / self.num_clips).astype(np.int64)
        else:
            starts = _rng(results).integers(room, size=self.num_clips)
        return starts[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval

    def __repr__(self) -> str:
        return (
            f"VideoSample(clip_len={self.clip_len}, num_clips={self.num_clips}, "
            f"frame_interval={self.frame_interval}, test_mode={self.test_mode}, "
            f"short_video={self.short_video!r})"
        )


class VideoDecode:
    """Decode exactly `frame_inds`, then release the reader. Reads `video_reader`,
    `frame_inds`; adds `imgs` (uint8 `[N, C, H, W]`) and `img_shape`; drops `video_reader`.

    Each distinct frame is decoded once, in increasing order (clips of a test-mode
    sample overlap and would otherwise make the decoder seek back once per clip).
    """

    def __call__(self, results: Results) -> Results:
        reader = results.pop("video_reader")
        unique, inverse = np.unique(results["frame_inds"], return_inverse=True)
        frames = torch.from_numpy(reader.get_batch(unique.tolist()).asnumpy())
        del reader
        if frames.dim() != 4 or frames.shape[-1] != 3:
            # decord mis-sizes the frames of some widths (e.g. 48 pixels) instead of failing
            raise ValueError(f"{results.get('filename')}: decoder returned frames of shape {tuple(frames.shape)}")
        inverse = inverse.reshape(-1)
        if not np.array_equal(inverse, np.arange(inverse.size)):  # repeated or unordered frames: re-index
            frames = frames[torch.from_numpy(inverse)]
        imgs = frames.permute(0, 3, 1, 2)
        results["imgs"] = imgs
        results["img_shape"] = tuple(imgs.shape[-2:])
        return results

    def __repr__(self) -> str:
        return "VideoDecode()"


class VideoResize:
    """Resize every frame so its short side is `short_side`, keeping the aspect ratio.
    Reads and changes `imgs`, `img_shape`. Small videos are scaled up the same way.
    """

    def __init__(self, short_side: int) -> None:
        if short_side < 1:
            raise ValueError(f"VideoResize needs short_side >= 1, got {short_side}")
        self.short_side = short_side

    def __call__(self, results: Results) -> Results:
        height, width = results["img_shape"]
        size = resized_shape(height, width, self.short_side)
        if size != (height, width):
            imgs = F.interpolate(
                results["imgs"], size=size, mode="bilinear", align_corners=False, antialias=size[0] < height
            )
            results["imgs"] = imgs
            results["img_shape"] = size
        return results

    def __repr__(self) -> str:
        return f"VideoResize(short_side={self.short_side})"


class VideoCrop:
    """Crop `size` x `size` windows, the same for all frames. Reads and changes `imgs`,
    `img_shape`; adds `flipped` and `num_crops`.

    `crops` chooses the fixed windows: `center` (the reference), `three` (start, center
    and end of the long side, centered on the short side: left/center/right of a
    landscape or square frame, top/center/bottom of a portrait one) or `ten` (the four
    corners and the center, then the same five mirrored). Several crops are stacked
    crop-major along the frame axis, `[num_crops * N, C, size, size]`, so `VideoFormat`
    makes view `crop * num_clips + clip`. `random_crop` places one window at random and
    `flip` mirrors the clip with probability 0.5 (training augmentation).

    `area_range` turns on the random resized crop (training augmentation at several
    scales): the window covers a random fraction of the frame's area within
    `area_range`, with an aspect ratio drawn log-uniformly within `aspect_range`, and is
    resized to `size` x `size`. After `ATTEMPTS` windows that do not fit, it takes the
    largest centered square.
    """

    ATTEMPTS = 10

    def __init__(
        self,
        size: int,
        random_crop: bool = False,
        flip: bool = False,
        crops: str = "center",
        area_range: Sequence[float] | None = None,
        aspect_range: Sequence[float] = (3 / 4, 4 / 3),
    ) -> None:
        if size < 1:
            raise ValueError(f"VideoCrop needs size >= 1, got {size}")
        if crops not in CROPS:
            raise ValueError(f"VideoCrop crops must be one of {CROPS}, got {crops!r}")
        if (random_crop or area_range) and crops != "center":
            raise ValueError(f"VideoCrop: random_crop and area_range place one window; they cannot be combined with crops={crops!r}")
        if area_range is not None and not (len(area_range) == 2 and 0 < area_range[0] <= area_range[1] <= 1):
            raise ValueError(f"VideoCrop area_range must be [min, max] with 0 < min <= max <= 1, got {area_range}")
        if not (len(aspect_range) == 2 and 0 < aspect_range[0] <= aspect_range[1]):
            raise ValueError(f"VideoCrop aspect_range must be [min, max] with 0 < min <= max, got {aspect_range}")
        self.size = size
        self.random_crop = random_crop
        self.flip = flip
        self.crops = crops
        self.area_range = tuple(area_range) if area_range is not None else None
        self.aspect_range = tuple(aspect_range)

    def __call__(self, results: Results) -> Results:
        height, width = results["img_shape"]
        if self.area_range is not None:
            top, left, window_h, window_w = self._random_window(height, width, _rng(results))
            view = results["imgs"][..., top : top + window_h, left : left + window_w]
            shrink = window_h > self.size or window_w > self.size
            imgs = F.interpolate(view, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=shrink)
            return self._finish(results, imgs, num_crops=1)
        if height < self.size or width < self.size:
            raise ValueError(
                f"{results.get('filename')}: frames of {height}x{width} are smaller than the "
                f"{self.size}x{self.size} crop; resize them to a short side >= the crop size"
            )
        if self.random_crop:
            rng = _rng(results)
            windows = [(int(rng.integers(height - self.size + 1)), int(rng.integers(width - self.size + 1)), False)]
        else:
            windows = self._windows(height, width)
        views = []
        for top, left, mirrored in windows:
            view = results["imgs"][..., top : top + self.size, left : left + self.size]
            views.append(view.flip(-1) if mirrored else view)
        return self._finish(results, views[0] if len(views) == 1 else torch.cat(views), num_crops=len(windows))

    def _finish(self, results: Results, imgs: torch.Tensor, num_crops: int) -> Results:
        """Flip (when asked, at random) and record the cropped views."""
        flipped = bool(self.flip and _rng(results).random() < 0.5)
        if flipped:
            imgs = imgs.flip(-1)
        results["imgs"] = imgs
        results["img_shape"] = (self.size, self.size)
        results["flipped"] = flipped
        results["num_crops"] = num_crops
        return results

    def _random_window(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """`(top, left, height, width)` of a random resized crop's window."""
        log_aspect = np.log(self.aspect_range)
        for _ in range(self.ATTEMPTS):
            area = height * width * rng.uniform(*self.area_range)
            aspect = float(np.exp(rng.uniform(*log_aspect)))
            window_h, window_w = int(round(np.sqrt(area / aspect))), int(round(np.sqrt(area * aspect)))
            if 0 < window_h <= height and 0 < window_w <= width:
                return int(rng.integers(height - window_h + 1)), int(rng.integers(width - window_w + 1)), window_h, window_w
        side = min(height, width)
        return (height - side) // 2, (width - side) // 2, side, side

    def _windows(self, height: int, width: int) -> list[tuple[int, int, bool]]:
        """(top, left, mirrored) of each fixed window, in view order."""
        size = self.size
        top, left = height // 2 - size // 2, width // 2 - size // 2
        if self.crops == "center":
            return [(top, left, False)]
        if self.crops == "three":
            if height > width:
                return [(start, left, False) for start in (0, top, height - size)]
            return [(top, start, False) for start in (0, left, width - size)]
        corners = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size), (top, left)]
        return [(y, x, mirrored) for mirrored in (False, True) for y, x in corners]

    def __repr__(self) -> str:
        return (
            f"VideoCrop(size={self.size}, random_crop={self.random_crop}, flip={self.flip}, crops={self.crops!r}, "
            f"area_range={self.area_range}, aspect_range={self.aspect_range})"
        )


class VideoFormat:
    """Arrange frames as `[num_crops * num_clips, C, clip_len, H, W]`, crop-major (view
    `crop * num_clips + clip`). Reads `imgs`, `num_clips`, `clip_len`, `num_crops` (1 when
    absent); changes `imgs`.
    """

    def __call__(self, results: Results) -> Results:
        imgs = results["imgs"]
        views = results["num_clips"] * results.get("num_crops", 1)
        imgs = imgs.reshape(views, results["clip_len"], *imgs.shape[1:])
        results["imgs"] = imgs.permute(0, 2, 1, 3, 4)
        return results

    def __repr__(self) -> str:
        return "VideoFormat()"


class VideoPack:
    """Pack the model input and its record. Reads `imgs`, `label`, `filename` and
    `meta_keys`; returns `{"inputs": uint8 tensor, "sample": DataSample}`.
    """

    def __init__(self, meta_keys: Sequence[str] = ("img_shape", "num_clips", "clip_len", "num_crops")) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: Results) -> Results:
        meta = {key: results[key] for key in self.meta_keys if key in results}
        sample = DataSample(label=int(results["label"]), filename=str(results["filename"]), meta=meta)
        return {"inputs": results["imgs"].contiguous(), "sample": sample}

    def __repr__(self) -> str:
        return f"VideoPack(meta_keys={self.meta_keys})"
