"""Each transform on made-up frame counts and on real decoded videos."""

import numpy as np
import pytest
import torch

from zelda.data.transforms import Compose, VideoCrop, VideoDecode, VideoFormat, VideoInit, VideoPack, VideoResize, VideoSample
from zelda.data.video import open_video


def sample(total: int, **kwargs) -> np.ndarray:
    """Frame indices `[num_clips, clip_len]` for a video of `total` frames."""
    transform = VideoSample(**kwargs)
    results = transform({"total_frames": total, "rng": np.random.default_rng(0)})
    return results["frame_inds"].reshape(transform.num_clips, transform.clip_len)


@pytest.mark.parametrize("total", [5, 6, 10, 16, 17, 30, 31, 40, 300])
@pytest.mark.parametrize("test_mode", [False, True])
@pytest.mark.parametrize("frame_interval", [None, 1, 3])
def test_indices_are_in_bounds_and_shaped(total, test_mode, frame_interval):
    inds = sample(total, clip_len=8, num_clips=3, frame_interval=frame_interval, test_mode=test_mode)
    assert inds.shape == (3, 8)
    assert inds.min() >= 0 and inds.max() < total


def test_reference_sampling_takes_one_frame_per_segment():
    inds = sample(64, clip_len=16, num_clips=1)[0]
    assert np.array_equal(inds // 4, np.arange(16))  # segment of 64 // 16 = 4 frames each


def segment_bounds(total: int, clip_len: int) -> np.ndarray:
    """MMAction2's uniform/TSN segment boundaries: floor(i * total / clip_len), i = 0..clip_len."""
    return np.arange(clip_len + 1) * total // clip_len


@pytest.mark.parametrize("clip_len,total", [(16, 16), (16, 17), (16, 30), (16, 31), (16, 40), (8, 10), (8, 17), (8, 31)])
@pytest.mark.parametrize("test_mode", [False, True])
def test_each_frame_comes_from_its_own_segment_and_the_last_reaches_the_end(clip_len, total, test_mode):
    """The tutorial's `interval = total // clip_len` never reached the last `total % clip_len` frames."""
    bounds = segment_bounds(total, clip_len)
    transform = VideoSample(clip_len, num_clips=5, test_mode=test_mode)
    inds = np.concatenate([transform({"total_frames": total, "rng": np.random.default_rng(seed)})["frame_inds"]
                           for seed in range(5)]).reshape(-1, clip_len)
    assert ((inds >= bounds[:-1]) & (inds < bounds[1:])).all(), inds
    assert inds.max() == total - 1  # the last segment, frames >= total - total / clip_len, is reached


@pytest.mark.parametrize("clip_len,total", [(16, 17), (16, 24), (16, 31), (8, 10), (8, 15)])
def test_videos_shorter_than_two_clips_still_jitter_and_spread_test_clips(clip_len, total):
    """With the tutorial's interval 1 every clip was frames 0..clip_len-1."""
    draws = {tuple(VideoSample(clip_len)({"total_frames": total, "rng": np.random.default_rng(seed)})["frame_inds"])
             for seed in range(20)}
    assert len(draws) > 1
    test_clips = sample(total, clip_len=clip_len, num_clips=5, test_mode=True)
    assert len({tuple(clip) for clip in test_clips}) > 1


def test_test_mode_takes_the_same_point_of_every_segment():
    # bounds floor(i * 10 / 4) = 0, 2, 5, 7, 10: lengths 2, 3, 2, 3;
    # clip c of 2 takes floor((c + 0.5) / 2 * length) into each segment
    assert sample(10, clip_len=4, num_clips=2, test_mode=True).tolist() == [[0, 2, 5, 7], [1, 4, 6, 9]]


def test_test_mode_is_deterministic_and_spreads_clips():
    first = sample(100, clip_len=8, num_clips=5, test_mode=True)
    again = VideoSample(8, 5, test_mode=True)({"total_frames": 100})["frame_inds"].reshape(5, 8)
    assert np.array_equal(first, again)
    # interval 12: clip c starts at floor((c + 0.5) * 12 / 5) within each segment
    assert first[:, 0].tolist() == [1, 3, 6, 8, 10]


def test_dense_test_mode_places_clips_evenly():
    inds = sample(100, clip_len=4, num_clips=2, frame_interval=2, test_mode=True)
    # span 7, room 94: starts at int(23.5) and int(70.5)
    assert inds.tolist() == [[23, 25, 27, 29], [70, 72, 74, 76]]


def test_test_mode_leaves_global_numpy_rng_untouched():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    for total in (5, 50, 500):
        VideoSample(16, 5, test_mode=True)({"total_frames": total})
    assert np.array_equal(np.random.rand(3), expected)


def test_training_sampling_is_reproducible_from_the_sample_rng():
    a = VideoSample(8, 2)({"total_frames": 200, "rng": np.random.default_rng(7)})["frame_inds"]
    b = VideoSample(8, 2)({"total_frames": 200, "rng": np.random.default_rng(7)})["frame_inds"]
    c = VideoSample(8, 2)({"total_frames": 200, "rng": np.random.default_rng(8)})["frame_inds"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("total", [1, 3, 7])
def test_short_videos_loop_or_repeat_last(total):
    looped = sample(total, clip_len=8, short_video="loop")[0]
    assert looped.tolist() == [i % total for i in range(8)]
    repeated = sample(total, clip_len=8, short_video="repeat_last")[0]
    assert repeated.tolist() == [min(i, total - 1) for i in range(8)]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="clip_len"):
        VideoSample(clip_len=0)
    with pytest.raises(ValueError, match="short_video"):
        VideoSample(clip_len=4, short_video="pad")


def test_resize_keeps_aspect_ratio_and_uint8():
    imgs = torch.randint(0, 255, (4, 3, 240, 320), dtype=torch.uint8)
    out = VideoResize(128)({"imgs": imgs, "img_shape": (240, 320)})
    assert out["imgs"].shape == (4, 3, 128, 171) and out["imgs"].dtype == torch.uint8
    assert out["img_shape"] == (128, 171)
    portrait = VideoResize(64)({"imgs": imgs.transpose(2, 3), "img_shape": (320, 240)})
    assert portrait["img_shape"] == (85, 64)


def test_center_crop_matches_the_reference_window():
    imgs = torch.arange(10 * 12, dtype=torch.uint8).view(1, 1, 10, 12).expand(2, 3, 10, 12)
    out = VideoCrop(4)({"imgs": imgs, "img_shape": (10, 12)})
    assert out["imgs"].shape == (2, 3, 4, 4)
    assert torch.equal(out["imgs"][0, 0], imgs[0, 0, 3:7, 4:8])  # center (5, 6) - 2


def test_random_crop_and_flip_use_the_sample_rng():
    imgs = torch.randint(0, 255, (2, 3, 20, 30), dtype=torch.uint8)
    crop = VideoCrop(8, random_crop=True, flip=True)
    outs = [crop({"imgs": imgs, "img_shape": (20, 30), "rng": np.random.default_rng(s)}) for s in range(20)]
    assert len({o["imgs"].numpy().tobytes() for o in outs}) > 1
    assert {o["flipped"] for o in outs} == {True, False}
    again = crop({"imgs": imgs, "img_shape": (20, 30), "rng": np.random.default_rng(3)})
    assert torch.equal(again["imgs"], outs[3]["imgs"])


def test_crop_larger_than_frame_is_a_clear_error():
    with pytest.raises(ValueError, match="smaller than the 8x8 crop"):
        VideoCrop(8)({"imgs": torch.zeros(1, 3, 6, 10, dtype=torch.uint8), "img_shape": (6, 10), "filename": "x.mp4"})


def test_format_orders_clips_channels_time():
    imgs = torch.arange(2 * 3 * 3).view(6, 3, 1, 1)  # 2 clips x 3 frames, 3 channels
    out = VideoFormat()({"imgs": imgs, "num_clips": 2, "clip_len": 3})["imgs"]
    assert out.shape == (2, 3, 3, 1, 1)
    assert out[1, 2, 0, 0, 0] == imgs[3, 2, 0, 0]  # clip 1, channel 2, frame 0 = frame 3 overall


def build_pipeline(clip_len: int, num_clips: int, test_mode: bool) -> Compose:
    return Compose([
        VideoInit(), VideoSample(clip_len, num_clips, test_mode=test_mode), VideoDecode(),
        VideoResize(40), VideoCrop(32), VideoFormat(), VideoPack(),
    ])


@pytest.mark.parametrize("name", ["clip12.mp4", "clip3.mp4", "portrait.mp4"])
def test_full_pipeline_decodes_real_videos(video_dir, name):
    pipeline = build_pipeline(clip_len=8, num_clips=2, test_mode=True)
    out = pipeline({"filename": str(video_dir / name), "label": 1})
    assert out["inputs"].shape == (2, 3, 8, 32, 32) and out["inputs"].dtype == torch.uint8
    assert out["sample"].label == 1 and out["sample"].filename.endswith(name)
    assert out["sample"].meta == {"img_shape": (32, 32), "num_clips": 2, "clip_len": 8, "num_crops": 1}


@pytest.mark.parametrize("inds", [[5, 1, 1, 9, 0], [0, 3, 7, 11]])  # repeated and unordered; already in order
def test_decode_returns_the_requested_frames_in_order(video_dir, inds):
    """Decoding sorted unique indices once and re-indexing equals decoding each index."""
    inds = np.array(inds)
    out = VideoDecode()(VideoInit()({"filename": str(video_dir / "clip12.mp4")}) | {"frame_inds": inds})
    video = open_video(video_dir / "clip12.mp4")
    for position, index in enumerate(inds):
        expected = video.frame(int(index)).permute(2, 0, 1)
        assert torch.equal(out["imgs"][position], expected)
    assert "video_reader" not in out


def test_pipeline_repr_lists_every_transform():
    text = repr(build_pipeline(16, 5, True))
    assert "VideoSample(clip_len=16, num_clips=5" in text and "VideoPack(" in text
