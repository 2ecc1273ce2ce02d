"""Config keys that may differ between a checkpoint and the run that resumes it.

An exact resume needs what the checkpoint was trained with: model, data and splits,
pipeline, optimizer, schedule, seed, batch size, precision. Only settings of how a run
is run, shown or recorded may change, plus training for longer and reading the same
data from another place. `zelda.compare` groups runs by the same logic.
"""

import logging
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable

from zelda.errors import ZeldaError

log = logging.getLogger(__name__)

# keys that change how a run is run, shown or recorded, never what it computes
RUN_SETTINGS = (
    "trainer.resume", "resume_allow_changes", "trainer.progress_bar", "trainer.log_every_n_steps",
    "data.num_workers", "data.persistent_workers", "data.val_cache_mb", "objective", "logger", "logger.*", "hydra.*",
)
# a resumed run may also train for longer (and test after it), find its data elsewhere, and
# read it with another decoder (the same frames: identical at the source size, within the
# README's stated tolerance when the decoder scales) or decoder time limit
RESUME_MAY_CHANGE = (
    *RUN_SETTINGS, "trainer.max_epochs", "trainer.test_after_fit",
    "paths.*", "data.root", "data.*.root", "data.split_dir", "data.*.split_dir",
    "pipeline.*backend", "pipeline.*device", "pipeline.*decode_timeout_s",  # pipeline.X and VideoInit's copies
)
_ABSENT = object()


def matches(key: str, patterns: Iterable[str]) -> bool:
    """Whether dotted `key` is one of `patterns`; `*` stands for any text (`logger.*`, `*`)."""
    return any(fnmatchcase(key, pattern) for pattern in patterns)


def flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf under its dotted key, list items by index: `{"a": [{"b": 1}]}` -> `{"a.0.b": 1}`."""
    if isinstance(values, (dict, list)) and values:
        items = values.items() if isinstance(values, dict) else enumerate(values)
        return {k: v for key, value in items for k, v in flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: values}


def shown(value: Any) -> str:
    return "(absent)" if value is _ABSENT else repr(value)


def config_changes(saved: dict[str, Any], current: dict[str, Any], allowed: Iterable[str]) -> list[str]:
    """`key: old → new` for every leaf that differs, except keys matching `allowed`."""
    old, new = flatten(saved), flatten(current)
    allowed = list(allowed)
    pairs = ((key, old.get(key, _ABSENT), new.get(key, _ABSENT)) for key in sorted(old.keys() | new.keys()))
    return [f"{key}: {shown(a)} → {shown(b)}" for key, a, b in pairs if a != b and not matches(key, allowed)]


def check_resume_config(saved: dict[str, Any] | None, current: dict[str, Any], allow: Iterable[str],
                        checkpoint: str | Path) -> None:
    """Refuse to resume `checkpoint` (trained with `saved`) under a `current` config that
    would not continue the same training; `allow` (`resume_allow_changes`) accepts more keys."""
    if saved is None:
        log.warning("%s holds no config (it was written by an older zelda): its config could not be compared "
                    "with this run's", checkpoint)
        return
    changes = config_changes(saved, current, [*RESUME_MAY_CHANGE, *allow])
    if changes:
        raise ZeldaError(
            f"trainer.resume: {checkpoint} was trained with another config, so resuming it would not continue the "
            "same training; these keys differ (the checkpoint's value first):\n  " + "\n  ".join(changes) +
            "\nundo these overrides, start a new training with trainer.resume=null, or accept the changes with "
            "resume_allow_changes=[KEY,...] (patterns such as 'optimizer.*'; '[*]' accepts any change)")
