"""Full-length runs, marked slow: `python -m pytest -m slow` (CI runs them)."""

import json

import pytest
from helpers import SHARED_DATA, run_cli

from zelda.config.compose import compose_config

pytestmark = pytest.mark.slow


def test_default_run_learns_the_synthetic_set(tmp_path):
    """`python -m zelda.train` as the quickstart runs it: val top1 >= 0.9 within its epochs."""
    result = run_cli("zelda.train", f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}",
                     timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == compose_config([]).trainer.max_epochs == 4  # the synthetic default's recipe
    assert max(row["val/top1"] for row in rows) >= 0.9
    assert rows[-1]["val/top1"] >= 0.9


@pytest.mark.skipif(not (SHARED_DATA / "kinetics400_tiny").is_dir(),
                    reason=f"real clips not found at {SHARED_DATA / 'kinetics400_tiny'} (they live outside the repo)")
@pytest.mark.parametrize("experiment", ["zelda_k400_tiny", "zelda_k400_tiny_tuned"])
def test_real_data_recipes_train_an_epoch_on_real_clips(tmp_path, experiment):
    result = run_cli("zelda.train", f"experiment={experiment}", f"paths.data_dir={SHARED_DATA}",
                     "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}", timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final"]["train/skipped_videos"] == 0
    assert 0 <= summary["final"]["val/top1"] <= 1


def test_compiled_backbone_trains_and_keeps_plain_checkpoint_keys(tmp_path):
    import torch

    result = run_cli("zelda.train", "experiment=debug_smoke", "trainer.compile=true",
                     f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}", timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert "backbone.conv1.0.weight" in state["model"]  # no "_orig_mod." prefix: loads without compiling
