"""What every transform shares: the results dict, the per-sample generator, `Compose`."""

from typing import Any, Callable, Sequence

import numpy as np

Results = dict[str, Any]


def sample_rng(results: Results) -> np.random.Generator:
    """The per-sample generator set by the dataset, so train-time randomness is reproducible."""
    rng = results.get("rng")
    return rng if rng is not None else np.random.default_rng()


class Compose:
    """Apply transforms in order; its repr prints the whole pipeline."""

    def __init__(self, transforms: Sequence[Callable[[Results], Results]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, results: Results) -> Results:
        for transform in self.transforms:
            results = transform(results)
        return results

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"
