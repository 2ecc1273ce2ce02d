"""zelda: a Hydra-configured video action recognition experiment repository."""

import secrets

from omegaconf import OmegaConf

from zelda.data.formats.base import dataset_classes

__version__ = "0.1.0"

# A token drawn once per process, so that two runs or sweeps launched in the same
# second get different directories: `${now:...}_${run_uid:}` in conf/train.yaml.
OmegaConf.register_new_resolver("run_uid", lambda: secrets.token_hex(3), use_cache=True, replace=True)
# Class names travel with the data: conf/data/common/loading.yaml reads data.classes from the
# dataset's format node (data.index), and data.num_classes is their number.
OmegaConf.register_new_resolver("dataset_classes", dataset_classes, replace=True)
OmegaConf.register_new_resolver("len", len, replace=True)
