"""Softmax-uncertainty sampling (WACV 2020 eqs. 1-3; Settles 2009): entropy, margin, least confidence.

Each scores the unlabelled points from the current model's softmax p(y|x) and takes the k most
uncertain; ties go to the lower pool position.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView, top_k
from benchmark.select.scores import entropy, least_confidence, margin


class _SoftmaxUncertainty(QueryStrategy):
    version = "1"

    def needs(self) -> Needs:
        return Needs(probs=True)

    def uncertainty(self, probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        probs = view.require("probs", type(self).__name__)
        return top_k(self.uncertainty(probs), k, view.unlabelled)


@register_method("entropy")
class EntropySampling(_SoftmaxUncertainty):
    """Max entropy of the predicted class distribution (WACV eq. 1)."""

    def uncertainty(self, probs: np.ndarray) -> np.ndarray:
        return entropy(probs)


@register_method("margin")
class MarginSampling(_SoftmaxUncertainty):
    """Smallest margin between the top two class probabilities (WACV eq. 2)."""

    def uncertainty(self, probs: np.ndarray) -> np.ndarray:
        return -margin(probs)


@register_method("least_confidence")
class LeastConfidenceSampling(_SoftmaxUncertainty):
    """Lowest top-class probability (WACV eq. 3)."""

    def uncertainty(self, probs: np.ndarray) -> np.ndarray:
        return least_confidence(probs)
