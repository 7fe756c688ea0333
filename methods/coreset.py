"""Core-set (Sener & Savarese 2018; WACV 2020 eq. 7): greedy k-center on learner features."""
from __future__ import annotations

import numpy as np

from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView
from benchmark.select.kcenter import greedy_k_center


@register_method("coreset")
class CoreSet(QueryStrategy):
    """Greedy k-center (the 2-approximation of Sener & Savarese's Alg. 1, without their robust MIP step)
    over pooled features of ``layers`` (default: the model's penultimate layer). The labelled set
    is the initial center set; with none, the first center is random. Memory stays O(N·d): no
    N×N distance matrix is formed (see ``benchmark.select.kcenter``)."""

    version = "1"

    def __init__(self, layers: list[str] | None = None):
        self.layers = layers

    def needs(self) -> Needs:
        return Needs(features=True, feature_layers=tuple(self.layers) if self.layers else None)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        feats = view.require("features", "coreset")
        picks = greedy_k_center(feats, k, centers=view.labelled_features, rng=rng)
        return view.unlabelled[picks]
