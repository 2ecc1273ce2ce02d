"""zelda.data.download against a local HTTP server that speaks Range and can drop connections."""

from __future__ import annotations

import hashlib
import http.server
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT as REPO_ROOT

from zelda.data.download import download, require_dataset
from zelda.errors import ZeldaError

ANNOTATIONS = ("kinetics_tiny_train_video.txt", "kinetics_tiny_val_video.txt")


def make_zip(path: Path) -> bytes:
    """A kinetics400_tiny-shaped archive; videos are dummy bytes (stored, so it is not tiny)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("kinetics400_tiny/kinetics_tiny_train_video.txt", "a.mp4 0\nb.mp4 1\n")
        zf.writestr("kinetics400_tiny/kinetics_tiny_val_video.txt", "c.mp4 0\n")
        for split, name in (("train", "a.mp4"), ("train", "b.mp4"), ("val", "c.mp4")):
            zf.writestr(f"kinetics400_tiny/{split}/{name}", bytes(range(256)) * 64)
    return path.read_bytes()


class Server:
    """Serves one payload; records request headers; can cut the first response after N bytes."""

    def __init__(self, payload: bytes, cut_after: int | None = None) -> None:
        self.payload, self.cut_after, self.requests = payload, cut_after, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(dict(self.headers))
                start = int(self.headers["Range"][6:].split("-")[0]) if self.headers.get("Range") else 0
                body = server.payload[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None and len(server.requests) == 1:
                    body = body[: server.cut_after]
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/kinetics400_tiny.zip"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def payload(tmp_path: Path) -> bytes:
    return make_zip(tmp_path / "src.zip")


@pytest.fixture
def serve(payload: bytes):
    servers: list[Server] = []

    def start(cut_after: int | None = None) -> Server:
        servers.append(Server(payload, cut_after))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def assert_layout(folder: Path) -> None:
    assert folder.name == "kinetics400_tiny"
    for name in (*ANNOTATIONS, "train/a.mp4", "train/b.mp4", "val/c.mp4"):
        assert (folder / name).is_file(), name
    assert (folder / "label_map.txt").read_text() == "climbing rope\nblowing glass\n"


def test_full_download_unpacks_layout(tmp_path: Path, serve, payload: bytes) -> None:
    server = serve()
    data_dir = tmp_path / "data"
    sha = hashlib.sha256(payload).hexdigest()
    folder = download("k400_tiny", data_dir, url=server.url, sha256=sha, progress=False)
    assert folder == data_dir / "kinetics400_tiny"
    assert_layout(folder)
    assert not (data_dir / "kinetics400_tiny.zip.part").exists()
    assert sorted(p.name for p in data_dir.iterdir()) == ["kinetics400_tiny", "kinetics400_tiny.zip"]


def test_interrupted_download_resumes(tmp_path: Path, serve, payload: bytes) -> None:
    cut = len(payload) // 3
    server = serve(cut_after=cut)
    data_dir = tmp_path / "data"
    with pytest.raises(ZeldaError, match="re-run"):
        download("k400_tiny", data_dir, url=server.url, progress=False)
    part = data_dir / "kinetics400_tiny.zip.part"
    assert part.stat().st_size == cut
    assert not (data_dir / "kinetics400_tiny").exists()

    sha = hashlib.sha256(payload).hexdigest()
    folder = download("k400_tiny", data_dir, url=server.url, sha256=sha, progress=False)
    assert server.requests[1]["Range"] == f"bytes={cut}-"
    assert (data_dir / "kinetics400_tiny.zip").read_bytes() == payload
    assert_layout(folder)


def test_wrong_sha256_is_rejected(tmp_path: Path, serve) -> None:
    server = serve()
    with pytest.raises(ZeldaError, match="sha256"):
        download("k400_tiny", tmp_path, url=server.url, sha256="0" * 64, progress=False)
    assert not (tmp_path / "kinetics400_tiny").exists()


def test_present_dataset_is_not_downloaded_again(tmp_path: Path, serve) -> None:
    server = serve()
    first = download("k400_tiny", tmp_path, url=server.url, progress=False)
    server.requests.clear()
    assert download("k400_tiny", tmp_path, url=server.url, progress=False) == first
    assert server.requests == []


def test_path_traversal_is_refused(tmp_path: Path, serve) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    server = serve()
    server.payload = evil.read_bytes()
    with pytest.raises(ZeldaError, match="escape"):
        download("k400_tiny", tmp_path / "data", url=server.url, progress=False)
    assert not (tmp_path / "outside.txt").exists()


def test_require_dataset_explains_fix(tmp_path: Path) -> None:
    root = tmp_path / "kinetics400_tiny"
    with pytest.raises(ZeldaError) as info:
        require_dataset(str(root), "k400_tiny")
    message = str(info.value)
    for needle in (str(root), "python -m zelda.data.download k400_tiny", f"--data-dir {tmp_path}", "data=synthetic"):
        assert needle in message


def run_cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "zelda.data.download", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_cli_downloads(tmp_path: Path, serve) -> None:
    server = serve()
    result = run_cli("k400_tiny", "--data-dir", str(tmp_path), "--url", server.url, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert_layout(tmp_path / "kinetics400_tiny")


def test_cli_unreachable_url_exits_1(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("k400_tiny", "--data-dir", str(tmp_path), "--url", f"http://127.0.0.1:{port}/x.zip")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"127.0.0.1:{port}/x.zip" in result.stderr


def test_cli_unknown_dataset_lists_known(tmp_path: Path) -> None:
    result = run_cli("nope", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "k400_tiny" in result.stderr and "Traceback" not in result.stderr
