"""A dataset's pre-flight checks: bad annotation lines, missing or undecodable videos,
duplicates (also across splits), empty classes and videos shorter than a clip.

Each finding is `{kind, file, line, problem}`, so `zelda.check` can print it as
`file:line: problem` and write it as JSON.
"""

import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from zelda.data.annotations import Annotation, annotation_lines, find_video, parse_line
from zelda.data.video import Video, open_video

CHUNK_FRAMES, CHUNK_BYTES = 64, 128 << 20  # a deep check decodes at most this many frames / bytes at a time


def issue(kind: str, file: Path | str, line: int | None, text: str) -> dict[str, Any]:
    """One finding; `kind` is annotation, duplicate or video (problems) or a warning's topic."""
    return {"kind": kind, "file": str(file), "line": line, "problem": text}


def read_split(ann_file: Path, num_classes: int | None) -> tuple[list[Annotation], list[dict[str, Any]]]:
    """Every listed video once, plus every bad or repeated line, so one run shows them all."""
    annotations, problems, first_line = [], [], {}
    for number, text in annotation_lines(ann_file):  # read as read_annotations reads them
        try:
            filename, label = parse_line(text, num_classes)
        except ValueError as error:
            problems.append(issue("annotation", ann_file, number, str(error)))
            continue
        if filename in first_line:
            again = f"{filename} is listed again (first on line {first_line[filename]})"
            problems.append(issue("duplicate", ann_file, number, again))
            continue
        first_line[filename] = number
        annotations.append(Annotation(filename, label, number))
    return annotations, problems


def describe(error: Exception) -> str:
    """A one-line reason: decord's messages can run over many lines."""
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0][:200]}"


def decode_error(video: Video, indices: list[int]) -> Exception | None:
    """Why these frames do not decode, or None when they do."""
    try:
        video.frames(indices)
    except Exception as error:
        return error
    return None


def first_bad_frame(video: Video, chunk: int) -> tuple[int, str] | None:
    """Decode every frame, `chunk` at a time; in a failing chunk, find its first bad frame."""
    for start in range(0, video.num_frames, chunk):
        indices = list(range(start, min(start + chunk, video.num_frames)))
        if (chunk_error := decode_error(video, indices)) is None:
            continue
        for index in indices:
            if (error := decode_error(video, [index])) is not None:
                return index, describe(error)
        return start, describe(chunk_error)  # fails only as a batch: blame its first frame
    return None


def probe(path: Path, deep: bool) -> tuple[dict[str, Any], str | None]:
    """Open a video as training will and decode its first frame (every frame when deep): facts, or why it fails."""
    if not path.is_file():
        return {}, "not a regular file (a directory?)" if path.exists() else "file not found"
    if path.stat().st_size == 0:
        return {}, "empty file (0 bytes)"
    try:
        video = open_video(path)
    except Exception as error:
        return {}, f"does not open ({describe(error)})"
    facts = {"frames": video.num_frames, "fps": round(video.fps, 3)}
    if facts["frames"] < 1:
        return facts, "has no frames"
    try:
        shape = tuple(video.frame(0).shape)
    except Exception as error:
        return facts, f"first frame does not decode ({describe(error)})"
    facts.update(height=shape[0], width=shape[1])
    if shape[2:] != (3,):  # decord returns this for videos whose batches it cannot decode (e.g. 48 px wide)
        return facts, f"first frame decodes to shape {shape}, not (height, width, 3): decord cannot decode this video"
    chunk = max(1, min(CHUNK_FRAMES, CHUNK_BYTES // (shape[0] * shape[1] * 3)))
    if deep and (bad := first_bad_frame(video, chunk)):
        return facts, f"frame {bad[0]} of {facts['frames']} does not decode ({bad[1]})"
    return facts, None


def check_split(name: str, ann_file: Path, video_dir: Path, num_classes: int | None, clip_len: int,
                deep: bool) -> dict[str, Any]:
    """Annotation problems, then every video probed; short videos and empty classes are warnings."""
    annotations, problems = read_split(ann_file, num_classes)
    videos, warnings = [], []
    for annotation in tqdm(annotations, desc=f"check {name}", unit="video", disable=None, file=sys.stderr):
        path = find_video(video_dir, annotation.filename)
        facts, trouble = probe(path, deep)
        videos.append({"file": str(path), "line": annotation.line, "label": annotation.label, "ok": trouble is None,
                       "frames": None, "fps": None, "height": None, "width": None, **facts})
        if trouble:
            problems.append(issue("video", path, None, trouble))
        elif facts["frames"] < clip_len:
            short = f"{facts['frames']} frames < pipeline.clip_len={clip_len} (not an error: the sampler loops it)"
            warnings.append(issue("short", path, None, short))
    counts = Counter(annotation.label for annotation in annotations)  # every class listed, so an empty one shows
    class_counts = {label: counts[label] for label in (range(num_classes) if num_classes else sorted(counts))}
    warnings += [issue("class", ann_file, None, f"class {label} has no videos")
                 for label, count in class_counts.items() if count == 0]
    return {"ann_file": str(ann_file), "video_dir": str(video_dir), "class_counts": class_counts,
            "problems": problems, "warnings": warnings, "videos": videos}


def flag_cross_split(reports: dict[str, dict[str, Any]]) -> None:
    """A file in both train and val leaks the answers into validation: a problem of the later split."""
    seen: dict[Path, str] = {}
    for name, report in reports.items():
        for video in report["videos"]:
            key = Path(video["file"]).resolve()
            if key in seen and seen[key] != name:
                report["problems"].append(issue("duplicate", report["ann_file"], video["line"],
                                                f"{video['file']} is also in the {seen[key]} split"))
            seen.setdefault(key, name)


def spread(values: list[float]) -> dict[str, float] | None:
    """min / median / max, or None with nothing to measure."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else None


def summarize(report: dict[str, Any]) -> None:
    """Add counts, and stats over the videos that passed: what the report shows first."""
    videos, kinds = report["videos"], Counter(problem["kind"] for problem in report["problems"])
    ok = [v for v in videos if v["ok"]]
    report["counts"] = {"listed": len(videos), "ok": len(ok), "with_problems": len(videos) - len(ok),
                        "bad_lines": kinds["annotation"], "duplicates": kinds["duplicate"],
                        "warnings": len(report["warnings"])}
    resolution = Counter(f"{v['height']}x{v['width']}" for v in ok)
    report["stats"] = {"frames": spread([v["frames"] for v in ok]), "fps": spread([v["fps"] for v in ok]),
                       "resolution": dict(resolution.most_common()),
                       "min_short_side": min((min(v["height"], v["width"]) for v in ok), default=None)}
