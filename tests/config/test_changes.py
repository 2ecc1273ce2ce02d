"""Which config changes a resumed run may make: the rest is refused with the keys."""

import copy

import pytest

from zelda.config.changes import RESUME_MAY_CHANGE, check_resume_config, config_changes
from zelda.errors import ZeldaError

SAVED = {
    "seed": 1,
    "optimizer": {"lr": 0.01},
    "pipeline": {"clip_len": 4, "train": [{"clip_len": 4}]},
    "trainer": {"max_epochs": 4, "resume": None, "progress_bar": "auto"},
    "data": {"root": "/a/synthetic", "num_workers": "auto", "index": {"root": "/a/synthetic"},
             "train": {"index": {"root": "/a/synthetic"}}},
    "logger": {"mode": "offline"},
    "scheduler": {},
}


def test_training_longer_elsewhere_with_other_loader_and_logger_settings_is_accepted():
    current = copy.deepcopy(SAVED)
    current["trainer"].update(max_epochs=10, resume="auto", progress_bar=False)
    current["data"].update(root="/b/synthetic", num_workers=0, index={"root": "/b/synthetic"},
                           train={"index": {"root": "/b/synthetic"}})
    current["logger"] = {}
    assert config_changes(SAVED, current, RESUME_MAY_CHANGE) == []
    check_resume_config(SAVED, current, [], "last.pt")


def test_changes_to_what_training_computes_are_listed_old_to_new():
    current = copy.deepcopy(SAVED)
    current.update(seed=2, optimizer={"lr": 0.1}, scheduler={"_target_": "cosine"})
    current["pipeline"].update(clip_len=8, train=[{"clip_len": 8}])
    assert config_changes(SAVED, current, RESUME_MAY_CHANGE) == [
        "optimizer.lr: 0.01 → 0.1", "pipeline.clip_len: 4 → 8", "pipeline.train.0.clip_len: 4 → 8",
        "scheduler: {} → (absent)", "scheduler._target_: (absent) → 'cosine'", "seed: 1 → 2"]
    with pytest.raises(ZeldaError, match=r"(?s)last\.pt.*optimizer\.lr: 0\.01 → 0\.1.*resume_allow_changes"):
        check_resume_config(SAVED, current, [], "last.pt")


def test_resume_allow_changes_accepts_the_keys_it_names():
    current = copy.deepcopy(SAVED)
    current.update(seed=2, optimizer={"lr": 0.1})
    with pytest.raises(ZeldaError, match="seed: 1 → 2"):
        check_resume_config(SAVED, current, ["optimizer.lr"], "last.pt")
    check_resume_config(SAVED, current, ["optimizer.*", "seed"], "last.pt")
    check_resume_config(SAVED, current, ["*"], "last.pt")


def test_a_checkpoint_without_a_config_is_not_compared(caplog: pytest.LogCaptureFixture):
    check_resume_config(None, SAVED, [], "old.pt")
    assert "old.pt holds no config" in caplog.text
