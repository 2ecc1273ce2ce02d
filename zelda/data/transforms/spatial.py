"""Frame geometry: resizing, and cropping (whose operations live in `crops`)."""

from typing import Sequence

import torch
import torch.nn.functional as F

from zelda.data.transforms.compose import Results, sample_rng
from zelda.data.transforms.crops import (
    CROPS, FIXED_WINDOWS, cut, random_flip, random_resized_window, random_window, resize_window,
)


def resized_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """`(height, width)` scaled so the short side is `short_side`, aspect ratio kept."""
    scale = short_side / min(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


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
    resized to `size` x `size`. After `crops.ATTEMPTS` windows that do not fit, it takes
    the largest centered square.
    """

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
            window = random_resized_window(height, width, self.area_range, self.aspect_range, sample_rng(results))
            return self._finish(results, resize_window(results["imgs"], window, self.size), num_crops=1)
        if height < self.size or width < self.size:
            raise ValueError(
                f"{results.get('filename')}: frames of {height}x{width} are smaller than the "
                f"{self.size}x{self.size} crop; resize them to a short side >= the crop size"
            )
        if self.random_crop:
            windows = [random_window(height, width, self.size, sample_rng(results))]
        else:
            windows = FIXED_WINDOWS[self.crops](height, width, self.size)
        return self._finish(results, cut(results["imgs"], windows, self.size), num_crops=len(windows))

    def _finish(self, results: Results, imgs: torch.Tensor, num_crops: int) -> Results:
        """Flip (when asked, at random) and record the cropped views."""
        flipped = False
        if self.flip:
            imgs, flipped = random_flip(imgs, sample_rng(results))
        results["imgs"] = imgs
        results["img_shape"] = (self.size, self.size)
        results["flipped"] = flipped
        results["num_crops"] = num_crops
        return results

    def __repr__(self) -> str:
        return (
            f"VideoCrop(size={self.size}, random_crop={self.random_crop}, flip={self.flip}, crops={self.crops!r}, "
            f"area_range={self.area_range}, aspect_range={self.aspect_range})"
        )
