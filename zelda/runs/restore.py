"""A trained model back from its checkpoint: the config it was trained with, then its weights.

Shared by `zelda.test` and `zelda.predict`, so both read a run the same way.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from zelda.config.compose import CONF_DIR
from zelda.engine.checkpoint import load_checkpoint
from zelda.engine.device import resolve_device, runs_natively
from zelda.errors import ZeldaError
from zelda.runs.video_scores import class_labels

RESTORE_KEYS = ("ckpt_path", "config_path")  # command-line keys that choose what to restore
# What the training machine chose that does not bind evaluation: a checkpoint trained on
# GPUs, with DDP, SyncBatchNorm or torch.compile evaluates on any device (overrides still apply)
PORTABLE_TRAINER = {"device": "auto", "strategy": "auto", "sync_batchnorm": False, "compile": False}
_ABSENT = object()
log = logging.getLogger(__name__)


@dataclass
class Restored:
    """A model with its checkpoint's weights (eval mode), and the config that built it."""

    cfg: DictConfig
    model: nn.Module
    ckpt_path: Path
    config_path: Path
    epoch: int | None  # epochs the checkpoint had completed


def run_config_path(ckpt_path: Path) -> Path:
    """The config a checkpoint was trained with, from its run dir (the parent of `checkpoints/`).

    Hydra's `.hydra/config.yaml` keeps interpolations, so `paths.data_dir=DIR` still moves
    `data.root`; `config.yaml` (resolved) is the fallback for runs without `.hydra/`.
    """
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    candidates = [run_dir / ".hydra" / "config.yaml", run_dir / "config.yaml"]
    for path in candidates:
        if path.is_file():
            return path
    raise ZeldaError(f"no training config for checkpoint {ckpt_path}: neither {candidates[0]} nor {candidates[1]} "
                     f"exists; pass config_path=PATH (the config.yaml of the run that wrote it)")


def apply_overrides(cfg: DictConfig, overrides: Sequence[str], source: Path) -> None:
    """Command-line `key=value` overrides (`+key=value` adds a key) on a config loaded from `source`."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ZeldaError(f"bad override: {error}") from error
    for override in parsed:
        key, line = override.key_or_group, override.input_line
        if (CONF_DIR / key).is_dir():
            raise ZeldaError(f"{line}: a checkpoint keeps the {key} it was trained with; "
                             f"override single keys instead, e.g. {key}.KEY=VALUE")
        if override.is_sweep_override() or override.is_delete():
            raise ZeldaError(f"{line}: give one value per key (no sweeps, no ~ deletions)")
        if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT and not (override.is_add() or override.is_force_add()):
            raise ZeldaError(f"{line}: {key} is not in the training config {source}; add a new key with +{line}")
        OmegaConf.update(cfg, key, override.value(), force_add=True)


def restore(ckpt_path: str | Path, overrides: Sequence[str] = (), config_path: str | Path | None = None) -> Restored:
    """Load the training config (plus `overrides`), build its model and load the checkpoint's weights.

    The trainer's machine-bound keys are reset to `PORTABLE_TRAINER`, and a precision this
    device cannot run natively (fp16 off CUDA, bf16 without native support) to fp32. The class
    names are those the checkpoint was trained with, so predicting needs no dataset."""
    ckpt = Path(ckpt_path)
    if not ckpt.is_file():
        raise ZeldaError(f"ckpt_path={ckpt_path}: no such checkpoint; pass a run's checkpoints/last.pt or best.pt")
    source = Path(config_path) if config_path else run_config_path(ckpt)
    if not source.is_file():
        raise ZeldaError(f"config_path={config_path}: no such file; pass a run's config.yaml")
    cfg = OmegaConf.load(source)
    trained_precision = str(cfg.trainer.precision)
    cfg.trainer.update(PORTABLE_TRAINER)
    apply_overrides(cfg, overrides, source)
    device = resolve_device(cfg.trainer.device)
    if str(cfg.trainer.precision) == trained_precision and not runs_natively(trained_precision, device):
        log.info("evaluating in fp32: %s was trained with trainer.precision=%s, which %s does not run natively",
                 ckpt, trained_precision, device)
        cfg.trainer.precision = "32"
    try:
        state: dict[str, Any] = load_checkpoint(ckpt)
    except Exception as error:  # torch raises several types for files that are not checkpoints
        raise ZeldaError(f"{ckpt}: not a readable checkpoint ({type(error).__name__}: {error})") from error
    trained_classes = ((state.get("config") or {}).get("data") or {}).get("classes")
    if trained_classes is not None:  # the model's outputs are the classes it was trained on, data or no data
        cfg.data.classes = trained_classes
    model = instantiate(cfg.model)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        message = " ".join(str(error).split())[:300]
        raise ZeldaError(f"{ckpt} does not fit the model of {source} ({message}); "
                         f"undo overrides of model.* or data.num_classes") from error
    return Restored(cfg=cfg, model=model.eval(), ckpt_path=ckpt, config_path=source, epoch=state.get("epoch"))


def class_names(cfg: DictConfig) -> list[str]:
    """One name per class: `data.classes`, read from the dataset; runs saved before that key
    existed name them in `<data.root>/label_map.txt` (a name per line); the index where neither does."""
    names = OmegaConf.select(cfg, "data.classes")
    if names is None:
        root = OmegaConf.select(cfg, "data.root")
        label_map = Path(root) / "label_map.txt" if root else None
        lines = label_map.read_text().splitlines() if label_map and label_map.is_file() else []
        names = [name.strip() for name in lines if name.strip()]
    return class_labels(list(names), int(cfg.data.num_classes))
