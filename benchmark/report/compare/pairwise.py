"""The pairwise penalty matrix of Ash et al., "Deep Batch Active Learning by Diverse, Uncertain
Gradient Lower Bounds" (BADGE, ICLR 2020), §5 "Pairwise comparisons".

For every setting and every labelled-set size, a two-sided paired t-test across seeds
(``scipy.stats.ttest_rel``) compares the balanced accuracy of methods i and j; when i is better and
p < α, ``P[i, j]`` gains 1/L, L being the number of labelled-set sizes of that setting, so that every
setting weighs the same (at most 1 per setting and pair). Rows are winners, columns losers; a column's
sum says how often a method is beaten (lower is better).

Labelled-set sizes are the rounds after a selection (round ≥ 1): round 0's labelled set is the same
for every method of a setting (the paired design), so it cannot separate them. A pair is tested on
the seeds both methods have; a (setting, pair) with fewer than ``min_seeds`` common seeds is skipped
and listed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.report.compare.power import ALPHA

MIN_SEEDS = 3


@dataclass
class Penalty:
    """``matrix``: winners × losers (method labels), diagonal 0; ``skipped``: (setting, i, j, common
    seeds) for pairs not tested; ``settings``: the settings that contributed at least one test."""

    matrix: pd.DataFrame
    skipped: list[tuple[str, str, str, int]] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)

    @property
    def beaten(self) -> pd.Series:
        """Column-wise sum: how often each method is beaten (lower is better)."""
        return self.matrix.sum(axis=0)

    def ordered(self) -> pd.DataFrame:
        """The matrix with methods in order of ``beaten`` (least beaten first; ties by label)."""
        order = sorted(self.matrix.columns, key=lambda m: (round(float(self.beaten[m]), 12), m))
        return self.matrix.loc[order, order]


def _wins(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per round (columns of the seeds × rounds arrays): (a beats b, b beats a) by a two-sided
    paired t-test at ``alpha``. Identical values give no p-value and no win."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant differences: precision warning only
        res = stats.ttest_rel(a, b, axis=0)
    t, p = np.atleast_1d(res.statistic), np.atleast_1d(res.pvalue)
    significant = np.isfinite(p) & (p < alpha)
    return significant & (t > 0), significant & (t < 0)


def penalty_matrix(rounds: pd.DataFrame, *, alpha: float = ALPHA, min_seeds: int = MIN_SEEDS,
                   metric: str = "balanced_accuracy") -> Penalty:
    """``rounds``: one row per (setting, method, seed, round) with ``metric`` (``data.CompareData.rounds``)."""
    methods = sorted(rounds["method"].unique())
    matrix = pd.DataFrame(0.0, index=pd.Index(methods, name="winner"), columns=pd.Index(methods, name="loser"))
    skipped: list[tuple[str, str, str, int]] = []
    contributed: list[str] = []
    for setting, s in rounds[rounds["round"] >= 1].groupby("setting", sort=False):
        sizes = sorted(s["round"].unique())
        weight = 1.0 / len(sizes)
        wide = {m: g.pivot(index="seed", columns="round", values=metric).reindex(columns=sizes)
                for m, g in s.groupby("method", sort=True)}
        names = sorted(wide)
        tested = False
        for x, i in enumerate(names):
            for j in names[x + 1:]:
                common = wide[i].index.intersection(wide[j].index)
                if len(common) < min_seeds:
                    skipped.append((str(setting), i, j, len(common)))
                    continue
                a, b = wide[i].loc[common].to_numpy(float), wide[j].loc[common].to_numpy(float)
                i_wins, j_wins = _wins(a, b, alpha)
                matrix.loc[i, j] += weight * int(i_wins.sum())
                matrix.loc[j, i] += weight * int(j_wins.sum())
                tested = True
        if tested:
            contributed.append(str(setting))
    return Penalty(matrix, skipped, contributed)
