"""Video files: the one module that knows which decoder reads them.

The transforms, `zelda.check` and `zelda.bench` open videos with `open_video` and read
frames from the `Video` it returns, whichever decoder `backend` names (`pipeline.backend`):
`decord` (the default), `torchcodec` (optional; CPU or NVDEC) or `pyav`, each a reader in
`zelda.data.backends`. A decoder is imported when the first video is opened with it: only
processes that decode (loader workers) load it, and importing zelda loads none.

A file that cannot be opened or decoded raises `VideoReadError`, whatever the decoder
raised; with `OSError` it makes `UNREADABLE`, the one definition of "this video cannot be
read" that training skips (`data.train.on_error=skip`). Every other exception is a bug.
A decoder call that does not return within `timeout_s` (`pipeline.decode_timeout_s`)
counts as a failed read too.
"""

import importlib
import threading
from concurrent import futures
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

import torch

from zelda.data.backends import BaseReader
from zelda.errors import ZeldaError

BACKENDS = ("decord", "torchcodec", "pyav")
DECODE_TIMEOUT_S = 60.0  # pipeline.decode_timeout_s
FFMPEG_LIBS = "libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8"
INSTALL = {  # how to make a backend importable
    "decord": "pip install -r requirements.txt",
    "pyav": "pip install -r requirements.txt",
    "torchcodec": ("pip install -r requirements-backends.txt (torchcodec 0.12.0, the CPU build that works beside "
                   f"torch 2.13.0) and FFmpeg's shared libraries (major version 4 to 8): on Debian 12, sudo apt-get "
                   f"install -y {FFMPEG_LIBS}; elsewhere your system's FFmpeg package"),
}


class VideoReadError(ZeldaError):
    """A video file that cannot be opened or decoded; the message names the file and why."""


class DecodeTimeout(VideoReadError):
    """A decoder call that did not return within `pipeline.decode_timeout_s`."""


UNREADABLE = (VideoReadError, OSError)  # what an unreadable video raises; anything else is a bug


@contextmanager
def reading(path: str | Path, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn `errors`, what a decoder raises for a bad file, into VideoReadError."""
    try:
        yield
    except errors as error:
        reason = next((line for line in str(error).splitlines() if line.strip()), "")  # decord's run on for pages
        raise VideoReadError(f"{path}: {type(error).__name__}: {reason}") from error


def backend_module(backend: str) -> ModuleType:
    """The reader module of `backend`, imported now; a clear error when it cannot be."""
    if backend not in BACKENDS:
        raise ZeldaError(f"pipeline.backend={backend!r} is not a video decoder: choose one of {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(f"zelda.data.backends.{backend}")
    except (ImportError, OSError, RuntimeError) as error:  # not installed, or its FFmpeg libraries missing
        reason = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise ZeldaError(f"pipeline.backend={backend} cannot be loaded ({reason}). Install it: {INSTALL[backend]}; "
                         "or choose another decoder, e.g. pipeline.backend=decord") from error


def decode_device(device: str, backend: str) -> str:
    """The torch device that decodes (`pipeline.decode_device`): `cpu`, or `cuda` / `cuda:N`
    for NVDEC through torchcodec (`cuda`: this process's current GPU, a DDP rank's own)."""
    if device == "cpu":
        return device
    if backend != "torchcodec" or device.split(":")[0] != "cuda":
        raise ZeldaError(f"pipeline.decode_device={device!r}: only pipeline.backend=torchcodec decodes on a GPU, "
                         "with decode_device=cuda or cuda:N; every backend decodes on the cpu")
    if not torch.cuda.is_available():
        raise ZeldaError(f"pipeline.decode_device={device}: no CUDA GPU is available; use pipeline.decode_device=cpu")
    if torch.cuda._is_in_bad_fork():
        raise ZeldaError(f"pipeline.decode_device={device}: CUDA cannot start in a forked loader worker once the "
                         "main process uses it; set data.num_workers=0 to decode on the GPU")
    return device if ":" in device else f"cuda:{torch.cuda.current_device()}"


def within(timeout_s: float | None, path: str | Path, what: str, call: Callable[[], Any]) -> Any:
    """`call()`, run in a helper thread and waited for at most `timeout_s` seconds (None or 0:
    no limit, in this thread). Python cannot interrupt a C call from the thread that made it,
    so a call that overruns is abandoned, left running in its daemon thread, and raises
    DecodeTimeout."""
    if not timeout_s:
        return call()
    future: futures.Future = futures.Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as error:  # handed to the waiting thread as itself
            future.set_exception(error)

    threading.Thread(target=run, name=f"decode {Path(path).name}", daemon=True).start()
    try:
        return future.result(timeout_s)
    except futures.TimeoutError:  # the builtin TimeoutError from Python 3.11 on
        if future.done():  # the call itself raised it
            raise
        raise DecodeTimeout(f"{path}: {what} did not return within {timeout_s:g} s (pipeline.decode_timeout_s); "
                             "the call is abandoned and the file counts as unreadable") from None


class Video:
    """An opened video file: its frame count and rate, and its frames by index.

    Frames are uint8 `[H, W, C]` with C = 3, as decoded (their strides depend on the
    decoder). decord mis-sizes the frames of some widths (e.g. 48 pixels) instead of
    failing, so a caller that must not read garbage checks the shape it gets. After a call
    that timed out, the reader may still be busy in its abandoned thread: the Video refuses
    further calls.
    """

    def __init__(self, reader: BaseReader, path: str | Path, errors: tuple[type[BaseException], ...],
                 timeout_s: float | None) -> None:
        self._reader = reader
        self._errors = errors
        self._timeout_s = timeout_s
        self._abandoned = False
        self.path = path
        self.num_frames = reader.num_frames  # as the container's packets count them
        self.fps = reader.fps  # the average frame rate

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        if self._abandoned:
            raise VideoReadError(f"{self.path}: an earlier call timed out; open the file again")
        try:
            with reading(self.path, self._errors):
                return within(self._timeout_s, self.path, what, call)
        except DecodeTimeout:
            self._abandoned = True
            raise

    def _check(self, indices: Sequence[int]) -> list[int]:
        indices = [int(index) for index in indices]
        if any(not 0 <= index < self.num_frames for index in indices):
            raise IndexError(f"{self.path}: frame indices {indices} outside [0, {self.num_frames})")
        return indices

    def frames(self, indices: Sequence[int]) -> torch.Tensor:
        """Frames `indices` (any order, repeats allowed) in one batch, uint8 `[N, H, W, C]`:
        a single pass over the file when the indices increase."""
        indices = self._check(indices)
        return self._call(f"decoding {len(indices)} frames", partial(self._reader.frames, indices))

    def frame(self, index: int) -> torch.Tensor:
        """Frame `index` alone, uint8 `[H, W, C]`: what a probe of the file reads (decord returns
        a mis-sized frame of a video whose batches fail, so the shape tells the probe why)."""
        [index] = self._check([index])
        return self._call(f"decoding frame {index}", partial(self._reader.frame, index))


def open_video(path: str | Path, num_threads: int = 1, size: tuple[int, int] | None = None,
               backend: str = "decord", device: str = "cpu", timeout_s: float | None = DECODE_TIMEOUT_S) -> Video:
    """Open `path` for decoding by `backend` (one of BACKENDS) with `num_threads` threads, on
    `device` (see `decode_device`). With `size` `(height, width)`, the decoder scales each frame
    to it as it decodes it (far cheaper than resizing afterwards); without, frames keep the
    source size. Opening and each later read must return within `timeout_s` seconds. A file
    that does not open raises VideoReadError."""
    device = decode_device(device, backend)
    module = backend_module(backend)
    options = {"device": device} if device != "cpu" else {}  # only torchcodec's reader takes one
    with reading(path, module.ERRORS):
        reader = within(timeout_s, path, "opening", partial(module.Reader, str(path), num_threads, size, **options))
    return Video(reader, path, module.ERRORS, timeout_s)


def probe_shape(path: str | Path, timeout_s: float | None = DECODE_TIMEOUT_S) -> tuple[int, int]:
    """`(height, width)` of the first video stream, from the container header (~2 ms, no
    decoding; PyAV, whichever backend decodes)."""
    import av

    def header() -> tuple[int, int]:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path}: the file has no video stream")
            return container.streams.video[0].height, container.streams.video[0].width

    with reading(path, (av.FFmpegError,)):
        return within(timeout_s, path, "reading the header", header)
