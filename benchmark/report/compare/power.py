"""Seeds advice: how many seeds a two-sided paired t-test needs to separate two methods at a given
power, from their observed per-seed differences (Cohen, "Statistical Power Analysis for the
Behavioral Sciences", 1988, ch. 2; the power of the one-sample t-test on the differences).

With n seeds, effect size d_z = mean(δ) / sd(δ) and critical value c = t_{1-α/2, n-1}, the power is
P(|T| > c) for T following the noncentral t distribution with n − 1 degrees of freedom and
noncentrality d_z √n (``scipy.stats.nct``). The seeds needed are the smallest n ≥ 2 whose power
reaches the target. The observed d_z is itself an estimate: the advice says which orderings the data
can carry, not a guarantee.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 0.05  # every test of albench compare (pairwise t-tests, ranks, power)
POWER = 0.8
MAX_SEEDS = 100_000


def paired_t_power(effect: float, n: int, alpha: float = ALPHA) -> float:
    """Power of a two-sided paired t-test at ``alpha`` with n pairs and effect size d_z = ``effect``."""
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {n}")
    df = n - 1
    c = stats.t.ppf(1 - alpha / 2, df)
    nc = abs(effect) * np.sqrt(n)
    power = stats.nct.sf(c, df, nc) + stats.nct.cdf(-c, df, nc)
    if not np.isfinite(power):  # scipy's nct fails far in the tail (large df and nc): T is normal there
        power = stats.norm.sf(c - nc) + stats.norm.cdf(-c - nc)
    return float(power)


def seeds_needed(effect: float, *, alpha: float = ALPHA, power: float = POWER, max_seeds: int = MAX_SEEDS) -> float:
    """Smallest n ≥ 2 with ``paired_t_power(effect, n) >= power``; ``inf`` for a zero effect or beyond
    ``max_seeds``; 2 for an infinite effect (every seed differs by the same amount)."""
    if not np.isfinite(effect):
        return 2.0 if np.isinf(effect) else float("nan")
    if effect == 0:
        return float("inf")
    lo, hi = 2, 2  # power grows with n: double until it reaches the target, then bisect
    while paired_t_power(effect, hi, alpha) < power:
        if hi >= max_seeds:
            return float("inf")
        lo, hi = hi + 1, min(2 * hi, max_seeds)
    while lo < hi:
        mid = (lo + hi) // 2
        if paired_t_power(effect, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return float(lo)


def effect_size(differences: np.ndarray) -> float:
    """d_z = mean / sd (ddof 1) of paired differences; ±inf when they are all equal and non-zero, 0 when
    all zero, nan with fewer than 2."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return float("nan")
    mean, sd = d.mean(), d.std(ddof=1)
    if sd == 0 or sd < 1e-12 * max(abs(mean), 1e-300):
        return 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    return float(mean / sd)


def seeds_to_separate(differences: np.ndarray, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """Seeds a paired t-test needs to separate two methods whose per-seed differences are ``differences``."""
    return seeds_needed(effect_size(differences), alpha=alpha, power=power)
