"""Re-encoding one video for cheap decoding, and telling a finished copy from a broken one.

A clip sampled over a whole video decodes from the keyframe before each sampled frame, so
a long keyframe interval makes a 16-frame sample cost nearly a full decode. A copy with
short side N and a keyframe every K frames decodes at most K - 1 extra frames per sampled
frame, at N's pixel count. Encoded with PyAV (FFmpeg's libx264).
"""

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from zelda.data.transforms.spatial import resized_shape
from zelda.data.video import VideoReadError, open_video, reading

TAG = "zelda.data.prepare"  # the container's comment: the settings a copy was encoded with


@dataclass(frozen=True)
class Encoding:
    """How a copy is encoded: short side (never upscaled), keyframe interval and x264's knobs."""

    short_side: int
    keyint: int
    crf: int
    preset: str
    tune: str | None
    bframes: int

    def tag(self) -> str:
        """What the copy records about itself, so that changed settings redo it."""
        return f"{TAG} {json.dumps(asdict(self), sort_keys=True)}"

    def x264_options(self, threads: int) -> dict[str, str]:
        """libx264 options: exactly one keyframe every `keyint` frames (no scene-cut keyframes)."""
        options = {"crf": str(self.crf), "preset": self.preset, "threads": str(threads),
                   "x264-params": f"keyint={self.keyint}:min-keyint={self.keyint}:scenecut=0:bframes={self.bframes}"}
        if self.tune:
            options["tune"] = self.tune
        return options


def target_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """`(height, width)` of the copy: short side `short_side` unless the source is smaller
    (never upscaled), both even (yuv420p halves the chroma planes)."""
    if min(height, width) > short_side:
        height, width = resized_shape(height, width, short_side)
    return max(2, height // 2 * 2), max(2, width // 2 * 2)


def frame_rate(stream) -> Fraction:
    """The source's average rate, as a fraction MP4 and x264 take (24000/1001 stays exact;
    odd measured rates such as 46260000/1929427 round to the nearest such)."""
    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
    return Fraction(rate).limit_denominator(1001)


def encode(source: Path, target: Path, encoding: Encoding, threads: int = 1) -> int:
    """Write every frame of `source`'s first video stream to `target` as h264 (yuv420p), no
    audio, at `encoding`'s size and keyframe interval; the number of frames written. Frames
    keep their order and count (a constant rate: zelda indexes frames, it does not time them)."""
    import av

    with reading(source, (av.FFmpegError,)), av.open(str(source)) as reader, av.open(str(target), mode="w") as writer:
        if not reader.streams.video:
            raise VideoReadError(f"{source}: the file has no video stream")
        video = reader.streams.video[0]
        video.thread_type = "AUTO"
        height, width = target_shape(video.height, video.width, encoding.short_side)
        rate = frame_rate(video)
        stream = writer.add_stream("libx264", rate=rate, options=encoding.x264_options(threads))
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        writer.metadata["comment"] = encoding.tag()
        count = 0
        for frame in reader.decode(video):
            frame = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
            frame.pts, frame.time_base = count, 1 / rate
            writer.mux(stream.encode(frame))
            count += 1
        writer.mux(stream.encode())
    return count


def problem(path: Path, frames: int, shape: tuple[int, int], encoding: Encoding) -> str | None:
    """Why `path` is not a finished copy of a `frames`-frame video at `shape` encoded with
    `encoding` (missing, unreadable, other settings, other size or frame count, truncated); None when it is."""
    import av

    if not path.is_file():
        return "missing"
    try:
        with reading(path, (av.FFmpegError,)), av.open(str(path)) as container:
            if container.metadata.get("comment") != encoding.tag():
                return "encoded with other settings"
            stream = container.streams.video[0]
            if (stream.height, stream.width) != shape:
                return f"{stream.height}x{stream.width} instead of {shape[0]}x{shape[1]}"
        video = open_video(path)
        if video.num_frames != frames:
            return f"{video.num_frames} frames instead of {frames}"
        video.frame(frames - 1)  # the tail decodes: not truncated
    except (VideoReadError, OSError, IndexError) as error:
        return f"unreadable ({error})"
    return None
