"""Speed switches keep results right: decode at size, the val cache, precision modes, bench."""

import json

import pytest
import torch
from helpers import TINY_RUN, make_video, run_cli

from zelda.data.dataset import VideoDataset
from zelda.data.formats.listfile import ListFormat
from zelda.data.transforms import Compose, VideoDecode, VideoFormat, VideoInit, VideoPack, VideoResize, VideoSample
from zelda.engine import device as device_module
from zelda.engine.device import native_bf16, resolve_precision
from zelda.engine.trainer import Trainer
from zelda.errors import ZeldaError

CPU = torch.device("cpu")
NATIVE_BF16 = native_bf16(CPU)  # this project's machines vary: some CPUs have it, some do not
needs_native_bf16 = pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bf16 (avx512_bf16 / amx_bf16)")


def decode(path, decode_short_side):
    pipeline = Compose([VideoInit(decode_short_side=decode_short_side), VideoSample(8, 2, test_mode=True),
                        VideoDecode(), VideoResize(64)])
    return pipeline({"filename": str(path)})["imgs"]


def test_decode_at_size_matches_decode_then_resize(tmp_path):
    video = make_video(tmp_path / "big.mp4", num_frames=16, height=240, width=320)
    at_size, resized = decode(video, 64), decode(video, None)
    assert at_size.shape == resized.shape == (16, 3, 64, 85) and at_size.dtype == torch.uint8
    difference = (at_size.float() - resized.float()).abs().mean().item()
    assert difference < 6, f"mean absolute difference {difference:.2f} of 255"  # visually equivalent


def test_decode_at_size_leaves_smaller_sources_alone(tmp_path):
    video = make_video(tmp_path / "small.mp4", num_frames=8, height=48, width=64)
    assert torch.equal(decode(video, 64), decode(video, None))


def test_val_cache_serves_identical_items_without_decoding(tmp_path):
    make_video(tmp_path / "v.mp4")
    (tmp_path / "ann.txt").write_text("v.mp4 0\n")
    pipeline = [VideoInit(), VideoSample(4, 2, test_mode=True), VideoDecode(), VideoFormat(), VideoPack()]
    index = ListFormat(tmp_path, files={"val": "ann.txt"})
    dataset = VideoDataset(index, "val", pipeline, test_mode=True, cache_mb=10)
    first = dataset[0]
    (tmp_path / "v.mp4").unlink()  # a cached item no longer needs the file
    assert torch.equal(dataset[0]["inputs"], first["inputs"])
    uncached = VideoDataset(index, "val", pipeline, test_mode=True, cache_mb=0)
    assert uncached.cache_bytes == 0


def train_tiny(folder, *switches: str) -> dict:
    """The last metrics row of a tiny CLI run; the loader without workers and contiguous
    tensors unless `switches` say otherwise."""
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", "model.channels_last=false", "data.num_workers=0",
                     f"paths.data_dir={folder / 'data'}", f"hydra.run.dir={folder / 'run'}", *switches)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((folder / "run" / "metrics.jsonl").read_text().splitlines()[-1])


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> dict:
    return train_tiny(tmp_path_factory.mktemp("plain"))


# (switches, relative tolerance on the losses): same maths, so the same metrics; loader workers
# change nothing at all, memory layout only the order of float sums, bf16 a few digits
SWITCHES = [
    (["model.channels_last=true"], 1e-4),
    (["data.num_workers=1", "data.persistent_workers=true"], 0.0),
    pytest.param(["trainer.precision=bf16-mixed"], 5e-2, marks=needs_native_bf16),
]


@pytest.mark.parametrize("switches,tolerance", SWITCHES)
def test_speed_switches_keep_the_metrics(tmp_path, plain_run, switches, tolerance):
    row = train_tiny(tmp_path, *switches)
    assert row["train/loss"] == pytest.approx(plain_run["train/loss"], rel=tolerance)
    assert row["val/top1"] == plain_run["val/top1"] and row["val/mean_class_acc"] == plain_run["val/mean_class_acc"]


@pytest.mark.parametrize("native", [False, True])
def test_bf16_without_native_support_stops_at_trainer_construction(monkeypatch, native):
    """Without native bf16, PyTorch runs Conv3d on a single-threaded reference kernel: hours per epoch."""
    monkeypatch.setattr(device_module, "native_bf16", lambda device: native)
    if native:
        assert Trainer(device="cpu", precision="bf16-mixed").precision == "bf16-mixed"
        return
    with pytest.raises(ZeldaError, match=r"trainer.precision=bf16-mixed .*reference Conv3d.*trainer.precision=32.*auto"):
        Trainer(device="cpu", precision="bf16-mixed")


def test_16_mixed_is_refused_on_the_cpu():
    with pytest.raises(ZeldaError, match="trainer.precision=16-mixed .*CUDA"):
        Trainer(device="cpu", precision="16-mixed")


@pytest.mark.parametrize("native", [False, True])
def test_auto_precision_picks_bf16_only_where_native(monkeypatch, native):
    monkeypatch.setattr(device_module, "native_bf16", lambda device: native)
    assert resolve_precision("auto", CPU) == ("bf16-mixed" if native else "32")


@pytest.mark.skipif(NATIVE_BF16, reason="this CPU has native bf16: bf16-mixed is allowed here")
def test_bf16_on_this_cpu_stops_before_any_data_is_decoded(tmp_path):
    result = run_cli("zelda.train", *TINY_RUN, "logger=none", f"paths.data_dir={tmp_path / 'data'}",
                     f"hydra.run.dir={tmp_path / 'run'}", "trainer.precision=bf16-mixed", "data.num_workers=0")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "no native bf16 on this CPU" in output and "trainer.precision=32" in output and "Traceback" not in output
    assert "training on" not in output and not (tmp_path / "run" / "metrics.jsonl").exists()


def test_bench_prints_a_table_and_writes_json(tmp_path):
    result = run_cli("zelda.bench", "--epochs", "2", "--reps", "1", "--out", str(tmp_path / "bench.json"),
                     *TINY_RUN, f"paths.data_dir={tmp_path / 'data'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "decode floor" in result.stdout and "model floor 32" in result.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["train"]["decode_floor_s"] > 0 and report["trainer"]["epoch_s"] > 0
    # modes this device cannot run natively are skipped, and the table says why
    assert "model floor 16-mixed: skipped (fp16 is for CUDA)" in result.stdout
    assert report["model_floor_skipped"]["16-mixed"] == "fp16 is for CUDA"
    if NATIVE_BF16:
        assert {"32", "bf16-mixed"} == report["model_floor"].keys()
    else:
        assert "model floor bf16-mixed: skipped (no native bf16 on this CPU)" in result.stdout
        assert report["model_floor"].keys() == {"32"}
