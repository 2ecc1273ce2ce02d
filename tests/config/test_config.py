"""Every config group composes and builds; the documented overrides reach their targets."""


import pytest
import torch
from helpers import ROOT, TINY_DATA
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from zelda.data.dataset import build_dataset
from zelda.data.synthetic import CLASSES

GROUPS = {
    group: sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))
    for group in ("data", "pipeline", "model", "optimizer", "trainer", "logger", "paths")
}


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def resolve_without_data(cfg) -> None:
    """Resolve every key; the classes, read from a dataset that is not here, are given
    (reading them is tested in tests/data/test_formats.py)."""
    cfg.data.classes = ["a", "b"]
    OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("group,option", [(g, o) for g, options in GROUPS.items() for o in options])
def test_every_group_option_composes_and_resolves(group, option):
    resolve_without_data(config(f"{group}={option}"))


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml")))
def test_every_experiment_composes(experiment):
    resolve_without_data(config(f"experiment={experiment}"))


def test_tuned_preset_changes_only_the_training_recipe():
    """The tuned kinetics400_tiny preset keeps the reference model and validation sampling."""
    reference, tuned = config("experiment=zelda_k400_tiny"), config("experiment=zelda_k400_tiny_tuned")
    assert tuned.model == reference.model and tuned.data.index == reference.data.index
    for key in ("clip_len", "frame_interval", "val_num_clips"):
        assert tuned.pipeline[key] == reference.pipeline[key]
    assert (tuned.data.batch_size, tuned.trainer.max_epochs, tuned.pipeline.crop_size) == (8, 30, 112)


def test_defaults_are_the_synthetic_data_with_the_small_pipeline(tmp_path):
    cfg = config()
    assert cfg.data.name == "synthetic" and cfg.pipeline.clip_len == 8 and cfg.pipeline.crop_size == 112
    assert (cfg.optimizer.lr, cfg.trainer.max_epochs) == (0.001, 4)  # the data option's recipe beats the groups'
    assert config("optimizer.lr=0.1", "trainer.max_epochs=2").optimizer.lr == 0.1  # and the command line beats it
    cfg = config(*TINY_DATA, f"paths.data_dir={tmp_path}")
    instantiate(cfg.data.prepare)  # generates it; its label_map.txt names the classes
    assert list(cfg.data.classes) == list(CLASSES)
    assert cfg.model.head.num_classes == cfg.data.num_classes == len(CLASSES)  # one output per generated class


def test_building_a_dataset_leaves_its_config_following_paths_data_dir(tmp_path):
    """Hydra's instantiate would resolve the shared `data.index` in the caller's config; a copy
    re-rooted afterwards must read the new place, not the old one."""
    cfg = config(*TINY_DATA, f"paths.data_dir={tmp_path / 'a'}")
    instantiate(cfg.data.prepare)
    assert len(build_dataset(cfg.data.train)) == cfg.data.prepare.num_train
    moved = OmegaConf.merge(cfg, {"paths": {"data_dir": str(tmp_path / "b")}})
    assert moved.data.train.index.root == str(tmp_path / "b" / "synthetic")


def test_k400_tiny_is_the_reference_recipe():
    cfg = config("model=zelda", "data=k400_tiny")
    assert (cfg.pipeline.clip_len, cfg.pipeline.resize, cfg.pipeline.crop_size) == (16, 256, 224)
    assert (cfg.pipeline.num_clips, cfg.pipeline.val_num_clips, cfg.data.batch_size) == (1, 5, 2)
    assert cfg.optimizer._target_ == "torch.optim.Adam" and cfg.optimizer.lr == 0.01
    assert cfg.trainer.max_epochs == 10 and cfg.trainer.val_interval == 1


def test_clip_len_feeds_train_and_val_samplers():
    cfg = config("data=k400_tiny", "pipeline.clip_len=8")
    samplers = [t for split in ("train", "val") for t in cfg.pipeline[split] if t._target_.endswith("VideoSample")]
    assert [(s.clip_len, s.num_clips, s.test_mode) for s in samplers] == [(8, 1, False), (8, 5, True)]
    assert cfg.data.train.pipeline[1].clip_len == cfg.data.val.pipeline[1].clip_len == 8


def test_num_classes_reaches_the_head():
    cfg = config("data=k400_tiny", "data.num_classes=7")
    model = instantiate(cfg.model)
    assert model.head.fc.out_features == 7


def test_documented_overrides_reach_their_objects(tmp_path):
    cfg = config(
        "optimizer=sgd", "optimizer.lr=0.001", "trainer.max_epochs=2", "data.batch_size=4",
        "data.num_workers=2", "seed=3", "logger=none", f"paths.data_dir={tmp_path}",
    )
    optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["lr"] == 0.001
    assert instantiate(cfg.trainer).max_epochs == 2
    assert (cfg.data.batch_size, cfg.data.val_batch_size, cfg.data.num_workers, cfg.seed) == (4, 4, 2, 3)
    assert not cfg.logger.get("_target_")
    assert cfg.data.root == f"{tmp_path}/synthetic"


def test_data_dir_defaults_to_data_and_follows_the_environment(monkeypatch):
    monkeypatch.delenv("ZELDA_DATA_DIR", raising=False)
    assert config().paths.data_dir == "data"
    monkeypatch.setenv("ZELDA_DATA_DIR", "/somewhere/datasets")
    assert config("data=k400_tiny").data.root == "/somewhere/datasets/kinetics400_tiny"


def test_pipeline_objects_build_from_yaml():
    cfg = config("data=k400_tiny")
    transforms = instantiate(cfg.pipeline.val)
    assert [type(t).__name__ for t in transforms] == [
        "VideoInit", "VideoSample", "VideoDecode", "VideoResize", "VideoCrop", "VideoFormat", "VideoPack"]
    assert transforms[1].test_mode and transforms[1].num_clips == 5
