"""Deep-ensemble uncertainty (Beluch et al., CVPR 2018), the CVPR 2020 FK paper's 'varR (E4)'.

E task models are trained every round (member 0 is the task model every method shares; members
1..E−1 start from their own seeds, so their training lands in the *train* phase: 2·E·I·N^b passes,
Table 1). Each member predicts the pool once (E·N' forward passes, dropout off); the variation
ratio over the E members' votes ranks it.

Differs from Beluch et al. in one reported number: the test accuracy is that of member 0, the same
single model every other method is scored with, so the leaderboard compares selections, not an
ensemble against single models. ``first_round: random`` draws round 0's batch at random, as the FK
paper's code does for its ensemble baseline.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView, check_first_round, top_k
from benchmark.select.scores import variation_ratio


@register_method("ensemble_varR")
class EnsembleVariationRatio(QueryStrategy):
    """Variation ratio over the votes of E independently initialised ensemble members."""

    version = "1"
    search_space = {"members": ("int", 2, 8)}  # albench tune

    def __init__(self, members: int = 4, first_round: str = "method"):
        if members < 2:
            raise AlbenchError(f"ensemble_varR: an ensemble needs at least 2 members, got {members}.")
        self.members = members
        self.first_round = check_first_round(first_round, "ensemble_varR")

    def needs(self) -> Needs:
        return Needs(ensemble=self.members)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        votes = view.require("ensemble_probs", "ensemble_varR")
        return top_k(variation_ratio(votes), k, view.unlabelled)
