"""Real kinetics400_tiny clips through the reference pipeline (skipped when absent)."""

import pytest
import torch
from helpers import ROOT, SHARED_DATA
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from zelda.data.loader import build_loader

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "kinetics400_tiny").is_dir(),
    reason=f"real clips not found at {SHARED_DATA / 'kinetics400_tiny'} (they live outside the repo)",
)


@pytest.fixture(scope="module")
def cfg():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="train", overrides=["data=k400_tiny", f"paths.data_dir={SHARED_DATA}"])


def test_train_loader_batches_real_videos(cfg):
    dataset = instantiate(cfg.data.train)
    assert len(dataset) == 49
    batch = next(iter(build_loader(dataset, 2, shuffle=True, num_workers=0, persistent_workers=False, seed=0)))
    assert batch["inputs"].shape == (2, 1, 3, 16, 224, 224) and batch["inputs"].dtype == torch.uint8
    assert {s.label for s in batch["samples"]} <= {0, 1}
    assert batch["inputs"].float().std() > 10  # real content, not blank frames


def test_val_pipeline_is_deterministic_on_real_videos(cfg):
    dataset = instantiate(cfg.data.val, cache_mb=0)  # no cache: the second read decodes again
    assert len(dataset) == 15 and dataset.cache_bytes == 0
    first, again = dataset[0], dataset[0]
    assert not dataset.cache
    assert first["inputs"].shape == (5, 3, 16, 224, 224)
    assert torch.equal(first["inputs"], again["inputs"])
    assert first["sample"].meta == {"img_shape": (224, 224), "num_clips": 5, "clip_len": 16, "num_crops": 1}
