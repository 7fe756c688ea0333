"""Inverted and diversified uncertainty functions of Aggarwal et al., WACV 2020 (§3.2.2, eqs. 4-6).

Inversion (``inv``) ranks the most *certain* samples of the source model M_S first. Diversification
(``div``) assigns every unlabelled sample to its top predicted source class and fills the budget by
cycling over the source classes (in class-id order), taking one sample per class per pass in the
ranked order. Both read only the source model's probabilities ``view.probs``.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView
from benchmark.select.scores import diversify, entropy, least_confidence, margin


class _Ranked(QueryStrategy):
    """Rank by a certainty score of M_S's probabilities, optionally inverted and diversified."""

    version = "1"
    score = staticmethod(entropy)  # larger = more uncertain
    inverted = False
    diversified = False

    def needs(self) -> Needs:
        return Needs(probs=True)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        probs = view.require("probs", type(self).__name__)
        u = self.score(probs)
        key = u if self.inverted else -u  # ascending sort key: uncertain first, or certain first when inverted
        order = np.lexsort((view.unlabelled, key))
        rows = diversify(order, probs.argmax(1), k) if self.diversified else order[:k]
        return view.unlabelled[rows]


@register_method("ent_inv")
class EntropyInverted(_Ranked):
    """ent_inv (WACV §3.2.2): lowest entropy H(x) of M_S first (eq. 1 inverted)."""

    inverted = True


@register_method("ent_div")
class EntropyDiversified(_Ranked):
    """ent^div (WACV §3.2.2): highest entropy first (eq. 1), diversified over predicted source classes."""

    diversified = True


@register_method("ent_inv_div")
class EntropyInvertedDiversified(_Ranked):
    """ent_inv^div (WACV eq. 4): lowest entropy first, diversified over predicted source classes."""

    inverted = diversified = True


@register_method("ms_inv_div")
class MarginInvertedDiversified(_Ranked):
    """ms_inv^div (WACV eq. 5): largest margin max(p) − max₂(p) first, diversified."""

    score = staticmethod(lambda p: -margin(p))
    inverted = diversified = True


@register_method("lc_inv_div")
class LeastConfidenceInvertedDiversified(_Ranked):
    """lc_inv^div (WACV eq. 6): highest top-1 probability first, diversified."""

    score = staticmethod(least_confidence)
    inverted = diversified = True
