"""What a run shows in W&B for comparing runs, read back from the offline run files (never a
mock): runs-table summaries and tags, per-video predictions tables, confusion matrices and
checkpoint artifacts."""

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import TINY_DATA, read_wandb_run, run_cli

from zelda.runs.loggers import WandbLogger

EPOCHS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """One tiny run of the preset `lr_clip_sweep` with its own tag and `logger.log_model=best`:
    the run dir, its W&B run and its metrics.jsonl rows."""
    tmp = tmp_path_factory.mktemp("wandb")
    run_dir = tmp / "run"
    result = run_cli("zelda.train", *TINY_DATA, "pipeline.clip_len=4", f"trainer.max_epochs={EPOCHS}",
                     "experiment=lr_clip_sweep", "logger.tags=[smoke]", "logger.log_model=best",
                     f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={run_dir}",
                     env={"WANDB_DATA_DIR": str(tmp / "wandb_data")})  # artifact staging stays in the test's dir
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return run_dir, read_wandb_run(run_dir), rows


def improving_epochs(rows: list[dict[str, Any]]) -> list[int]:
    """Epochs whose val/top1 beat every earlier one: where best.pt was written."""
    epochs, best = [], -1.0
    for row in rows:
        if row["val/top1"] > best:
            epochs.append(row["epoch"])
            best = row["val/top1"]
    return epochs


def table(wandb: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The rows of the table the summary's `key` points to, from its file in the offline run."""
    stored = json.loads((wandb["files"] / wandb["summary"][key]["path"]).read_text())
    return [dict(zip(stored["columns"], row)) for row in stored["data"]]


def class_names(run_dir: Path) -> list[str]:
    return (run_dir.parent / "data" / "synthetic" / "label_map.txt").read_text().splitlines()


def test_runs_table_shows_best_and_final_top1_and_lowest_train_loss(trained):
    _, wandb, rows = trained
    top1 = [row["val/top1"] for row in rows]
    assert wandb["summary"]["val/top1"] == {"max": pytest.approx(max(top1)), "last": pytest.approx(top1[-1])}
    losses = [row["train/loss"] for row in wandb["history"] if "train/loss" in row]
    assert wandb["summary"]["train/loss"]["min"] == pytest.approx(min(losses))
    epoch_losses = [row["train/loss"] for row in rows]
    assert wandb["summary"]["epoch/train/loss"]["min"] == pytest.approx(min(epoch_losses))


def test_tags_hold_the_experiment_preset_and_logger_tags(trained):
    _, wandb, _ = trained
    assert wandb["run"]["tags"] == ["smoke", "lr_clip_sweep"]


def test_final_predictions_table_names_classes_and_scores_each(trained):
    run_dir, wandb, _ = trained
    names = class_names(run_dir)
    predictions = table(wandb, "final/predictions")
    annotations = (run_dir.parent / "data" / "synthetic" / "synthetic_val_video.txt").read_text().split("\n")
    expected = {line.split()[0]: names[int(line.split()[1])] for line in annotations if line.strip()}
    assert {row["video"]: row["true"] for row in predictions} == expected
    assert list(predictions[0]) == ["video", "true", "predicted", *(f"score/{name}" for name in names), "correct"]
    for row in predictions:
        scores = [row[f"score/{name}"] for name in names]
        assert row["predicted"] == names[scores.index(max(scores))]
        assert row["correct"] == (row["predicted"] == row["true"])
    final_top1 = [row for row in wandb["history"] if "val/top1" in row][-1]["val/top1"]
    assert sum(row["correct"] for row in predictions) / len(predictions) == pytest.approx(final_top1)
    with (run_dir / "predictions_final.csv").open() as file:  # the same predictions without W&B
        written = {row["filename"]: (row["label"], row["pred1"]) for row in csv.DictReader(file)}
    assert written == {row["video"]: (row["true"], row["predicted"]) for row in predictions}


def test_confusion_matrix_counts_the_predictions_by_class_name(trained):
    run_dir, wandb, _ = trained
    names = class_names(run_dir)
    matrix = table(wandb, "final/confusion_matrix_table")
    assert {(row["Actual"], row["Predicted"]) for row in matrix} == {(a, p) for a in names for p in names}
    counts = Counter((row["true"], row["predicted"]) for row in table(wandb, "final/predictions"))
    assert {(row["Actual"], row["Predicted"]): row["nPredictions"] for row in matrix} == \
        {(a, p): counts[a, p] for a in names for p in names}
    [panel] = [update["_wandb.visualize.final/confusion_matrix"] for update in wandb["config_updates"]
               if "_wandb.visualize.final/confusion_matrix" in update]
    assert panel["panel_config"]["panelDefId"] == "wandb/confusion_matrix/v1"


def test_best_predictions_logged_when_val_top1_improves_final_at_the_last_epoch(trained):
    _, wandb, rows = trained
    logged = {key: [row["epoch"] for row in wandb["history"] if f"{key}._type" in row]
              for key in ("best/predictions", "best/confusion_matrix_table", "final/predictions")}
    assert logged == {"best/predictions": improving_epochs(rows), "best/confusion_matrix_table": improving_epochs(rows),
                      "final/predictions": [EPOCHS]}


def test_log_model_best_logs_best_pt_as_an_artifact_aliased_best(trained):
    run_dir, wandb, rows = trained
    models = [artifact for artifact in wandb["artifacts"] if artifact["type"] == "model"]
    assert [set(artifact["aliases"]) - {"latest"} for artifact in models] == [{"best"}] * len(improving_epochs(rows))
    assert {artifact["name"] for artifact in models} == {f"model-{wandb['run_id']}"}
    [entry] = models[-1]["manifest"]["contents"]
    staged = torch.load(entry["local_path"], weights_only=True)  # what `wandb sync` uploads
    best = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)
    assert staged["epoch"] == best["epoch"] == wandb["summary"]["best/epoch"]
    assert json.loads(models[-1]["metadata"])["epoch"] == best["epoch"]


CHECKPOINTS = [(1, True), (2, True), (3, False)]  # (epoch, improved val/top1)


@pytest.mark.parametrize("log_model,expected", [
    (False, []),
    ("last", [(3, {"last"})]),  # once, at the end
    ("best", [(1, {"best"}), (2, {"best"})]),
    ("all", [(1, {"best", "last"}), (2, {"best", "last"}), (3, {"last"})]),
])
def test_log_model_chooses_the_checkpoints_that_become_artifact_versions(tmp_path, monkeypatch, log_model, expected):
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
    logger = WandbLogger(tmp_path, {}, mode="offline", log_model=log_model, class_names=["left", "right"])
    path = tmp_path / "last.pt"
    for epoch, improved in CHECKPOINTS:
        logger.log_epoch({"val/top1": 0.5}, epoch)
        torch.save({"epoch": epoch}, path)
        logger.log_checkpoint(path, ["last", "best"] if improved else ["last"])
    logger.finish("completed")
    models = [artifact for artifact in read_wandb_run(tmp_path)["artifacts"] if artifact["type"] == "model"]
    logged = [(torch.load(artifact["manifest"]["contents"][0]["local_path"], weights_only=True)["epoch"],
               set(artifact["aliases"]) - {"latest"}) for artifact in models]
    assert logged == expected


def test_an_unknown_log_model_is_refused_before_a_wandb_run_starts(tmp_path):
    with pytest.raises(ValueError, match="logger.log_model"):
        WandbLogger(tmp_path, {}, mode="offline", log_model="every")
    assert not (tmp_path / "wandb").exists()
