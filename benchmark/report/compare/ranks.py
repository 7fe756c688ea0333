"""Average ranks, the Friedman test and a post-hoc test over blocks, by AUBC (Demšar, "Statistical
Comparisons of Classifiers over Multiple Data Sets", JMLR 7, 2006, §3.2.2).

A *block* is a setting (the method's AUBC averaged over its seeds) or, with few settings, a
(setting, seed) pair (each method's AUBC on that seed: the paired design makes a seed a block too).
``blocks="auto"`` takes settings when there are at least ``MIN_SETTING_BLOCKS`` of them, else
(setting, seed) pairs; the report states which. Ranks are 1 for the highest AUBC (ties share the mean
rank). Friedman's test needs every ranked method in every block: when the suites' settings hold different
methods, the ranks use the largest complete block, the method set M and the settings T that hold all of
M maximising |M|·|T| (at least 3 methods; blocks across 2 or more settings preferred over one setting's
seeds), found exactly over the intersections of the settings' method sets; the methods and settings left
out are listed.

Post-hoc tests: ``nemenyi`` (Demšar eq. in §3.2.2: two methods differ when their average ranks differ
by at least CD = q_α √(k(k+1)/(6N)), q_α the studentized range quantile over √2) or ``wilcoxon``
(Wilcoxon signed-rank test per pair over the blocks, ``scipy.stats.wilcoxon``, p-values adjusted by
Holm's step-down procedure; Benavoli et al., JMLR 2016, recommend it over Nemenyi). Demšar runs the
post-hoc test only when Friedman's rejects; the report shows Friedman's p next to it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.core.errors import CompareError
from benchmark.report.compare import BLOCKS, POSTHOC
from benchmark.report.compare.power import ALPHA

MIN_SETTING_BLOCKS = 5


@dataclass
class Ranks:
    """``scores``: blocks × methods AUBC the ranks come from; ``ranks``: the same shape, 1 = best;
    ``average``: mean rank per method, best first; ``different``: methods × methods, True where the
    post-hoc test separates the pair; ``pvalues``: Holm-adjusted Wilcoxon p-values (``wilcoxon`` only)."""

    blocks: str  # "settings" or "setting × seed"
    scores: pd.DataFrame
    ranks: pd.DataFrame
    average: pd.Series
    friedman_statistic: float
    friedman_p: float
    posthoc: str
    alpha: float
    different: pd.DataFrame
    cd: float | None = None
    pvalues: pd.DataFrame | None = None
    left_out: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def k(self) -> int:
        return self.scores.shape[1]

    @property
    def settings(self) -> list[str]:
        """The settings the blocks come from (the largest complete block's), in order."""
        index = self.scores.index
        names = index.get_level_values(0) if isinstance(index, pd.MultiIndex) else index
        return list(dict.fromkeys(str(s) for s in names))

    def cliques(self) -> list[list[str]]:
        """Maximal runs of methods, consecutive in rank order, that no post-hoc test separates (the
        bars of a critical-difference diagram); runs of one method are not listed."""
        order = list(self.average.index)
        runs: list[tuple[int, int]] = []
        for i in range(len(order)):
            j = i
            while j + 1 < len(order) and not any(self.different.loc[order[a], order[j + 1]] for a in range(i, j + 1)):
                j += 1
            if j > i and not any(a <= i and j <= b for a, b in runs):
                runs.append((i, j))
        return [order[a:b + 1] for a, b in runs]


def nemenyi_cd(k: int, n: int, alpha: float = ALPHA) -> float:
    """Critical difference of the Nemenyi test for k methods over n blocks (Demšar 2006, §3.2.2):
    q_α √(k(k+1)/(6n)), q_α = studentized range quantile (k groups, infinite df) / √2."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n)))


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): the i-th smallest of m is multiplied by m − i + 1,
    made monotone and capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


MAX_CANDIDATES = 100_000  # distinct method sets examined; beyond, the search keeps the best found so far


def largest_complete_block(present: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(settings, methods) of the largest complete block of a settings × methods presence table: the method
    set M (|M| ≥ 3) and every setting holding all of M, maximising first whether there are 2 or more such
    settings, then |M|·|settings|, then |settings|; ties go to the set that sorts first. Every candidate M is
    an intersection of some settings' method sets, so the search runs over that intersection closure. With
    no such M: every setting and the methods they all hold (fewer than 3; the caller refuses)."""
    rows = {s: frozenset(m for m in present.columns if bool(present.loc[s, m])) for s in present.index}
    bases = set(rows.values())
    closure, frontier = set(bases), set(bases)
    while frontier and len(closure) < MAX_CANDIDATES:
        frontier = {a & b for a in frontier for b in bases} - closure
        closure |= frontier

    def holding(methods: frozenset[str]) -> list[str]:
        return [s for s in present.index if methods <= rows[s]]

    candidates = [(m, holding(m)) for m in sorted((m for m in closure if len(m) >= 3), key=lambda m: sorted(m))]
    if not candidates:
        every = list(present.index)
        return every, [m for m in sorted(present.columns) if bool(present[m].all())]
    best, settings = max(candidates, key=lambda c: (len(c[1]) >= 2, len(c[0]) * len(c[1]), len(c[1])))
    return settings, sorted(best)


def block_scores(aubc: pd.DataFrame, blocks: str = "auto") -> tuple[str, pd.DataFrame, list[str]]:
    """(what a block is, blocks × methods AUBC, what was left out) from one AUBC per (setting, method, seed)."""
    if blocks not in BLOCKS:
        raise CompareError(f"blocks must be one of {', '.join(BLOCKS)}, got {blocks!r}")
    left_out: list[str] = []
    per_setting = aubc.groupby(["setting", "method"], sort=False)["aubc"].mean().unstack("method")
    every = list(dict.fromkeys(aubc["setting"]))
    per_setting = per_setting.reindex(every)
    settings, complete = largest_complete_block(per_setting.notna())
    block = f"{len(complete)} methods over {len(settings)} of {len(every)} settings"
    for m in sorted(set(per_setting.columns) - set(complete)):
        left_out.append(f"{m}: in {int(per_setting[m].notna().sum())} of {len(every)} settings; not ranked "
                        f"(the ranks need every method in every block; largest complete block: {block})")
    for s in every:
        if s not in settings:
            lacks = [m for m in complete if pd.isna(per_setting.loc[s, m])]
            left_out.append(f"setting {s} left out of the ranks: it lacks {', '.join(lacks)}" if lacks else
                            f"setting {s} left out of the ranks (largest complete block: {block})")
    per_setting = per_setting.loc[settings]
    if blocks == "auto":
        blocks = "settings" if len(settings) >= MIN_SETTING_BLOCKS else "seeds"
    if blocks == "settings":
        return "settings", per_setting[complete], left_out
    chosen = aubc[aubc["method"].isin(complete) & aubc["setting"].isin(settings)]
    per_seed = chosen.pivot_table(index=["setting", "seed"], columns="method", values="aubc", aggfunc="mean",
                                  sort=False)
    per_seed = per_seed.reindex(columns=complete)
    full = per_seed.dropna()
    if len(full) < len(per_seed):
        gaps = per_seed[per_seed.isna().any(axis=1)]
        left_out.append(f"{len(gaps)} (setting, seed) block(s) lack a ranked method and are left out: "
                        + "; ".join(f"{s} seed {seed}" for s, seed in gaps.index))
    return "setting × seed", full, left_out


def rank_methods(aubc: pd.DataFrame, *, blocks: str = "auto", posthoc: str = "nemenyi",
                 alpha: float = ALPHA) -> Ranks:
    """Average ranks by AUBC, Friedman's test (``scipy.stats.friedmanchisquare``) and the post-hoc test.
    A CompareError when fewer than 3 methods or 2 blocks remain (Friedman's test needs them)."""
    if posthoc not in POSTHOC:
        raise CompareError(f"the post-hoc test must be one of {', '.join(POSTHOC)}, got {posthoc!r}")
    kind, scores, left_out = block_scores(aubc, blocks)
    k, n = scores.shape[1], len(scores)
    if k < 3 or n < 2:
        raise CompareError(f"ranks need at least 3 methods in every setting and 2 blocks; got {k} method(s) "
                           f"over {n} block(s) of kind {kind!r}" + (f" ({'; '.join(left_out)})" if left_out else ""))
    ranks = scores.rank(axis=1, ascending=False, method="average")
    average = ranks.mean(axis=0)
    average = average.loc[sorted(average.index, key=lambda m: (round(float(average[m]), 12), m))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        friedman = stats.friedmanchisquare(*[scores[m].to_numpy(float) for m in scores.columns])
    methods = list(average.index)
    different = pd.DataFrame(False, index=methods, columns=methods)
    cd, pvalues = None, None
    if posthoc == "nemenyi":
        cd = nemenyi_cd(k, n, alpha)
        gap = np.abs(average.to_numpy()[:, None] - average.to_numpy()[None, :])
        separated = gap >= cd - 1e-12
        np.fill_diagonal(separated, False)
        different = pd.DataFrame(separated, index=methods, columns=methods)
    else:
        pairs = [(a, b) for x, a in enumerate(methods) for b in methods[x + 1:]]
        raw = np.array([_wilcoxon_p(scores[a].to_numpy(float), scores[b].to_numpy(float)) for a, b in pairs])
        adjusted = holm(raw)
        pvalues = pd.DataFrame(np.nan, index=methods, columns=methods)
        for (a, b), p in zip(pairs, adjusted):
            pvalues.loc[a, b] = pvalues.loc[b, a] = p
            different.loc[a, b] = different.loc[b, a] = bool(p < alpha)
    return Ranks(kind, scores, ranks, average, float(friedman.statistic), float(friedman.pvalue), posthoc, alpha,
                 different, cd, pvalues, left_out)


def _wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of a − b; 1 when every difference is zero (no evidence)."""
    if np.allclose(a, b, rtol=0, atol=0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.wilcoxon(a, b).pvalue)
