"""One seed for python, numpy and torch."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed every global RNG; loader workers derive theirs from the sampler's keys."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
