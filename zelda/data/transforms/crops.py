"""Crop operations, one small function each: where the windows go, cutting them, flipping.

A fixed or random window is `(top, left, mirrored)`, `size` x `size`; a random resized
crop's window is `(top, left, height, width)`. Every random choice draws from the
generator it is given, in a fixed order, so a seeded sample always crops the same way.
"""

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Window = tuple[int, int, bool]
ATTEMPTS = 10  # random resized crop: windows drawn before falling back to the centered square


def centered(height: int, width: int, size: int) -> tuple[int, int]:
    """`(top, left)` of the centered `size` window."""
    return height // 2 - size // 2, width // 2 - size // 2


def center_windows(height: int, width: int, size: int) -> list[Window]:
    """The centered window: the reference test view."""
    return [(*centered(height, width, size), False)]


def three_windows(height: int, width: int, size: int) -> list[Window]:
    """Start, center and end of the long side (a square frame counts as landscape), centered on the short side."""
    top, left = centered(height, width, size)
    if height > width:
        return [(start, left, False) for start in (0, top, height - size)]
    return [(top, start, False) for start in (0, left, width - size)]


def ten_windows(height: int, width: int, size: int) -> list[Window]:
    """The four corners and the center, then the same five mirrored."""
    top, left = centered(height, width, size)
    corners = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size), (top, left)]
    return [(y, x, mirrored) for mirrored in (False, True) for y, x in corners]


FIXED_WINDOWS: dict[str, Callable[[int, int, int], list[Window]]] = {
    "center": center_windows,
    "three": three_windows,
    "ten": ten_windows,
}
CROPS = tuple(FIXED_WINDOWS)  # the names of the fixed crops, the values of `test.crops`


def random_window(height: int, width: int, size: int, rng: np.random.Generator) -> Window:
    """One window at a random place: two draws, the top then the left."""
    return int(rng.integers(height - size + 1)), int(rng.integers(width - size + 1)), False


def cut(imgs: torch.Tensor, windows: Sequence[Window], size: int) -> torch.Tensor:
    """The windows of every frame, stacked window-major along the frame axis (one window: a view, no copy)."""
    views = []
    for top, left, mirrored in windows:
        view = imgs[..., top : top + size, left : left + size]
        views.append(view.flip(-1) if mirrored else view)
    return views[0] if len(views) == 1 else torch.cat(views)


def random_resized_window(
    height: int, width: int, area_range: Sequence[float], aspect_range: Sequence[float], rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """`(top, left, height, width)` of a random resized crop's window: a random fraction of
    the frame's area within `area_range`, of an aspect ratio drawn log-uniformly within
    `aspect_range`. After `ATTEMPTS` windows that do not fit, the largest centered square."""
    log_aspect = np.log(aspect_range)
    for _ in range(ATTEMPTS):
        area = height * width * rng.uniform(*area_range)
        aspect = float(np.exp(rng.uniform(*log_aspect)))
        window_h, window_w = int(round(np.sqrt(area / aspect))), int(round(np.sqrt(area * aspect)))
        if 0 < window_h <= height and 0 < window_w <= width:
            return int(rng.integers(height - window_h + 1)), int(rng.integers(width - window_w + 1)), window_h, window_w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def resize_window(imgs: torch.Tensor, window: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """The window of every frame, resized to `size` x `size` (antialiased when it shrinks)."""
    top, left, window_h, window_w = window
    view = imgs[..., top : top + window_h, left : left + window_w]
    shrink = window_h > size or window_w > size
    return F.interpolate(view, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


def random_flip(imgs: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, bool]:
    """Mirror the frames with probability 0.5 (one draw); the frames and whether they were."""
    flipped = bool(rng.random() < 0.5)
    return (imgs.flip(-1) if flipped else imgs), flipped
