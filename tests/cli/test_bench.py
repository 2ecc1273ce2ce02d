"""`python -m zelda.bench --sections loader`: the train loader's clips per second, per worker count."""

import json

import pytest
from helpers import TINY_DATA, run_cli


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_the_loader_section_prints_a_row_per_worker_count(tmp_path, backend):
    result = run_cli("zelda.bench", "--sections", "loader", "--loader-workers", "0,1", "--out", str(tmp_path / "bench.json"),
                     *TINY_DATA, "pipeline.clip_len=4", "data.batch_size=2", f"pipeline.backend={backend}",
                     f"paths.data_dir={tmp_path / 'data'}")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.split()[:2] == ["workers", "clips/s"]))
    assert [line.split()[0] for line in lines[header + 1 : header + 3]] == ["0", "1"]
    assert "decode floor" not in result.stdout  # the epoch section did not run
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["config"]["backend"] == backend
    assert [row["workers"] for row in report["loader"]] == [0, 1]
    for row in report["loader"]:  # 8 train videos in batches of 2: the first batch is timed on its own
        assert row["batches"] == 3 and row["clips"] == 6 and row["clips_per_s"] > 0 and row["first_batch_s"] > 0


def test_an_unknown_section_is_a_usage_error(tmp_path):
    result = run_cli("zelda.bench", "--sections", "loader,gpu", "--out", str(tmp_path / "bench.json"))
    assert result.returncode == 2 and "unknown gpu: choose from epoch, loader" in result.stderr
    assert not (tmp_path / "bench.json").exists()
