"""Videos written to disk for the robustness tests: odd but valid ones, broken ones, and
kinetics400_tiny-layout folders of them."""

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
from helpers import make_video, run_cli

from zelda.data.synthetic import render_video

CLIP_LEN, RESIZE, CROP, VAL_CLIPS = 16, 64, 56, 5
PIPELINE = [f"pipeline.clip_len={CLIP_LEN}", f"pipeline.resize={RESIZE}", f"pipeline.crop_size={CROP}"]
# Broken files, each listed once in the train annotation; "missing.mp4" is listed but never written.
# "truncated_faststart.mp4" opens (its index comes first) and fails only when frames are decoded.
BROKEN = ("truncated.mp4", "empty.mp4", "text.mp4", "directory.mp4", "missing.mp4", "truncated_faststart.mp4")
VFR_GAPS = [1, 1, 3, 1, 2, 5, 1, 4, 2, 1]  # ticks of 1/90 s between frames


def write_vfr_mp4(path: Path, num_frames: int = 20, height: int = 48, width: int = 64) -> Path:
    """An h264 mp4 whose frames sit at irregular `pts` on a fine 1/90 s time base."""
    import av

    frames = render_video(np.random.default_rng(7), 1, num_frames, height, width)
    time_base = Fraction(1, 90)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = height, width
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        pts = 0
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            pts += VFR_GAPS[index % len(VFR_GAPS)]
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def frame_times(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


ODD_VIDEOS = {  # name -> writer
    "one_frame.mp4": lambda p: make_video(p, num_frames=1, seed=1),
    "eight_frames.mp4": lambda p: make_video(p, num_frames=8, seed=2),
    "portrait_96x64.mp4": lambda p: make_video(p, num_frames=10, height=96, width=64, seed=3),
    "tiny_48x64.mp4": lambda p: make_video(p, num_frames=10, height=48, width=64, seed=4),
    "wide_144x1024.mp4": lambda p: make_video(p, num_frames=6, height=144, width=1024, seed=5),
    "vfr.mp4": write_vfr_mp4,
}


def k400_dataset(root: Path, train: dict[str, Path | None], val: dict[str, Path | None]) -> Path:
    """A kinetics400_tiny folder under `root`: `{name: source}` per split, copied in
    (source None: listed in the annotation only). Returns the dataset folder."""
    dataset = root / "kinetics400_tiny"
    for split, videos in (("train", train), ("val", val)):
        (dataset / split).mkdir(parents=True)
        lines = []
        for index, (name, source) in enumerate(videos.items()):
            if source is not None:
                (dataset / split / name).write_bytes(source.read_bytes())
            lines.append(f"{name} {index % 2}\n")
        (dataset / f"kinetics_tiny_{split}_video.txt").write_text("".join(lines))
    return dataset


def write_faststart_mp4(path: Path, num_frames: int = 30, height: int = 48, width: int = 64) -> Path:
    """An h264 mp4 with its index before the frames (`movflags=faststart`)."""
    import av

    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=15)
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        for array in render_video(np.random.default_rng(9), 0, num_frames, height, width):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_broken(folder: Path, good: Path) -> list[Path]:
    """The broken files of BROKEN in `folder` ('missing.mp4' is not written)."""
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    faststart = write_faststart_mp4(folder / "truncated_faststart.mp4").read_bytes()
    (folder / "truncated_faststart.mp4").write_bytes(faststart[: len(faststart) // 2])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("this is not a video\n")
    (folder / "directory.mp4").mkdir()
    return [folder / name for name in BROKEN]


def train_cli(tmp: Path, *overrides: str):
    result = run_cli("zelda.train", "data=k400_tiny", f"paths.data_dir={tmp}", f"hydra.run.dir={tmp / 'run'}",
                     *PIPELINE, "trainer.max_epochs=1", "trainer.progress_bar=false", "data.batch_size=2", *overrides)
    return result, result.stdout + result.stderr


def metrics_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
