"""Per-round and per-cell metrics.

- accuracy: plain accuracy on the (balanced) test split.
- balanced_accuracy: accuracy averaged over the test classes (WACV 2020 §4.1: "accuracy averaged
  over all test classes", undiscovered classes included: they score 0 recall).
- minority_accuracy: the same average over the minority (decimated) classes only.
- classes_discovered: classes with at least one label in the labelled set.
- labelled_ir: ir = σ/μ (population σ) of the labelled set's per-class counts over *all* classes,
  so an undiscovered class counts as 0 (WACV Tables 4-5).
- area under the budget curve: trapezoidal area of balanced accuracy over labels used, divided by
  the labels range, i.e. the mean accuracy along the curve.
- G_AL (WACV eq. 10): mean over configurations of (acc_i − acc_full) / (acc_max − acc_full), in percent,
  acc_max = 100 (docs/g_al.md: why ours are ~5× the paper's magnitudes).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def imbalance_ratio(counts: np.ndarray) -> float:
    """ir = σ/μ of per-class counts (WACV §4.1), population σ, over the classes given."""
    counts = np.asarray(counts, dtype=float)
    if counts.size == 0 or counts.mean() == 0:
        return float("nan")
    return float(counts.std() / counts.mean())


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Recall of each class; NaN for classes absent from y_true."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    support = np.bincount(y_true, minlength=num_classes).astype(float)
    hits = np.bincount(y_true[y_true == y_pred], minlength=num_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / support, np.nan)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int,
                           minority_classes: Sequence[int]) -> dict[str, float]:
    recall = per_class_recall(y_true, y_pred, num_classes)
    minority = [c for c in minority_classes if not np.isnan(recall[c])]
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan"),
        "balanced_accuracy": float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan"),
        "minority_accuracy": float(np.mean(recall[minority])) if minority else float("nan"),
    }


def labelled_set_metrics(labelled_y: np.ndarray, num_classes: int) -> dict[str, float]:
    counts = np.bincount(np.asarray(labelled_y, dtype=np.int64), minlength=num_classes)
    return {
        "labels_used": int(counts.sum()),
        "classes_discovered": int((counts > 0).sum()),
        "labelled_ir": imbalance_ratio(counts) if counts.sum() else float("nan"),
    }


def area_under_budget_curve(labels: Sequence[float], acc: Sequence[float]) -> float:
    """Normalised trapezoidal area (the mean accuracy along the curve); one point gives that point."""
    x, y = np.asarray(labels, dtype=float), np.asarray(acc, dtype=float)
    if len(x) == 1:
        return float(y[0])
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    span = x[-1] - x[0]
    if span == 0:
        return float(np.mean(y))
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / span)


def global_score(acc: Sequence[float], acc_full: Sequence[float], acc_max: float = 100.0) -> float:
    """G_AL (WACV 2020 eq. 10): (1/c) Σ_i (acc_i − acc_full,i) / (acc_max − acc_full,i) over the c
    configurations (dataset × budget), acc_full,i the full-pool accuracy of configuration i's dataset.

    Accuracies in percent (acc_max = 100, as the paper); a plain mean over configurations, not a sum.
    This literal reading reproduces all 20 G_AL values of the paper's Tables 2-3 to ±0.0005
    (docs/g_al.md). ≤ 0 when no configuration beats acc_full; closer to 0 is better."""
    a, f = np.asarray(acc, dtype=float), np.asarray(acc_full, dtype=float)
    return float(np.mean((a - f) / (acc_max - f)))


