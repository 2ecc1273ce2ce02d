"""Classify video files: `python -m zelda.predict VIDEO [VIDEO ...] ckpt_path=PATH [--json OUT] [overrides]`.

Arguments containing `=` are overrides (`ckpt_path`, `config_path`, or keys of the training
config, as in zelda.test); the others are video paths. Each video goes through the training
config's val pipeline and the top-5 classes (named by the checkpoint's `data.classes`) are
printed with their probabilities. A file that fails gets a one-line error and the others
still run. Exit status: 0 every file classified, 1 some failed, 2 usage error (no or bad
checkpoint, bad override).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from hydra.utils import instantiate
from torch import nn

from zelda.data.transforms import Compose
from zelda.engine.device import resolve_device
from zelda.errors import user_error
from zelda.runs.predictions import probabilities, top_classes
from zelda.runs.restore import RESTORE_KEYS, class_names, restore


def parse_args(argv: list[str] | None) -> tuple[list[str], list[str], Path | None]:
    """Video paths, overrides (the arguments with `=`) and the --json path."""
    parser = argparse.ArgumentParser(
        prog="python -m zelda.predict", description="Classify video files with a trained checkpoint.",
        epilog="Arguments with '=' are overrides: ckpt_path=PATH (required), config_path=PATH, paths.data_dir=DIR ...")
    parser.add_argument("items", nargs="+", metavar="VIDEO | KEY=VALUE")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON to OUT")
    args = parser.parse_intermixed_args(argv)
    videos = [item for item in args.items if "=" not in item]
    overrides = [item for item in args.items if "=" in item]
    if not videos:
        parser.error("no video given")
    if not any(item.startswith("ckpt_path=") for item in overrides):
        parser.error("ckpt_path=PATH is required (a run's checkpoints/best.pt or last.pt)")
    return videos, overrides, args.json


@torch.no_grad()
def classify(model: nn.Module, pipeline: Callable, video: str, names: Sequence[str],
             average_clips: str | None) -> list[tuple[str, float]]:
    """The top-5 `(class name, probability)` of one video file, best first."""
    item = pipeline({"filename": video, "label": -1})  # no label: VideoPack needs an int
    scores = model(item["inputs"][None], [item["sample"]], mode="predict")
    return top_classes(probabilities(scores.float().cpu(), average_clips), names)[0]


def main(argv: list[str] | None = None) -> int:
    videos, overrides, json_path = parse_args(argv)
    chosen = dict(item.split("=", 1) for item in overrides if item.split("=", 1)[0] in RESTORE_KEYS)
    try:
        restored = restore(chosen["ckpt_path"], [o for o in overrides if o.split("=", 1)[0] not in RESTORE_KEYS],
                           chosen.get("config_path"))
        cfg = restored.cfg
        pipeline, names = Compose(instantiate(cfg.pipeline.val)), class_names(cfg)
        model = restored.model.to(resolve_device(cfg.trainer.device))
    except Exception as error:
        print(f"error: {user_error(error)}", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    for video in videos:
        try:
            best = classify(model, pipeline, video, names, cfg.model.head.average_clips)
        except Exception as error:  # decoders raise several unrelated types; one bad file must not stop the rest
            message = " ".join(f"{type(error).__name__}: {error}".split())
            print(f"ERROR {video}: {message}", file=sys.stderr)
            results.append({"video": video, "error": message})
            continue
        print(video)
        for rank, (name, prob) in enumerate(best, start=1):
            print(f"  {rank}. {name:<24} {prob:.4f}")
        results.append({"video": video, "top": [{"class": name, "prob": prob} for name, prob in best]})
    if json_path:
        report = {"ckpt_path": str(restored.ckpt_path.resolve()), "epoch": restored.epoch, "results": results}
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
