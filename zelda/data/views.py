"""Test-time views: a dataset config whose val pipeline takes more clips and crops per video."""

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from zelda.data.transforms import VideoCrop, VideoSample
from zelda.data.transforms.crops import CROPS
from zelda.errors import ZeldaError

SPLITS = ("val", "test")


def view_pipeline(pipeline: ListConfig, num_clips: int | None, crops: str) -> ListConfig:
    """A copy of a (val) pipeline config taking `num_clips` clips (None: as configured) and
    `crops` windows (`center`, `three` or `ten`) of every video."""
    if num_clips is not None and (not isinstance(num_clips, int) or num_clips < 1):
        raise ZeldaError(f"test.num_clips={num_clips!r}: must be an integer >= 1 (or null for pipeline.val_num_clips)")
    if crops not in CROPS:
        raise ZeldaError(f"test.crops={crops!r}: must be one of {', '.join(CROPS)}")
    steps = OmegaConf.create(OmegaConf.to_container(pipeline, resolve=True))
    classes = [get_object(step["_target_"]) if step.get("_target_") else None for step in steps]
    for transform, key, value in ((VideoSample, "num_clips", num_clips), (VideoCrop, "crops", crops)):
        if transform not in classes:
            raise ZeldaError(f"pipeline.val has no {transform.__name__}, so its {key} cannot be set for testing")
        if value is not None:
            steps[classes.index(transform)][key] = value
    return steps


def split_dataset(cfg: DictConfig, split: str, num_clips: int | None, crops: str) -> DictConfig:
    """The `data.<split>` dataset config, reading videos through the test-time views of `pipeline.val`."""
    if split not in SPLITS:
        raise ZeldaError(f"split={split!r}: must be one of {', '.join(SPLITS)}")
    if OmegaConf.select(cfg, f"data.{split}") is None:
        raise ZeldaError(f"split={split}: the training config defines no data.{split}; add a data.{split} "
                         f"node (like data.val, with its own split of data.index) or use split=val")
    node = cfg.data[split]
    node.pipeline = view_pipeline(cfg.pipeline.val, num_clips, crops)
    return node
