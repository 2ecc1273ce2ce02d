"""What a run leaves behind and how it is found again: run-dir records, loggers
(metrics.jsonl, W&B), sweep naming, predictions, restoring a trained model."""
