"""What the epoch loop tells the outside world, in one place: loggers (metrics.jsonl,
W&B), per-video predictions, checkpoint artifacts, the run's summary, bad_videos.txt and
test_metrics.json. The loop calls it at fixed points; it knows nothing of training."""

import logging
from pathlib import Path
from typing import Any, Sequence

from zelda.engine.state import EpochProgress
from zelda.runs.records import record_skipped, write_json
from zelda.runs.video_scores import ScoreCollector

log = logging.getLogger(__name__)


class Reports:
    """The loggers of a run (`log_step`, `log_epoch`, `log_predictions`, `log_checkpoint`,
    `summary`) and the run dir's files, written by rank 0 (`main_process`)."""

    def __init__(self, loggers: Sequence[Any], run_dir: Path, main_process: bool) -> None:
        self.loggers, self.run_dir, self.main_process = loggers, run_dir, main_process

    def step(self, row: dict[str, Any], global_step: int) -> None:
        for logger in self.loggers:
            logger.log_step(row, global_step)

    def epoch(self, row: dict[str, Any], epoch: int, max_epochs: int, videos: ScoreCollector, best: bool) -> None:
        """The epoch's row; every rank's per-video scores as `best` when val/top1 improved and
        as `final` at the last epoch. Every rank calls it at the same point (a collective)."""
        for logger in self.loggers:
            logger.log_epoch(row, epoch)
        log.info("epoch %d/%d: %s", epoch, max_epochs,
                 ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        whens = [when for when, due in (("best", best), ("final", epoch == max_epochs)) if due]
        if whens:
            scores = videos.gathered()
            for logger in self.loggers:
                for when in whens:
                    logger.log_predictions(scores, epoch, when)

    def checkpoint(self, path: Path, best: bool) -> None:
        """The epoch's `last.pt`, for loggers that keep checkpoints (aliased `last`, and `best`)."""
        for logger in self.loggers:
            logger.log_checkpoint(path, ["last", "best"] if best else ["last"])

    def summary(self, summary: dict[str, Any]) -> None:
        for logger in self.loggers:
            logger.summary({k: v for k, v in summary.items() if k != "final"})

    def merge_progress(self, progress: EpochProgress) -> None:
        """Every rank's losses and skipped videos into `progress` (see `EpochProgress.merge_ranks`);
        rank 0 lists the videos in bad_videos.txt. Every rank calls it at the same point."""
        skipped = progress.merge_ranks()
        if self.main_process:
            record_skipped(skipped, self.run_dir)

    def test_results(self, results: dict[str, float]) -> None:
        """`test/*` to the loggers' summaries and `test_metrics.json`."""
        for logger in self.loggers:
            logger.summary(results)
        if self.main_process:
            write_json(self.run_dir / "test_metrics.json", results)
