"""Random sampling: the baseline every leaderboard reports its gap to."""
from __future__ import annotations

import numpy as np

from benchmark.core.registry import register_method
from benchmark.select.api import QueryStrategy, SelectionView


@register_method("random")
class RandomSampling(QueryStrategy):
    """k unlabelled points uniformly at random, without replacement."""

    version = "1"

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(view.unlabelled, k, replace=False)
