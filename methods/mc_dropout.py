"""Bayesian uncertainty by MC-dropout (Gal, Islam & Ghahramani 2017), the CVPR 2020 FK paper's
uncertainty baselines (§5: varR, max entropy, BALD; Table 1 cost K·N' forward passes).

The task model is built with dropout (these methods declare ``mc_dropout``) and trains with it on,
unless the recipe sets ``train_dropout: false`` (the FK paper's code: trained without dropout, MC
passes at inference only); K stochastic forward passes give p_k(y|x), k = 1..K. ``first_round:
random`` draws round 0's batch at random, as the FK paper's code does for these baselines.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView, check_first_round, top_k
from benchmark.select.scores import bald, predictive_entropy, variation_ratio


class _MCDropout(QueryStrategy):
    version = "2"  # 2: the K passes drawn as one batched forward (other dropout masks for a seed)
    contract_params = {"samples": 8}
    search_space = {"samples": ("int", 8, 128, "log")}  # albench tune

    def __init__(self, samples: int = 128, first_round: str = "method"):
        if samples < 1:
            raise AlbenchError(f"MC-dropout needs samples >= 1, got {samples}.")
        self.samples = samples
        self.first_round = check_first_round(first_round, type(self).__name__)

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
