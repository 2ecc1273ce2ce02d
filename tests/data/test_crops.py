"""Multi-crop test views: shapes, window positions and the crop-major view order."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zelda.data.transforms import VideoCrop, VideoFormat
from zelda.data.transforms.crops import random_resized_window


def frames(num: int, height: int, width: int) -> torch.Tensor:
    """`[num, 3, H, W]` frames whose pixels encode (frame, y, x), so every window is unique."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([(n * 1000 + y * width + x).expand(3, height, width) for n in range(num)])


def crop(imgs: torch.Tensor, crops: str, size: int) -> dict:
    return VideoCrop(size, crops=crops)({"imgs": imgs, "img_shape": tuple(imgs.shape[-2:])})


def window(imgs: torch.Tensor, top: int, left: int, size: int) -> torch.Tensor:
    return imgs[..., top : top + size, left : left + size]


@pytest.mark.parametrize("height, width, expected", [
    (10, 16, [(2, 0), (2, 5), (2, 10)]),   # landscape: left, center, right
    (16, 10, [(0, 2), (5, 2), (10, 2)]),   # portrait: top, center, bottom
    (6, 6, [(0, 0), (0, 0), (0, 0)]),      # square and crop-sized: the same window three times
])
def test_three_crops_run_along_the_long_side(height, width, expected):
    imgs = frames(4, height, width)
    out = crop(imgs, "three", 6)
    assert out["imgs"].shape == (3 * 4, 3, 6, 6) and out["num_crops"] == 3 and out["img_shape"] == (6, 6)
    for index, (top, left) in enumerate(expected):
        assert torch.equal(out["imgs"][index * 4 : (index + 1) * 4], window(imgs, top, left, 6))


def test_ten_crops_are_corners_center_and_their_mirrors():
    imgs = frames(2, 10, 16)
    out = crop(imgs, "ten", 6)
    assert out["imgs"].shape == (10 * 2, 3, 6, 6) and out["num_crops"] == 10
    positions = [(0, 0), (0, 10), (4, 0), (4, 10), (2, 5)]
    views = out["imgs"].view(10, 2, 3, 6, 6)
    for index, (top, left) in enumerate(positions):
        assert torch.equal(views[index], window(imgs, top, left, 6))
        assert torch.equal(views[index + 5], window(imgs, top, left, 6).flip(-1))


def test_center_crop_is_one_view_as_before():
    imgs = frames(3, 10, 12)
    out = crop(imgs, "center", 4)
    assert out["num_crops"] == 1 and out["flipped"] is False
    assert torch.equal(out["imgs"], window(imgs, 3, 4, 4))


def test_random_crop_and_flip_draw_from_the_sample_rng_as_before():
    imgs = frames(2, 20, 30)
    for seed in range(10):
        out = VideoCrop(8, random_crop=True, flip=True)({"imgs": imgs, "img_shape": (20, 30),
                                                          "rng": np.random.default_rng(seed)})
        rng = np.random.default_rng(seed)
        top, left, flipped = int(rng.integers(13)), int(rng.integers(23)), rng.random() < 0.5
        expected = window(imgs, top, left, 8)
        assert out["flipped"] == flipped and out["num_crops"] == 1
        assert torch.equal(out["imgs"], expected.flip(-1) if flipped else expected)


def test_format_orders_views_crop_major():
    num_clips, clip_len = 2, 3
    imgs = frames(num_clips * clip_len, 10, 16)
    out = VideoFormat()(crop(imgs, "three", 6) | {"num_clips": num_clips, "clip_len": clip_len})["imgs"]
    assert out.shape == (3 * num_clips, 3, clip_len, 6, 6)
    for crop_index, left in enumerate((0, 5, 10)):
        for clip in range(num_clips):
            clip_frames = window(imgs[clip * clip_len : (clip + 1) * clip_len], 2, left, 6)
            assert torch.equal(out[crop_index * num_clips + clip], clip_frames.permute(1, 0, 2, 3))


def test_bad_crop_options_are_refused():
    with pytest.raises(ValueError, match="crops must be one of"):
        VideoCrop(8, crops="five")
    with pytest.raises(ValueError, match="random_crop"):
        VideoCrop(8, random_crop=True, crops="three")
    with pytest.raises(ValueError, match="area_range"):
        VideoCrop(8, area_range=[0.5, 1.5])
    with pytest.raises(ValueError, match="aspect_range"):
        VideoCrop(8, area_range=[0.5, 1.0], aspect_range=[2.0, 1.0])


def test_random_resized_crop_resizes_a_window_within_the_area_and_aspect_ranges():
    imgs = (frames(2, 60, 80) % 256).to(torch.uint8)
    crop_op = VideoCrop(16, area_range=(0.25, 0.5), aspect_range=(0.75, 4 / 3))
    for seed in range(20):
        rng = np.random.default_rng(seed)
        top, left, height, width = random_resized_window(60, 80, crop_op.area_range, crop_op.aspect_range,
                                                         np.random.default_rng(seed))
        assert 0.25 * 4800 * 0.9 <= height * width <= 0.5 * 4800 * 1.1
        assert 0.75 * 0.9 <= width / height <= 4 / 3 * 1.1
        assert 0 <= top <= 60 - height and 0 <= left <= 80 - width
        out = crop_op({"imgs": imgs, "img_shape": (60, 80), "rng": rng})
        expected = F.interpolate(imgs[..., top : top + height, left : left + width], size=(16, 16),
                                 mode="bilinear", align_corners=False, antialias=True)
        assert torch.equal(out["imgs"], expected)  # that window, resized; the transform draws it from the sample rng
        assert out["img_shape"] == (16, 16) and out["num_crops"] == 1


def test_random_resized_crop_of_a_uniform_window_keeps_its_content():
    """Resizing must not shift or blend colours: a frame of one colour stays that colour."""
    imgs = torch.full((3, 3, 40, 50), 77, dtype=torch.uint8)
    out = VideoCrop(24, area_range=(0.1, 1.0), flip=True)({"imgs": imgs, "img_shape": (40, 50),
                                                            "rng": np.random.default_rng(0)})
    assert torch.equal(out["imgs"], torch.full((3, 3, 24, 24), 77, dtype=torch.uint8))


def test_random_resized_crop_falls_back_to_the_centered_square():
    """An aspect range no window can satisfy (far wider than the frame) gives the largest centered square."""
    crop_op = VideoCrop(8, area_range=(0.9, 1.0), aspect_range=(50.0, 60.0))
    window = random_resized_window(20, 30, crop_op.area_range, crop_op.aspect_range, np.random.default_rng(0))
    assert window == (0, 5, 20, 20)
