"""Where metrics go: `metrics.jsonl` (and per-video predictions CSVs) in the run dir always,
W&B when configured.

The trainer talks to loggers only through `log_step`, `log_epoch`, `log_predictions`,
`log_checkpoint`, `summary` and `finish`, so adding a backend never touches the training loop.
"""

import json
import logging
import netrc
import os
from pathlib import Path
from typing import Any, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from zelda.runs.per_video import predictions_path
from zelda.runs.predictions import write_predictions
from zelda.runs.sweep import job_identity
from zelda.runs.video_scores import VideoScores, class_labels

log = logging.getLogger(__name__)
WANDB_MODES = ("auto", "online", "offline", "disabled")
LOG_MODEL = (False, "best", "last", "all")  # logger.log_model: which checkpoints become W&B artifact versions
# runs-table columns besides the last value: the best and final val/top1, the lowest training loss
SUMMARIES = {"val/top1": "max,last", "train/loss": "min,last", "epoch/train/loss": "min,last"}
ARTIFACT_FILE = "checkpoint.pt"  # the checkpoint's name inside every version of the model artifact


class JsonlLogger:
    """The run dir's own record: one JSON object per epoch in `metrics.jsonl`, and the
    per-video predictions of the best and the final evaluation in `predictions_<when>.csv`."""

    def __init__(self, run_dir: str | Path, class_names: Sequence[str] = ()) -> None:
        self.run_dir, self.class_names = Path(run_dir), class_names
        self.path = self.run_dir / "metrics.jsonl"

    def log_step(self, metrics: dict[str, Any], step: int) -> None:
        """Per-iteration values are kept out of the file: it holds one row per epoch."""

    def log_epoch(self, metrics: dict[str, Any], epoch: int) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps({"epoch": epoch, **metrics}) + "\n")

    def log_predictions(self, videos: VideoScores, epoch: int, when: str) -> None:
        """`predictions_<when>.csv`: a row per video, its label and top classes (`zelda.compare` reads it)."""
        names = class_labels(self.class_names, videos.scores.shape[-1])
        write_predictions(predictions_path(self.run_dir, when), videos.filenames, videos.labels, videos.scores, names)

    def log_checkpoint(self, path: Path, aliases: Sequence[str]) -> None:
        """The checkpoint itself is in the run dir already."""

    def summary(self, values: dict[str, Any]) -> None:
        """The run's summary is written by the trainer to summary.json."""

    def finish(self, status: str) -> None:
        """Nothing to close: every row is flushed when written."""


def drop_rows_after(path: Path, epoch: int) -> None:
    """Remove rows of epochs after `epoch`: a resumed run rewrites them, without duplicates."""
    if path.is_file():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["epoch"] <= epoch]
        path.write_text("".join(f"{row}\n" for row in rows))


def has_wandb_credentials() -> bool:
    """True when an API key is in the environment or in ~/.netrc (`wandb login`)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str | None) -> str:
    """`auto`: online with credentials, offline without; never a login prompt."""
    mode = mode or "auto"
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.mode must be one of {WANDB_MODES}, got {mode!r}")
    if mode == "auto":
        return "online" if has_wandb_credentials() else "offline"
    return mode


class WandbLogger:
    """One W&B run, its files under the run dir.

    Per-step values (`train/loss`, `lr`, `time/*`) are plotted against `global_step`;
    per-epoch values (`val/*`, `epoch/*`) against `epoch`. `global_step` and `epoch` say
    where a resumed run stands, so that its rows continue the W&B run's. `class_names` name
    the classes in predictions tables and confusion matrices; `log_model` (`LOG_MODEL`) says
    which checkpoints become versions of the run's model artifact.
    """

    def __init__(
        self,
        run_dir: str | Path,
        run_config: dict[str, Any],
        project: str = "zelda",
        entity: str | None = None,
        mode: str | None = "auto",
        group: str | None = None,
        name: str | None = None,
        job_type: str = "train",
        tags: list[str] | None = None,
        run_id: str | None = None,
        global_step: int = 0,
        epoch: int = 0,
        class_names: Sequence[str] = (),
        log_model: bool | str = False,
    ) -> None:
        import wandb

        if log_model not in LOG_MODEL:
            raise ValueError(f"logger.log_model must be one of {LOG_MODEL}, got {log_model!r}")
        self.mode = resolve_mode(mode)
        self.global_step, self.epoch = global_step, epoch
        self.class_names, self.log_model = class_names, log_model
        self.last_checkpoint: tuple[Path, list[str]] | None = None  # with log_model=last: logged at finish
        self.run = wandb.init(
            project=project,
            entity=entity,
            dir=str(run_dir),
            config=run_config,
            mode=self.mode,
            group=group,
            name=name,
            job_type=job_type,
            tags=list(tags or []),
            id=run_id,
            resume="allow" if run_id else None,
            reinit="finish_previous",
            settings=wandb.Settings(console="off", silent=True),
        )
        self.run.define_metric("global_step")
        self.run.define_metric("epoch")
        for key in ("train/*", "lr", "time/*"):
            self.run.define_metric(key, step_metric="global_step")
        for key in ("val/*", "epoch/*", "best/*", "final/*"):
            self.run.define_metric(key, step_metric="epoch")
        for key, summary in SUMMARIES.items():
            self.run.define_metric(key, step_metric="epoch" if key.startswith(("val/", "epoch/")) else "global_step",
                                   summary=summary)
        log.info("W&B run %s (%s mode) in %s", self.run.id, self.mode, self.run.dir)

    @property
    def run_id(self) -> str:
        return self.run.id

    def row_step(self) -> int:
        """W&B's own step of the next row: optimizer steps plus epochs done. A function of where
        training stands, so a resumed run continues the step sequence (an offline resume would
        restart it at 0, and `wandb sync` would drop those rows), and online, a row W&B already
        has (logged after the checkpoint, before a crash) is dropped rather than duplicated."""
        return self.global_step + self.epoch

    def log_step(self, metrics: dict[str, Any], step: int) -> None:
        self.global_step = step
        self.run.log({"global_step": step, **metrics}, step=self.row_step())

    def log_epoch(self, metrics: dict[str, Any], epoch: int) -> None:
        """`val/*` keep their names; other epoch values become `epoch/<key>` so that the
        per-epoch mean of `train/loss` does not mix with its per-step history."""
        self.epoch = epoch
        row = {key if key.startswith("val/") else f"epoch/{key}": value for key, value in metrics.items()}
        self.run.log({"epoch": epoch, **row}, step=self.row_step())

    def log_predictions(self, videos: VideoScores, epoch: int, when: str) -> None:
        """`<when>/predictions`: a table of every video (file, true and predicted class, the score
        of each class, correct or not), and `<when>/confusion_matrix`, in the epoch's row."""
        import wandb

        self.epoch = epoch
        names = class_labels(self.class_names, videos.scores.shape[-1])
        predicted = videos.predicted()
        rows = [[filename, names[label], names[guess], *scores, guess == label] for filename, label, guess, scores
                in zip(videos.filenames, videos.labels, predicted, videos.scores.tolist())]
        predictions = wandb.Table(columns=["video", "true", "predicted", *(f"score/{name}" for name in names),
                                           "correct"], data=rows)
        matrix = wandb.plot.confusion_matrix(y_true=videos.labels, preds=predicted, class_names=names,
                                             title=f"{when} confusion matrix (epoch {epoch})")
        self.run.log({"epoch": epoch, f"{when}/predictions": predictions, f"{when}/confusion_matrix": matrix},
                     step=self.row_step())

    def log_checkpoint(self, path: Path, aliases: Sequence[str]) -> None:
        """A checkpoint just saved at `path` (`aliases`: `last`, and `best` when val/top1 improved):
        a new version of the model artifact as `log_model` says (`last`: once, at finish)."""
        if self.log_model == "all":
            self.log_artifact(path, aliases)
        elif self.log_model == "best" and "best" in aliases:
            self.log_artifact(path, ["best"])
        elif self.log_model == "last":
            self.last_checkpoint = (path, list(aliases))

    def log_artifact(self, path: Path, aliases: list[str]) -> None:
        """Version `path` in the model artifact `model-<run id>`: W&B copies the file now (offline,
        into its staging dir until `wandb sync` uploads it), so later saves do not change it."""
        import wandb

        artifact = wandb.Artifact(f"model-{self.run.id}", type="model", metadata={"epoch": self.epoch})
        artifact.add_file(str(path), name=ARTIFACT_FILE)
        self.run.log_artifact(artifact, aliases=aliases)

    def summary(self, values: dict[str, Any]) -> None:
        self.run.summary.update(values)

    def finish(self, status: str) -> None:
        """Close the run; a failed or interrupted run is marked failed in W&B."""
        if self.last_checkpoint is not None:
            self.log_artifact(*self.last_checkpoint)
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status == "completed" else 1)


def run_tags(tags: Sequence[str]) -> list[str]:
    """`logger.tags`, then the experiment preset's name (`experiment=NAME`), each once: the runs
    table filters and groups by tags."""
    experiment = HydraConfig.get().runtime.choices.get("experiment")
    return list(dict.fromkeys([*tags, *([experiment] if experiment else [])]))


def build_loggers(cfg: DictConfig, run_dir: Path, config: dict[str, Any], run_id: str | None,
                  global_step: int = 0, epoch: int = 0, class_names: Sequence[str] = ()) -> list[Any]:
    """The W&B logger (none with logger=none), continuing `run_id` when given from where
    training stands (`global_step`, `epoch`)."""
    if not cfg.logger.get("_target_"):  # logger=none leaves no target
        return []
    identity = {k: v for k, v in job_identity().items() if cfg.logger.get(k) is None}
    if run_id:
        identity["run_id"] = run_id
    return [instantiate(cfg.logger, _partial_=True)(run_dir=run_dir, run_config=config, global_step=global_step,
                                                     epoch=epoch, tags=run_tags(cfg.logger.get("tags") or []),
                                                     class_names=class_names, **identity)]
