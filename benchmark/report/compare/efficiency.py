"""Label efficiency: the labels a method needs to reach a target accuracy, with a bootstrap interval
over seeds, and the labels it saves against the baseline (DESIGN.md's "labels saved vs random to
reach the same accuracy"; the measure of e.g. Gudovskiy et al. 2020 §5 and Ash et al. 2020 §5).

Labels needed: the first point where the mean balanced-accuracy curve over seeds reaches the target,
linearly interpolated between that round and the one before; ``inf`` when the curve never reaches it.
Targets: the baseline's final accuracy (its mean over seeds at the last round) and, optionally, fixed
accuracies the user passes. Labels saved = the baseline's labels needed − the method's, for the
baseline's final accuracy (which the baseline's mean curve always reaches, at its last round at the
latest).

Interval: percentile bootstrap (Efron & Tibshirani 1993) over the seeds the method shares with the
baseline, resampled together (the paired design): each replicate recomputes both mean curves and the
target. Bounds are replicates themselves (``numpy.quantile(method="inverted_cdf")``), so a bound can
be "never reached". The generator is seeded from the setting and the method (numpy's Generator), so
the same results give the same interval in every report.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.seeding import derive_seed

N_BOOT = 2000
LEVEL = 0.95


def labels_to_reach(labels: np.ndarray, curves: np.ndarray, target: np.ndarray | float) -> np.ndarray:
    """Labels at which each curve first reaches its target, linearly interpolated; ``inf`` if never.

    ``labels``: (R,) labels used per round, increasing; ``curves``: (B, R) or (R,) accuracies;
    ``target``: scalar or (B,). A curve at or above its target at the first round needs ``labels[0]``."""
    x = np.asarray(labels, dtype=float)
    y = np.atleast_2d(np.asarray(curves, dtype=float))
    t = np.broadcast_to(np.asarray(target, dtype=float), (y.shape[0],))
    reached = y >= t[:, None]
    first = np.argmax(reached, axis=1)
    out = np.full(y.shape[0], np.inf)
    hit = reached.any(axis=1)
    at_start = hit & (first == 0)
    out[at_start] = x[0]
    inner = hit & (first > 0)
    rows, k = np.nonzero(inner)[0], first[inner]
    y0, y1, x0, x1 = y[rows, k - 1], y[rows, k], x[k - 1], x[k]
    out[rows] = x0 + (t[rows] - y0) / (y1 - y0) * (x1 - x0)  # y0 < target <= y1, so y1 > y0
    return out


@dataclass
class Curve:
    """One method's curves in one setting: ``acc`` is seeds × rounds (balanced accuracy), ``labels`` the
    labels used per round (mean over seeds), ``seeds`` the row labels."""

    labels: np.ndarray
    acc: np.ndarray
    seeds: np.ndarray

    @classmethod
    def from_rounds(cls, rounds: pd.DataFrame, metric: str = "balanced_accuracy") -> Curve:
        """From one method's rows of one setting (seed, round, labels_used, ``metric``)."""
        acc = rounds.pivot(index="seed", columns="round", values=metric).sort_index().dropna()
        labels = rounds.groupby("round")["labels_used"].mean().reindex(acc.columns)
        return cls(labels.to_numpy(float), acc.to_numpy(float), acc.index.to_numpy())

    def on(self, seeds: np.ndarray) -> np.ndarray:
        return self.acc[np.searchsorted(self.seeds, seeds)]


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    finite_or_inf = values[~np.isnan(values)]
    if not len(finite_or_inf):
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite_or_inf, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


def method_efficiency(curve: Curve, base: Curve | None, targets: Sequence[float] = (), *, key: Any = (),
                      n_boot: int = N_BOOT, level: float = LEVEL) -> list[dict[str, Any]]:
    """Rows (target, labels needed + interval, labels saved + interval) for one method of one setting.

    ``base``: the baseline's curve (None: no baseline in the setting, only ``targets``); ``key``
    seeds the bootstrap (pass the setting and the method)."""
    rng = np.random.default_rng(derive_seed("compare-bootstrap", key))
    seeds = np.intersect1d(curve.seeds, base.seeds) if base is not None else curve.seeds
    if not len(seeds):
        return []
    acc = curve.on(seeds)
    idx = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
    boot = acc[idx].mean(axis=1)
    rows = []
    if base is not None:
        b_acc = base.on(seeds)
        b_boot = b_acc[idx].mean(axis=1)
        target, t_boot = b_acc[:, -1].mean(), b_boot[:, -1]
        need = labels_to_reach(curve.labels, acc.mean(axis=0), target)[0]
        b_need = labels_to_reach(base.labels, b_acc.mean(axis=0), target)[0]
        need_boot = labels_to_reach(curve.labels, boot, t_boot)
        saved_boot = labels_to_reach(base.labels, b_boot, t_boot) - need_boot
        rows.append({"target": "baseline final", "target_accuracy": float(target), "labels": float(need),
                     **dict(zip(("labels_lo", "labels_hi"), _interval(need_boot, level))),
                     "labels_saved": float(b_need - need),
                     **dict(zip(("saved_lo", "saved_hi"), _interval(saved_boot, level))),
                     "seeds": len(seeds)})
    for t in targets:
        need = labels_to_reach(curve.labels, acc.mean(axis=0), t)[0]
        rows.append({"target": f"{t:g}", "target_accuracy": float(t), "labels": float(need),
                     **dict(zip(("labels_lo", "labels_hi"), _interval(labels_to_reach(curve.labels, boot, t), level))),
                     "labels_saved": np.nan, "saved_lo": np.nan, "saved_hi": np.nan, "seeds": len(seeds)})
    return rows


def setting_efficiency(rounds: pd.DataFrame, baseline: str, targets: Sequence[float] = (), *, key: Any = (),
                       n_boot: int = N_BOOT, level: float = LEVEL) -> pd.DataFrame:
    """Every method of one setting (``rounds``: method, seed, round, labels_used, balanced_accuracy)."""
    curves = {m: Curve.from_rounds(g) for m, g in rounds.groupby("method", sort=True)}
    base = curves.get(baseline)
    rows = []
    for method, curve in curves.items():
        for row in method_efficiency(curve, base, targets, key=[key, method], n_boot=n_boot, level=level):
            rows.append({"method": method, **row})
    return pd.DataFrame(rows)
