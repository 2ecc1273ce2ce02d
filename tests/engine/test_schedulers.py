"""Learning-rate schedules: warmup, cosine and step values by hand; resume keeps the schedule."""

import json
import math

import pytest
import torch
from helpers import TINY_RUN, run_cli

from zelda.engine.schedulers import warmup_cosine, warmup_step


def lrs(scheduler_factory, steps: int, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = scheduler_factory(optimizer, **kwargs)
    values = []
    for _ in range(steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


def test_cosine_warms_up_linearly_then_decays_to_the_floor():
    values = lrs(warmup_cosine, 30, steps_per_epoch=10, max_epochs=3, warmup_epochs=1, min_lr_ratio=0.0)
    assert values[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert values[10] == pytest.approx(1.0)
    assert values[20] == pytest.approx(0.5)  # halfway through the decay
    assert values[29] == pytest.approx(0.5 * (1 + math.cos(math.pi * 19 / 20)))


def test_step_multiplies_by_gamma_at_each_milestone_epoch():
    values = lrs(warmup_step, 10, steps_per_epoch=2, max_epochs=5, milestones=[2, 4], gamma=0.1)
    assert values == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01])


def test_scheduler_trains_and_logs_the_lr_it_used(tmp_path):
    result = run_cli("zelda.train", *TINY_RUN, "scheduler=cosine", "trainer.max_epochs=2", "logger=none",
                     f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # 4 steps, 2 of warmup: factors 0.5, 1 (epoch 1), then cosine 1, 0.5 (epoch 2); an epoch
    # reports the lr its last step used, not the one the scheduler set for the step after it
    assert [row["lr"] for row in rows] == pytest.approx([0.001, 0.0005])  # the default's lr 0.001
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["scheduler"]["last_epoch"] == 4  # 2 epochs x 2 batches
