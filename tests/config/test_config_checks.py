"""Impossible config values stop the run at startup, naming the key and the range."""

import pytest
from helpers import run_cli


@pytest.mark.parametrize("override,message", [
    ("pipeline.clip_len=0", "pipeline.clip_len=0: must be an integer >= 1"),
    ("optimizer.lr=-0.1", "optimizer.lr=-0.1: must be a number > 0"),
    ("pipeline.crop_size=200", "pipeline.crop_size=200 is larger than pipeline.resize=128"),
    ("data.batch_size=0", "data.batch_size=0: must be an integer >= 1"),
    ("model.head.average_clips=max", "model.head.average_clips='max': must be prob, score or null"),
    ("pipeline.crop_area=[0.5,1.5]", "pipeline.crop_area=[0.5, 1.5]: must be null or [min, max]"),
    ("pipeline.crop_aspect=[2,1]", "pipeline.crop_aspect=[2, 1]: must be [min, max] with 0 < min <= max"),
    ("objective=last", "objective='last': must be final or best"),
    ("pipeline.backend=ffmpeg", "pipeline.backend='ffmpeg': must be decord, torchcodec or pyav"),
    ("pipeline.decode_timeout_s=-1", "pipeline.decode_timeout_s=-1: must be null or a number >= 0"),
])
def test_impossible_values_fail_before_data_is_touched(tmp_path, override, message):
    data_dir = tmp_path / "data"
    result = run_cli("zelda.train", override, "logger=none", f"paths.data_dir={data_dir}",
                     f"hydra.run.dir={tmp_path / 'run'}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and message in output and "Traceback" not in output
    assert not data_dir.exists()  # the synthetic dataset was never generated
