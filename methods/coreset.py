"""Core-set (Sener & Savarese 2018; WACV 2020 eq. 7): greedy k-center on learner features."""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import (
    Needs,
    QueryStrategy,
    SelectionView,
    check_embedding,
    embedding_needs,
    selection_space,
)
from benchmark.select.kcenter import greedy_k_center


@register_method("coreset")
class CoreSet(QueryStrategy):
    """Greedy k-center (the 2-approximation of Sener & Savarese's Alg. 1, without their robust MIP step)
    over ``embedding: learner`` (default): pooled features of the task model's ``layers`` (default: its
    penultimate layer), or ``embedding: self_supervised``: the pool's self-supervised embedding
    (``benchmark.learn.contrastive``, Euclidean distances as they come). The labelled set is the
    initial center set; with none, the first center is random. Memory stays O(N·d): no N×N distance
    matrix is formed (see ``benchmark.select.kcenter``)."""

    version = "1"

    def __init__(self, layers: list[str] | None = None, embedding: str = "learner"):
        self.embedding = check_embedding(embedding, "coreset")
        if layers and self.embedding != "learner":
            raise AlbenchError("coreset: layers picks the task model's layers; it needs embedding: learner, "
                               f"got embedding: {embedding!r}.")
        self.layers = layers

    def needs(self) -> Needs:
        return embedding_needs(self.embedding,
                               Needs(features=True, feature_layers=tuple(self.layers) if self.layers else None))

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        feats, labelled = selection_space(view, self.embedding, "features", "coreset")
        picks = greedy_k_center(feats, k, centers=labelled, rng=rng)
        return view.unlabelled[picks]
