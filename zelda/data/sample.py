"""The record that travels with each clip tensor from the pipeline to the metrics."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DataSample:
    """Label and meta of one video; `skipped` lists (filename, error) of videos replaced by it."""

    label: int
    filename: str
    meta: dict[str, Any] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
