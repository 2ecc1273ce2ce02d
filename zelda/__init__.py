"""zelda: a Hydra-configured video action recognition experiment repository."""

import secrets

from omegaconf import OmegaConf

__version__ = "0.1.0"

# A token drawn once per process, so that two runs or sweeps launched in the same
# second get different directories: `${now:...}_${run_uid:}` in conf/train.yaml.
OmegaConf.register_new_resolver("run_uid", lambda: secrets.token_hex(3), use_cache=True, replace=True)
