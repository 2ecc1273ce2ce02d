"""Fetch and unpack known datasets: resumable, verified, and never left half-unpacked.

    python -m zelda.data.download k400_tiny [--data-dir DIR] [--url URL] [--sha256 HEX] [--no-progress]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from zelda.errors import ZeldaError

CHUNK = 1 << 20


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from and which files prove it was unpacked completely."""

    name: str
    url: str
    folder: str
    required: tuple[str, ...]
    sha256: str | None = None
    classes: tuple[str, ...] = ()


DATASETS: dict[str, DatasetSpec] = {
    "k400_tiny": DatasetSpec(
        name="k400_tiny",
        url="https://download.openmmlab.com/mmaction/kinetics400_tiny.zip",
        folder="kinetics400_tiny",
        required=("kinetics_tiny_train_video.txt", "kinetics_tiny_val_video.txt", "train", "val"),
        classes=("climbing rope", "blowing glass"),
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """Look a dataset up by name, listing the known ones when it is not there."""
    if name not in DATASETS:
        raise ZeldaError(f"Unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}.")
    return DATASETS[name]


def first_missing(folder: Path, spec: DatasetSpec) -> Path | None:
    """The first path a complete dataset folder would have but this one lacks, or None."""
    if not folder.is_dir():
        return folder
    return next((folder / rel for rel in spec.required if not (folder / rel).exists()), None)


def require_dataset(root: str, name: str) -> None:
    """`data.prepare` hook: fail before training, with the fix, when the dataset is absent."""
    folder = Path(root)
    missing = first_missing(folder, get_spec(name))
    if missing is not None:
        raise ZeldaError(
            f"Dataset {name!r} is missing: {missing} does not exist. Download it with "
            f"`python -m zelda.data.download {name} --data-dir {folder.parent}`, or point "
            f"paths.data_dir=DIR (or env ZELDA_DATA_DIR) at a folder that has it, or train on "
            f"data=synthetic, the embedded default that needs no download."
        )


def fetch(url: str, part: Path, progress: bool) -> None:
    """Download `url` into `part`, appending to what an earlier, interrupted run left there."""
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            offset = start if response.status == 206 else 0  # 200: server ignored Range, restart
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length else None
            with part.open("ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, desc=part.name, disable=not progress
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        size = part.stat().st_size
        if total is not None and size < total:
            raise OSError(f"connection closed after {size} of {total} bytes")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the part file already holds the whole archive
            return
        raise _network_error(url, part, exc) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(url, part, exc) from None


def _network_error(url: str, part: Path, exc: Exception) -> ZeldaError:
    reason = getattr(exc, "reason", None) or exc
    return ZeldaError(
        f"Could not download {url}: {reason}. The partial file {part} is kept; "
        f"re-run the same command to resume."
    )


def verify(archive: Path, sha256: str | None) -> None:
    """Check the checksum (when known) and every zip member's CRC; delete the file if bad."""
    try:
        if sha256:
            digest = hashlib.sha256()
            with archive.open("rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != sha256.lower():
                raise ValueError(f"sha256 is {digest.hexdigest()}, expected {sha256.lower()}")
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
        if bad is not None:
            raise ValueError(f"member {bad!r} is corrupt")
    except (ValueError, zipfile.BadZipFile) as exc:
        archive.unlink()
        raise ZeldaError(f"{archive} failed verification ({exc}); deleted it, re-run to download again.") from None


def check_members(zf: zipfile.ZipFile, data_dir: Path) -> None:
    """Refuse archives whose entries would be written outside `data_dir` (path traversal)."""
    root = data_dir.resolve()
    for member in zf.namelist():
        if not (root / member).resolve().is_relative_to(root):
            raise ZeldaError(f"Refusing to unpack {zf.filename}: entry {member!r} would escape {data_dir}.")


def write_label_map(folder: Path, spec: DatasetSpec) -> None:
    """Give datasets whose archive has no label map one, so class names travel with the data."""
    label_map = folder / "label_map.txt"
    if spec.classes and not label_map.exists():
        label_map.write_text("".join(f"{name}\n" for name in spec.classes))


def extract(archive: Path, data_dir: Path, spec: DatasetSpec) -> Path:
    """Unpack into a temp dir beside the target and rename into place, so no half folder remains."""
    target = data_dir / spec.folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.folder}-", dir=data_dir))
    try:
        with zipfile.ZipFile(archive) as zf:
            check_members(zf, data_dir)
            zf.extractall(tmp)
        missing = first_missing(tmp / spec.folder, spec)
        if missing is not None:
            raise ZeldaError(f"{archive} does not contain {missing.relative_to(tmp)}; is --url the right archive?")
        write_label_map(tmp / spec.folder, spec)
        (tmp / spec.folder).rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def download(
    name: str, data_dir: str | Path, url: str | None = None, sha256: str | None = None, progress: bool = True
) -> Path:
    """Make `<data_dir>/<folder>` hold the complete dataset `name`, downloading only what is missing."""
    spec, data_dir = get_spec(name), Path(data_dir)
    folder = data_dir / spec.folder
    if folder.exists():
        missing = first_missing(folder, spec)
        if missing is not None:
            raise ZeldaError(f"{folder} exists but lacks {missing}; move it away and re-run.")
        write_label_map(folder, spec)
        print(f"{name} is already in {folder}")
        return folder
    data_dir.mkdir(parents=True, exist_ok=True)
    archive = data_dir / f"{spec.folder}.zip"
    part = archive.with_name(archive.name + ".part")
    sha256 = sha256 or spec.sha256
    if archive.exists():
        verify(archive, sha256)
    else:
        fetch(url or spec.url, part, progress)
        verify(part, sha256)
        part.replace(archive)
    extract(archive, data_dir, spec)
    print(f"{name} unpacked to {folder}")
    return folder


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 on success, 1 with a one-line message on a problem the user can fix."""
    parser = argparse.ArgumentParser(prog="python -m zelda.data.download", description=__doc__.split("\n")[0])
    parser.add_argument("name", help=f"dataset to fetch: {', '.join(sorted(DATASETS))}")
    parser.add_argument("--data-dir", default=os.environ.get("ZELDA_DATA_DIR", "data"),
                        help="folder to unpack into (default: env ZELDA_DATA_DIR, else 'data')")
    parser.add_argument("--url", help="download from this mirror instead of the registry URL")
    parser.add_argument("--sha256", help="expected sha256 of the archive")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        download(args.name, args.data_dir, url=args.url, sha256=args.sha256, progress=not args.no_progress)
    except ZeldaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
