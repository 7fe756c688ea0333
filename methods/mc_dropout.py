"""Bayesian uncertainty by MC-dropout (Gal, Islam & Ghahramani 2017), the CVPR 2020 FK paper's
uncertainty baselines (§5: varR, max entropy, BALD; Table 1 cost K·N' forward passes).

The task model trains with dropout on (the loop builds it so because these methods declare
``mc_dropout``); K stochastic forward passes give p_k(y|x), k = 1..K.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView, top_k
from benchmark.select.scores import bald, predictive_entropy, variation_ratio


class _MCDropout(QueryStrategy):
    version = "1"
    contract_params = {"samples": 8}
    search_space = {"samples": ("int", 8, 128, "log")}  # albench tune

    def __init__(self, samples: int = 128):
        if samples < 1:
            raise AlbenchError(f"MC-dropout needs samples >= 1, got {samples}.")
        self.samples = samples

    def needs(self) -> Needs:
        return Needs(mc_dropout=self.samples)

    def score(self, samples: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return top_k(self.score(view.require("mc_probs", type(self).__name__)), k, view.unlabelled)


@register_method("varR")
class VariationRatio(_MCDropout):
    """Variation ratio over K MC-dropout passes (Gal et al. 2017; CVPR 2020 'varR (E1, K128)')."""

    def score(self, samples: np.ndarray) -> np.ndarray:
        return variation_ratio(samples)


@register_method("mc_entropy")
class MCMaxEntropy(_MCDropout):
    """Max entropy of the MC-averaged prediction (Gal et al. 2017)."""

    def score(self, samples: np.ndarray) -> np.ndarray:
        return predictive_entropy(samples)


@register_method("bald")
class BALD(_MCDropout):
    """BALD: mutual information between prediction and weights under MC-dropout (Gal et al. 2017)."""

    def score(self, samples: np.ndarray) -> np.ndarray:
        return bald(samples)
