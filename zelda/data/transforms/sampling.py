"""Choosing which frames of a video make its clips."""

import numpy as np

from zelda.data.transforms.compose import Results, sample_rng

SHORT_VIDEO_POLICIES = ("loop", "repeat_last")


class VideoSample:
    """Choose `num_clips` x `clip_len` frame indices. Reads `total_frames` (and `rng`);
    adds `frame_inds`, `clip_len`, `num_clips`.

    `frame_interval=None` is the reference sampling: each clip spans the whole video,
    one frame from each of `clip_len` segments, bounded at floor(i * total / clip_len) as in
    MMAction2's uniform sampling (random in training; in test mode clip c takes the point
    (c + 0.5) / num_clips into every segment). An integer
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
        """`[num_clips, clip_len]` positions, one in each of `clip_len` segments bounded at
        floor(i * total / clip_len), as in MMAction2's uniform (TSN) sampling: the last segment
        ends at the last frame. A video shorter than the clip gets positions 0..clip_len-1."""
        if total < self.clip_len:
            return np.broadcast_to(np.arange(self.clip_len), (self.num_clips, self.clip_len))
        bounds = np.arange(self.clip_len + 1) * total // self.clip_len
        starts, lengths = bounds[:-1], np.diff(bounds)  # every length >= 1
        if self.test_mode:  # floor((c + 0.5) / num_clips * length), in integers
            clips = np.arange(self.num_clips)[:, None]
            offsets = (2 * clips + 1) * lengths // (2 * self.num_clips)
        else:
            offsets = sample_rng(results).integers(lengths, size=(self.num_clips, self.clip_len))
        return starts + offsets

    def _dense_positions(self, total: int, results: Results) -> np.ndarray:
        """`[num_clips, clip_len]` positions of dense clips `frame_interval` apart."""
        span = (self.clip_len - 1) * self.frame_interval + 1
        room = total - span + 1
        if room <= 0:
            starts = np.zeros(self.num_clips, dtype=np.int64)
        elif self.test_mode:
            starts = ((np.arange(self.num_clips) + 0.5) * room / self.num_clips).astype(np.int64)
        else:
            starts = sample_rng(results).integers(room, size=self.num_clips)
        return starts[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval

    def __repr__(self) -> str:
        return (
            f"VideoSample(clip_len={self.clip_len}, num_clips={self.num_clips}, "
            f"frame_interval={self.frame_interval}, test_mode={self.test_mode}, "
            f"short_video={self.short_video!r})"
        )
