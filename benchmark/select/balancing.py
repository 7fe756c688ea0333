"""The WACV 2020 balancing step (§3.3) as a wrapper around any acquisition function: ``<method>+bal``.

Discovery: points are labelled one at a time in the order the wrapped function ranks them, through
the oracle. After each label (m labels so far, budget b) the switch rule of eq. 8 is tested:

    b − m ≤ c_ur × (μ(or) − μ(ur))

with classes under- (ur) or over-represented (or) with respect to the mean count of the classes
discovered so far, c_ur the number of under-represented classes and μ(·) the mean count of each
group. Once switched, every next label goes to the rarest under-represented class u by eq. 9:

    x_next = argmin_x  d(μ_u, F_S(x)) / max_{j ∈ or} d(μ_j, F_S(x))

(L2 distances to the labelled class means in source-feature space), and the class means and counts
are updated after every label. The paper writes "≪" in eq. 8; the issue and the text ("the switch is
linked to the imbalance profile") give "≤", which is what we use.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark.core.registry import METHODS
from benchmark.select.api import Needs, QueryStrategy, SelectionView


def should_switch(counts: np.ndarray, budget: int, labelled: int) -> bool:
    """Eq. 8 on the class counts of the labelled set (zeros = undiscovered classes, ignored)."""
    found = counts[counts > 0]
    if len(found) < 2:
        return False
    mean = found.mean()
    under, over = found[found < mean], found[found >= mean]
    if len(under) == 0:
        return False
    return budget - labelled <= len(under) * (over.mean() - under.mean())


def balancing_scores(features: np.ndarray, means: dict[int, np.ndarray], target: int, over: list[int]) -> np.ndarray:
    """Eq. 9 ratio for every row of ``features`` (smaller = picked first)."""
    d_target = np.linalg.norm(features - means[target], axis=1)
    d_over = np.max(np.stack([np.linalg.norm(features - means[j], axis=1) for j in over]), axis=0)
    return d_target / np.maximum(d_over, 1e-12)


class Balanced(QueryStrategy):
    """Discovery with the wrapped acquisition function, then balancing (WACV 2020 §3.3, eqs. 8-9)."""

    base_name = ""
    base_factory: Callable[..., QueryStrategy]

    def __init__(self, **params: Any):
        self.params = params
        self._base = self.base_factory(**params)
        self.uses_hidden_labels = getattr(self._base, "uses_hidden_labels", False)

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)

    def needs(self) -> Needs:
        base = self._base.needs()
        return Needs(**{**base.__dict__, "features": True, "oracle": True})

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        reveal = view.reveal
        feats = np.asarray(view.require("features", f"{self.base_name}+bal"), dtype=np.float64)
        position = {int(p): i for i, p in enumerate(view.unlabelled)}
        ranked = iter([position[int(p)] for p in self._base.select(view, k, rng)])  # discovery order (rows)
        counts = np.zeros(view.num_classes, dtype=np.int64)
        sums = np.zeros((view.num_classes, feats.shape[1]))
        free = np.ones(len(view.unlabelled), dtype=bool)
        picks: list[int] = []
        switched_at = None
        while len(picks) < k:
            if switched_at is None and should_switch(counts, k, len(picks)):
                switched_at = len(picks)
            found = np.flatnonzero(counts > 0)
            under = [int(c) for c in found if counts[c] < counts[found].mean()] if switched_at is not None else []
            over = [int(c) for c in found if c not in under]
            if under and over:  # eq. 9 for the rarest under-represented class
                target = min(under, key=lambda c: (counts[c], c))
                means = {c: sums[c] / counts[c] for c in [target] + over}
                cand = np.flatnonzero(free)
                row = int(cand[np.argmin(balancing_scores(feats[cand], means, target, over))])
            else:  # discovery; also when balancing left no class under the mean
                switched_at = None
                # the base ranked k rows and at most len(picks) < k of them are taken: one is always left
                row = next(r for r in ranked if free[r])
            point = int(view.unlabelled[row])
            label = int(reveal(np.array([point]))[0])
            free[row] = False
            counts[label] += 1
            sums[label] += feats[row]
            picks.append(point)
        self.switched_at_ = switched_at
        return np.asarray(picks, dtype=np.int64)


def _wrap(name: str, factory: Callable[..., QueryStrategy]) -> type:
    doc = (f"{name} with the WACV 2020 balancing step (§3.3, eqs. 8-9): discovery by {name}, then labels "
           f"for the rarest under-represented class closest to its mean in source-feature space.")
    return type(f"Balanced_{name}", (Balanced,), {
        "base_name": name, "base_factory": staticmethod(factory), "__doc__": doc,
        "version": f"bal1-{getattr(factory, 'version', '1')}", "registered_name": f"{name}+bal"})


def _labels_in_order(factory: Callable[..., QueryStrategy]) -> bool:
    """+bal labels the base ranking one point at a time; a base that labels inside its own select
    (GALAXY) would be asked for labels twice."""
    try:
        return not factory().needs().oracle
    except Exception:  # a base whose defaults cannot be built is judged when it is created
        return True


METHODS.register_suffix("+bal", _wrap, applies=_labels_in_order)
