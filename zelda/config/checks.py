"""Startup checks of the config: impossible values fail before any data is touched, with
the key and the allowed range. The allowed names come from the modules that use them."""

from typing import Any, Callable

from omegaconf import DictConfig

from zelda.data.transforms.sampling import SHORT_VIDEO_POLICIES
from zelda.engine.device import PRECISION_CHOICES
from zelda.errors import ZeldaError
from zelda.models.head import AVERAGE_CLIPS
from zelda.runs.sweep import OBJECTIVES


def one_of(choices: tuple[str, ...]) -> str:
    """`a, b or c`: the allowed names in an error message."""
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


RULES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("pipeline.clip_len", lambda v: v >= 1, "an integer >= 1"),
    ("pipeline.num_clips", lambda v: v >= 1, "an integer >= 1"),
    ("pipeline.val_num_clips", lambda v: v >= 1, "an integer >= 1"),
    ("pipeline.frame_interval", lambda v: v is None or v >= 1, "null or an integer >= 1"),
    ("pipeline.resize", lambda v: v >= 1, "an integer >= 1"),
    ("pipeline.crop_size", lambda v: v >= 1, "an integer >= 1"),
    ("pipeline.decode_short_side", lambda v: v is None or v >= 1, "null or an integer >= 1"),
    ("pipeline.crop_area", lambda v: v is None or (len(v) == 2 and 0 < v[0] <= v[1] <= 1),
     "null or [min, max] with 0 < min <= max <= 1"),
    ("pipeline.crop_aspect", lambda v: len(v) == 2 and 0 < v[0] <= v[1], "[min, max] with 0 < min <= max"),
    ("pipeline.short_video", lambda v: v in SHORT_VIDEO_POLICIES, one_of(SHORT_VIDEO_POLICIES)),
    ("data.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.val_batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.num_workers", lambda v: v == "auto" or v >= 0, "auto or an integer >= 0"),
    ("data.num_classes", lambda v: v >= 1, "an integer >= 1"),
    ("optimizer.lr", lambda v: v > 0, "a number > 0"),
    ("model.head.dropout", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("model.head.average_clips", lambda v: v in AVERAGE_CLIPS, "prob, score or null"),
    ("model.head.label_smoothing", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("trainer.max_epochs", lambda v: v >= 1, "an integer >= 1"),
    ("trainer.val_interval", lambda v: v >= 1, "an integer >= 1"),
    ("objective", lambda v: v in OBJECTIVES, one_of(OBJECTIVES)),
    ("trainer.precision", lambda v: str(v) in PRECISION_CHOICES, one_of(PRECISION_CHOICES)),
]


def check_config(cfg: DictConfig) -> None:
    """Raise ZeldaError listing every impossible value (key, value, allowed range)."""
    problems = []
    for key, allowed, description in RULES:
        value = _select(cfg, key)
        if value is _MISSING:
            continue
        try:
            ok = allowed(value)
        except TypeError:
            ok = False
        if not ok:
            problems.append(f"{key}={value!r}: must be {description}")
    crop, resize = _select(cfg, "pipeline.crop_size"), _select(cfg, "pipeline.resize")
    if isinstance(crop, int) and isinstance(resize, int) and crop > resize:
        problems.append(
            f"pipeline.crop_size={crop} is larger than pipeline.resize={resize}: frames are resized "
            f"to a short side of {resize}, so the crop must be <= {resize}"
        )
    if _select(cfg, "trainer.test_after_fit") is True and _select(cfg, "data.test") in (_MISSING, None):
        problems.append("trainer.test_after_fit=true but the data config has no data.test split: add one "
                        "(like data.val, with its own ann_file) or set trainer.test_after_fit=false")
    if problems:
        raise ZeldaError("invalid configuration:\n  " + "\n  ".join(problems))


_MISSING = object()


def _select(cfg: DictConfig, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return _MISSING
        node = node[part]
    return node
