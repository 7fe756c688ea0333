"""The paired splits every method of a cell shares: balanced validation and test subsets, the
imbalanced pool, the initial labelled set. They depend on the data, the imbalance, the scenario's
split keys and the seed — never on the method (DESIGN.md, protocol rules)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.data.pool import ImagePool, InducedImbalance


@dataclass(frozen=True)
class Splits:
    """Positions into ``pool.train_x`` / ``pool.test_x``.

    ``pool_idx`` is the imbalanced unlabelled pool; the AL loop addresses it by *pool position*
    (0..len(pool_idx)-1). ``initial`` holds pool positions of the initial labelled set.
    ``pool_y``/``test_y`` are the labels in the task's own numbering (a one-shot target task may
    relabel a subset of the dataset's classes to 0..k-1); ``classes`` maps them back.
    """

    pool_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    initial: np.ndarray
    induced: InducedImbalance
    pool_y: np.ndarray
    test_y: np.ndarray
    classes: tuple[int, ...]


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


def make_splits(pool: ImagePool, imbalance: Any, rng: np.random.Generator, *, val_per_class: int,
                pool_size: int | None, test_per_class: int | None, initial: int, budget: int) -> Splits:
    """Iterative protocol: balanced validation split → optional pool subsample → imbalance on the
    pool only → initial set."""
    train_pos = np.arange(len(pool.train_y))
    val_idx = balanced_subset(pool.train_y, val_per_class, rng, "validation split") if val_per_class else np.zeros(0, np.int64)
    rest = np.setdiff1d(train_pos, val_idx)
    if pool_size is not None:
        if pool_size > len(rest):
            raise AlbenchError(f"scenario.pool_size={pool_size} but only {len(rest)} training images remain after the validation split.")
        rest = np.sort(rng.choice(rest, pool_size, replace=False))
    induced = imbalance.apply(pool.train_y[rest], pool.num_classes, rng)
    pool_idx = rest[induced.kept]
    if test_per_class is not None:
        test_idx = balanced_subset(pool.test_y, test_per_class, rng, "test subset")
    else:
        test_idx = np.arange(len(pool.test_y))
    if budget > len(pool_idx):
        raise AlbenchError(
            f"The budget ({budget} labels) exceeds the imbalanced pool ({len(pool_idx)} images). "
            f"Lower the budget or the imbalance."
        )
    init = np.sort(rng.choice(len(pool_idx), initial, replace=False)) if initial else np.zeros(0, np.int64)
    return Splits(pool_idx=pool_idx, val_idx=val_idx, test_idx=test_idx, initial=init, induced=induced,
                  pool_y=pool.train_y[pool_idx], test_y=pool.test_y[test_idx],
                  classes=tuple(range(pool.num_classes)))


def make_target_splits(pool: ImagePool, imbalance: Any, rng: np.random.Generator, *,
                       target_classes: tuple[int, ...] | None, pool_size: int | None,
                       test_per_class: int | None, budget: int | None) -> Splits:
    """One-shot protocol (WACV §3): a target task over ``target_classes`` (relabelled 0..k−1), an
    optional pool subsample, the imbalance, an optional balanced test subset; no validation split
    and no initial set. ``budget`` None = the whole pool (the acc_full reference)."""
    classes = tuple(target_classes) if target_classes else tuple(range(pool.num_classes))
    remap = np.full(pool.num_classes, -1, dtype=np.int64)
    remap[list(classes)] = np.arange(len(classes))
    train_pos = np.flatnonzero(remap[pool.train_y] >= 0)
    if pool_size is not None:
        if pool_size > len(train_pos):
            raise AlbenchError(f"scenario.pool_size={pool_size} but the target classes have {len(train_pos)} training images.")
        train_pos = np.sort(rng.choice(train_pos, pool_size, replace=False))
    induced = imbalance.apply(remap[pool.train_y[train_pos]], len(classes), rng)
    pool_idx = train_pos[induced.kept]
    test_pos = np.flatnonzero(remap[pool.test_y] >= 0)
    if test_per_class is not None:
        test_pos = test_pos[balanced_subset(remap[pool.test_y[test_pos]], test_per_class, rng, "test subset")]
    if budget is not None and budget > len(pool_idx):
        raise AlbenchError(f"The budget {budget} exceeds the imbalanced pool ({len(pool_idx)} images).")
    return Splits(pool_idx=pool_idx, val_idx=np.zeros(0, np.int64), test_idx=test_pos,
                  initial=np.zeros(0, np.int64), induced=induced, pool_y=remap[pool.train_y[pool_idx]],
                  test_y=remap[pool.test_y[test_pos]], classes=classes)
