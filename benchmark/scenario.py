"""Scenario specs (the AL protocol) and the paired splits every method in a cell shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .data import ImagePool, InducedImbalance
from .errors import AlbenchError, SuiteError, reject_unknown_keys


@dataclass(frozen=True)
class IterativeScenario:
    """CVPR-style iterative AL: ``rounds`` rounds of ``per_round`` labels after ``initial`` ones.

    ``val_per_class`` images per class are held out of the training split as the balanced
    validation set (drawn before imbalance, so it stays balanced); ``pool_size`` optionally
    subsamples the rest (before imbalance); ``test_per_class`` optionally subsamples the official
    test split to a balanced subset. ``initial=0`` means the first round selects from the
    initial (random or pretrained) model, as in the CVPR paper.
    """

    rounds: int = 5
    per_round: int = 10
    initial: int = 20
    val_per_class: int = 10
    pool_size: int | None = None
    test_per_class: int | None = None
    kind: str = "iterative"

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> "IterativeScenario":
        reject_unknown_keys(d, cls, "scenario", "an iterative scenario")
        kind = d.get("kind", "iterative")
        if kind != "iterative":
            raise SuiteError(f"Unknown scenario kind {kind!r}; available: 'iterative', 'oneshot'.")
        sc = cls(**dict(d))
        for name in ("rounds", "per_round", "initial", "val_per_class"):
            value = getattr(sc, name)
            if not isinstance(value, int) or value < 0:
                raise SuiteError(f"scenario.{name} must be a non-negative integer, got {value!r}.")
        if sc.per_round < 1:
            raise SuiteError("scenario.per_round must be at least 1.")
        return sc

    @property
    def budget(self) -> int:
        return self.initial + self.rounds * self.per_round


@dataclass(frozen=True)
class Splits:
    """Positions into ``pool.train_x`` / ``pool.test_x`` for one (dataset, imbalance, scenario, seed).

    ``pool_idx`` is the imbalanced unlabelled pool; the AL loop addresses it by *pool position*
    (0..len(pool_idx)-1). ``initial`` holds pool positions of the initial labelled set.
    """

    pool_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    initial: np.ndarray
    induced: InducedImbalance


def balanced_subset(labels: np.ndarray, per_class: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """``per_class`` random positions of every class; an error if a class has too few."""
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise AlbenchError(
                f"{what}: class {c} has {len(members)} images but {per_class} per class were asked for. "
                f"Lower the per-class size."
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def make_splits(pool: ImagePool, imbalance: Any, sc: IterativeScenario, rng: np.random.Generator) -> Splits:
    """Balanced validation split → optional pool subsample → imbalance on the pool only → initial set."""
    train_pos = np.arange(len(pool.train_y))
    val_idx = balanced_subset(pool.train_y, sc.val_per_class, rng, "validation split") if sc.val_per_class else np.zeros(0, np.int64)
    rest = np.setdiff1d(train_pos, val_idx)
    if sc.pool_size is not None:
        if sc.pool_size > len(rest):
            raise AlbenchError(f"scenario.pool_size={sc.pool_size} but only {len(rest)} training images remain after the validation split.")
        rest = np.sort(rng.choice(rest, sc.pool_size, replace=False))
    induced = imbalance.apply(pool.train_y[rest], pool.num_classes, rng)
    pool_idx = rest[induced.kept]
    if sc.test_per_class is not None:
        test_idx = balanced_subset(pool.test_y, sc.test_per_class, rng, "test subset")
    else:
        test_idx = np.arange(len(pool.test_y))
    if sc.budget > len(pool_idx):
        raise AlbenchError(
            f"The budget ({sc.initial} initial + {sc.rounds}×{sc.per_round}) exceeds the imbalanced pool "
            f"({len(pool_idx)} images). Lower the budget or the imbalance."
        )
    initial = np.sort(rng.choice(len(pool_idx), sc.initial, replace=False)) if sc.initial else np.zeros(0, np.int64)
    return Splits(pool_idx=pool_idx, val_idx=val_idx, test_idx=test_idx, initial=initial, induced=induced)


def scenario_from_mapping(d: Mapping[str, Any]) -> Any:
    """Validate a scenario mapping by its ``kind``: iterative (CVPR 2020) or oneshot (WACV 2020)."""
    if d.get("kind", "iterative") == "oneshot":
        from .oneshot import OneShotScenario

        return OneShotScenario.from_mapping(d)
    return IterativeScenario.from_mapping(d)
