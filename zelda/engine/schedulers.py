"""Learning-rate schedules stepped every iteration, with a linear warmup.

Each is a factory `(optimizer, steps_per_epoch, max_epochs) -> LambdaLR`, built from
YAML with `_partial_: true` so that the trainer supplies what only it knows.
"""

import math
from typing import Callable, Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def with_warmup(decay: Callable[[float], float], warmup_steps: int) -> Callable[[int], float]:
    """Scale the lr linearly from ~0 to 1 over `warmup_steps`, then follow `decay(step)`."""
    return lambda step: (step + 1) / warmup_steps if step < warmup_steps else decay(step)


def warmup_cosine(optimizer: Optimizer, steps_per_epoch: int, max_epochs: int, warmup_epochs: float = 1.0,
                  min_lr_ratio: float = 0.0) -> LambdaLR:
    """Cosine decay to `min_lr_ratio` x lr at the last step, after `warmup_epochs`."""
    warmup, total = int(warmup_epochs * steps_per_epoch), steps_per_epoch * max_epochs

    def cosine(step: int) -> float:
        progress = (step - warmup) / max(1, total - warmup)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return LambdaLR(optimizer, with_warmup(cosine, warmup))


def warmup_step(optimizer: Optimizer, steps_per_epoch: int, max_epochs: int, milestones: Sequence[int] = (),
                gamma: float = 0.1, warmup_epochs: float = 0.0) -> LambdaLR:
    """Multiply the lr by `gamma` at each epoch in `milestones`, after `warmup_epochs`."""
    warmup = int(warmup_epochs * steps_per_epoch)
    return LambdaLR(optimizer, with_warmup(
        lambda step: gamma ** sum(step >= m * steps_per_epoch for m in milestones), warmup))
