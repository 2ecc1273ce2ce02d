"""A dataset's pre-flight checks: bad annotation lines, missing or undecodable videos,
duplicates (also across splits), empty classes and videos shorter than a clip, on a split
as its format (`zelda.data.formats`) reads it for training.

Each finding is `{kind, file, line, problem}`, so `zelda.check` can print it as
`file:line: problem` and write it as JSON.
"""

import os
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from zelda.data.formats.base import DatasetFormat, Entry, Issue
from zelda.data.video import DECODE_TIMEOUT_S, Video, open_video

CHUNK_FRAMES, CHUNK_BYTES = 64, 128 << 20  # a deep check decodes at most this many frames / bytes at a time


def issue(kind: str, file: Path | str, line: int | None, text: str) -> dict[str, Any]:
    """One finding; `kind` is annotation, duplicate or video (problems) or a warning's topic."""
    return {"kind": kind, "file": str(file), "line": line, "problem": text}


def as_finding(found: Issue) -> dict[str, Any]:
    """A format's problem or warning as a finding."""
    return issue(found.kind, found.file, found.line, found.text)


def drop_duplicates(entries: list[Entry], video_dir: Path) -> tuple[list[Entry], list[dict[str, Any]]]:
    """Every listed video once, plus a problem for each repeat, so one run shows them all."""
    first: dict[Path, Entry] = {}
    problems = []
    for entry in entries:
        if entry.path in first:
            again = f"{os.path.relpath(entry.path, video_dir)} is listed again (first on line {first[entry.path].line})"
            problems.append(issue("duplicate", entry.file, entry.line, again))
        else:
            first[entry.path] = entry
    return list(first.values()), problems


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


def probe(path: Path, deep: bool, backend: str, timeout_s: float | None) -> tuple[dict[str, Any], str | None]:
    """Open a video as training will and decode its first frame (every frame when deep): facts, or why it fails."""
    if not path.is_file():
        return {}, "not a regular file (a directory?)" if path.exists() else "file not found"
    if path.stat().st_size == 0:
        return {}, "empty file (0 bytes)"
    try:
        video = open_video(path, backend=backend, timeout_s=timeout_s)
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
        return facts, f"first frame decodes to shape {shape}, not (height, width, 3): the decoder cannot decode this video"
    chunk = max(1, min(CHUNK_FRAMES, CHUNK_BYTES // (shape[0] * shape[1] * 3)))
    if deep and (bad := first_bad_frame(video, chunk)):
        return facts, f"frame {bad[0]} of {facts['frames']} does not decode ({bad[1]})"
    return facts, None


def check_split(index: DatasetFormat, split: str, classes: list[str], clip_len: int, deep: bool,
                backend: str = "decord", timeout_s: float | None = DECODE_TIMEOUT_S) -> dict[str, Any]:
    """The format's problems and warnings for `split`, then every video probed; short videos and
    empty classes are warnings."""
    entries, problems, warnings = index.read(split)
    video_dir = index.video_dir(split)
    entries, duplicates = drop_duplicates(entries, video_dir)
    problems, warnings = [*map(as_finding, problems), *duplicates], list(map(as_finding, warnings))
    videos = []
    for entry in tqdm(entries, desc=f"check {split}", unit="video", disable=None, file=sys.stderr):
        facts, trouble = probe(entry.path, deep, backend, timeout_s)
        videos.append({"file": str(entry.path), "listed_in": entry.file, "line": entry.line, "label": entry.label,
                       "ok": trouble is None, "frames": None, "fps": None, "height": None, "width": None, **facts})
        if trouble:
            problems.append(issue("video", entry.path, None, trouble))
        elif facts["frames"] < clip_len:
            short = f"{facts['frames']} frames < pipeline.clip_len={clip_len} (not an error: the sampler loops it)"
            warnings.append(issue("short", entry.path, None, short))
    counts = Counter(entry.label for entry in entries)  # every class listed, so an empty one shows
    class_counts = {label: counts[label] for label in range(len(classes))}
    warnings += [issue("class", index.source(split), None, f"class {label} ({classes[label]}) has no videos")
                 for label, count in class_counts.items() if count == 0]
    return {"source": str(index.source(split)), "video_dir": str(video_dir), "class_counts": class_counts,
            "problems": problems, "warnings": warnings, "videos": videos}


def flag_cross_split(reports: dict[str, dict[str, Any]]) -> None:
    """A file in both train and val leaks the answers into validation: a problem of the later split."""
    seen: dict[Path, str] = {}
    for name, report in reports.items():
        for video in report["videos"]:
            key = Path(video["file"]).resolve()
            if key in seen and seen[key] != name:
                report["problems"].append(issue("duplicate", video["listed_in"], video["line"],
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
