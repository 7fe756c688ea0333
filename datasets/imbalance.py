"""Imbalance induction: which pool images to keep. Applied to the unlabelled pool only;
validation and test splits stay balanced."""
from __future__ import annotations

import math

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_imbalance
from benchmark.data.pool import InducedImbalance, imbalance_ratio


def _keep_counts(labels: np.ndarray, num_classes: int, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep ``target[c]`` random images of each class c; returns sorted kept positions."""
    kept = [rng.choice(np.flatnonzero(labels == c), int(target[c]), replace=False)
            for c in range(num_classes) if target[c] > 0]
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)


def _result(labels, num_classes, kept, minority, **info) -> InducedImbalance:
    counts = np.bincount(labels[kept], minlength=num_classes)
    present = np.bincount(labels, minlength=num_classes) > 0
    return InducedImbalance(kept, tuple(int(c) for c in minority), imbalance_ratio(counts[present]),
                            {"counts": counts.tolist(), **info})


@register_imbalance("none")
class NoImbalance:
    """Keep the pool as it is."""

    version = "1"

    def apply(self, labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> InducedImbalance:
        return _result(labels, num_classes, np.arange(len(labels)), ())


@register_imbalance("step")
class StepImbalance:
    """CVPR 2020 FK §5: a set of classes is decimated by ``ratio`` (each keeps ⌈n_c / ratio⌉ images,
    at least ``min_per_class``). ``classes`` names them; by default classes 5-9 for 10-class data
    (the paper's MNIST/SVHN setup) and a random half of the classes otherwise (its ImageNet setup:
    500 of 1,000)."""

    version = "1"

    def __init__(self, ratio: float = 100.0, classes: list[int] | None = None, min_per_class: int = 1):
        if ratio < 1:
            raise AlbenchError(f"step imbalance ratio must be >= 1, got {ratio}.")
        self.ratio, self.classes, self.min_per_class = ratio, classes, min_per_class

    def minority(self, num_classes: int, rng: np.random.Generator) -> list[int]:
        if self.classes is not None:
            bad = [c for c in self.classes if not 0 <= c < num_classes]
            if bad:
                raise AlbenchError(f"step imbalance classes {bad} are outside [0, {num_classes}).")
            return sorted(self.classes)
        if num_classes == 10:
            return [5, 6, 7, 8, 9]
        return sorted(rng.choice(num_classes, num_classes // 2, replace=False).tolist())

    def apply(self, labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> InducedImbalance:
        minority = self.minority(num_classes, rng) if self.ratio > 1 else []
        counts = np.bincount(labels, minlength=num_classes)
        target = counts.copy()
        for c in minority:
            target[c] = min(counts[c], max(self.min_per_class, math.ceil(counts[c] / self.ratio)))
        return _result(labels, num_classes, _keep_counts(labels, num_classes, target, rng), minority, ratio=self.ratio)


@register_imbalance("longtail")
class LongTailImbalance:
    """Exponential profile (Cui et al. 2019): the class at rank r keeps n_max · ratio^(−r/(C−1))
    images, ``ratio`` = largest / smallest class. The class order is random (from the seed)."""

    version = "1"

    def __init__(self, ratio: float = 100.0):
        if ratio < 1:
            raise AlbenchError(f"longtail ratio must be >= 1, got {ratio}.")
        self.ratio = ratio

    def apply(self, labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> InducedImbalance:
        counts = np.bincount(labels, minlength=num_classes)
        order = rng.permutation(num_classes)
        n_max = counts.min()
        target = np.zeros(num_classes, dtype=np.int64)
        for rank, c in enumerate(order):
            target[c] = max(1, int(round(n_max * self.ratio ** (-rank / max(num_classes - 1, 1)))))
        kept = _keep_counts(labels, num_classes, target, rng)
        minority = [c for c in range(num_classes) if target[c] < target.mean()]
        return _result(labels, num_classes, kept, minority, ratio=self.ratio)


@register_imbalance("target_ir")
class TargetIRImbalance:
    """WACV 2020 §4.1: prune the pool until ir = σ/μ of per-class counts reaches ``ir``.

    Each class c gets a random keep fraction u_c ∈ (0, 1]; it keeps n_c · u_c^α images, and α ≥ 0 is
    found by bisection so that the achieved ir is within ``tolerance`` of the target (the result
    records the achieved value). Classes below the mean count are the minority classes.
    """

    version = "1"

    def __init__(self, ir: float = 0.75, tolerance: float = 0.01, min_per_class: int = 1):
        if ir < 0:
            raise AlbenchError(f"target_ir must be >= 0, got {ir}.")
        self.ir, self.tolerance, self.min_per_class = ir, tolerance, min_per_class

    def _counts(self, counts: np.ndarray, u: np.ndarray, alpha: float) -> np.ndarray:
        return np.maximum(np.minimum(counts, self.min_per_class), np.floor(counts * u ** alpha)).astype(np.int64)

    def apply(self, labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> InducedImbalance:
        counts = np.bincount(labels, minlength=num_classes)
        present = counts > 0
        u = rng.uniform(0.0, 1.0, num_classes)
        u[np.argmax(u)] = 1.0  # the largest class keeps everything
        ir_of = lambda a: imbalance_ratio(self._counts(counts, u, a)[present])  # noqa: E731
        lo, hi = 0.0, 1.0
        if ir_of(lo) > self.ir + self.tolerance:
            raise AlbenchError(f"target_ir={self.ir}: the pool is already more imbalanced (ir={ir_of(lo):.3f}) "
                               f"and pruning cannot lower it. Use a larger target.")
        while ir_of(hi) < self.ir and hi < 1e4:
            hi *= 2
        for _ in range(100):
            mid = (lo + hi) / 2
            if ir_of(mid) < self.ir:
                lo = mid
            else:
                hi = mid
        alpha = min((lo, hi), key=lambda a: abs(ir_of(a) - self.ir))
        achieved = ir_of(alpha)
        if abs(achieved - self.ir) > self.tolerance:
            raise AlbenchError(f"target_ir={self.ir} cannot be reached within ±{self.tolerance} on this pool "
                               f"(closest: {achieved:.4f}); the classes are too small. Raise the tolerance.")
        target = self._counts(counts, u, alpha)
        kept = _keep_counts(labels, num_classes, target, rng)
        minority = [c for c in range(num_classes) if present[c] and target[c] < target[present].mean()]
        return _result(labels, num_classes, kept, minority, target_ir=self.ir, alpha=alpha)
