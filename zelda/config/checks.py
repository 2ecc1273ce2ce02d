"""Startup checks of the config: impossible values fail before any data is touched, with
the key and the allowed range. The allowed names come from the modules that use them. Keys
read from the dataset itself (its classes) are checked once the data is prepared."""

from typing import Any, Callable

from omegaconf import DictConfig

from zelda.data.transforms.sampling import SHORT_VIDEO_POLICIES
from zelda.data.video import BACKENDS
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
    ("pipeline.backend", lambda v: v in BACKENDS, one_of(BACKENDS)),
    ("pipeline.decode_timeout_s", lambda v: v is None or v >= 0, "null or a number >= 0 (0: no limit)"),
    ("data.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.val_batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.num_workers", lambda v: v == "auto" or v >= 0, "auto or an integer >= 0"),
    ("optimizer.lr", lambda v: v > 0, "a number > 0"),
    ("model.head.dropout", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("model.head.average_clips", lambda v: v in AVERAGE_CLIPS, "prob, score or null"),
    ("model.head.label_smoothing", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("trainer.max_epochs", lambda v: v >= 1, "an integer >= 1"),
    ("trainer.val_interval", lambda v: v >= 1, "an integer >= 1"),
    ("objective", lambda v: v in OBJECTIVES, one_of(OBJECTIVES)),
    ("trainer.precision", lambda v: str(v) in PRECISION_CHOICES, one_of(PRECISION_CHOICES)),
]

# read from the dataset (data.classes) or derived from it: known once data.prepare has run
DATASET_RULES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("data.classes", lambda v: len(v) >= 1, "a list of at least one class name (the dataset names no class)"),
    ("data.num_classes", lambda v: v >= 1, "an integer >= 1"),
]


def rule_problems(cfg: DictConfig, rules: list[tuple[str, Callable[[Any], bool], str]]) -> list[str]:
    """`key=value: must be ...` for every value that breaks its rule."""
    problems = []
    for key, allowed, description in rules:
        value = _select(cfg, key)
        if value is _MISSING:
            continue
        try:
            ok = allowed(value)
        except TypeError:
            ok = False
        if not ok:
            problems.append(f"{key}={value!r}: must be {description}")
    return problems


def check_config(cfg: DictConfig) -> None:
    """Raise ZeldaError listing every impossible value (key, value, allowed range)."""
    problems = rule_problems(cfg, RULES)
    crop, resize = _select(cfg, "pipeline.crop_size"), _select(cfg, "pipeline.resize")
    if isinstance(crop, int) and isinstance(resize, int) and crop > resize:
        problems.append(
            f"pipeline.crop_size={crop} is larger than pipeline.resize={resize}: frames are resized "
            f"to a short side of {resize}, so the crop must be <= {resize}"
        )
    if _select(cfg, "trainer.test_after_fit") is True and _select(cfg, "data.test") in (_MISSING, None):
        problems.append("trainer.test_after_fit=true but the data config has no data.test split: add one "
                        "(like data.val, with its own split of data.index) or set trainer.test_after_fit=false")
    if problems:
        raise ZeldaError("invalid configuration:\n  " + "\n  ".join(problems))


def check_dataset_config(cfg: DictConfig) -> None:
    """Like `check_config`, for the keys read from the dataset: call it once the data is prepared."""
    problems = rule_problems(cfg, DATASET_RULES)
    classes, num_classes = _select(cfg, "data.classes"), _select(cfg, "data.num_classes")
    if not problems and classes is not _MISSING and num_classes is not _MISSING and num_classes < len(classes):
        problems.append(f"data.num_classes={num_classes} is less than the {len(classes)} classes of the dataset "
                        f"(data.classes): the head needs an output per class; drop the override")
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
