"""The WACV 2020 one-shot protocol (§3): the whole budget b is chosen from a source model's outputs
on the unlabelled target pool, then the target model M_T is trained once.

Scenario keys (``kind: oneshot``): ``budget`` (labels, or ``full`` for the acc_full reference cell
that labels the whole imbalanced pool), ``source`` (see ``benchmark.source``), ``target`` (see
``benchmark.target_model.TargetRecipe``), ``target_classes`` (a subset of the dataset's classes that
forms the target task, relabelled 0..k−1; None = all), ``pool_size`` and ``test_per_class``.

Paired design: the pool, its imbalance and the test subset depend on (dataset, imbalance,
target_classes, pool_size, test_per_class, seed) — not on the method or the budget, so acc_full and
every budget of every method share one pool.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import AlbenchError, SuiteError, reject_unknown_keys
from .metrics import classification_metrics, labelled_set_metrics
from .oracle import Oracle
from .pools import load_pool, make_imbalance
from .profiling import CellLog, PassCounter, PhaseTimer
from .registry import METHODS
from .scenario import balanced_subset
from .seeding import derive_seed, rng_for
from .spec import CellSpec
from .store import CellResult
from .strategy import SelectionView, validate_selection

FULL = "full"
FULL_METHOD = "full_pool"


@dataclass(frozen=True)
class OneShotScenario:
    budget: int | str = 100
    source: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] = field(default_factory=dict)
    target_classes: tuple[int, ...] | None = None
    pool_size: int | None = None
    test_per_class: int | None = None
    kind: str = "oneshot"

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> "OneShotScenario":
        from .source import validate_source
        from .target_model import TargetRecipe

        reject_unknown_keys(d, cls, "scenario", "a one-shot scenario")
        sc = cls(**{k: (tuple(v) if k == "target_classes" and v is not None else v) for k, v in d.items()})
        if sc.budget != FULL and (not isinstance(sc.budget, int) or sc.budget < 1):
            raise SuiteError(f"scenario.budget must be a positive integer or 'full', got {sc.budget!r}.")
        validate_source(sc.source)
        TargetRecipe.from_mapping(sc.target)
        if sc.target_classes is not None and "train" in sc.source:
            overlap = set(sc.target_classes) & {int(c) for c in sc.source["train"]["classes"]}
            if overlap:
                raise SuiteError(f"The source model must be trained on classes disjoint from the target task; "
                                 f"both use {sorted(overlap)}.")
        return sc

    def pool_key(self) -> dict[str, Any]:
        return {"target_classes": list(self.target_classes) if self.target_classes else None,
                "pool_size": self.pool_size, "test_per_class": self.test_per_class}


@dataclass(frozen=True)
class OneShotSplits:
    pool_idx: np.ndarray  # positions into the dataset's train split
    pool_y: np.ndarray  # target labels 0..k-1
    test_idx: np.ndarray
    test_y: np.ndarray
    classes: tuple[int, ...]  # dataset class of each target label
    induced: Any


def make_oneshot_splits(pool, imbalance, sc: OneShotScenario, rng: np.random.Generator) -> OneShotSplits:
    classes = tuple(sc.target_classes) if sc.target_classes else tuple(range(pool.num_classes))
    remap = np.full(pool.num_classes, -1, dtype=np.int64)
    remap[list(classes)] = np.arange(len(classes))
    train_pos = np.flatnonzero(remap[pool.train_y] >= 0)
    if sc.pool_size is not None:
        if sc.pool_size > len(train_pos):
            raise AlbenchError(f"scenario.pool_size={sc.pool_size} but the target classes have {len(train_pos)} training images.")
        train_pos = np.sort(rng.choice(train_pos, sc.pool_size, replace=False))
    induced = imbalance.apply(remap[pool.train_y[train_pos]], len(classes), rng)
    pool_idx = train_pos[induced.kept]
    test_pos = np.flatnonzero(remap[pool.test_y] >= 0)
    if sc.test_per_class is not None:
        test_pos = test_pos[balanced_subset(remap[pool.test_y[test_pos]], sc.test_per_class, rng, "test subset")]
    if sc.budget != FULL and sc.budget > len(pool_idx):
        raise AlbenchError(f"The budget {sc.budget} exceeds the imbalanced pool ({len(pool_idx)} images).")
    return OneShotSplits(pool_idx, remap[pool.train_y[pool_idx]], test_pos, remap[pool.test_y[test_pos]], classes, induced)


def full_pool_spec(spec: CellSpec) -> CellSpec:
    """The acc_full reference cell of a one-shot cell: same data, pool, source and target recipe."""
    from .spec import Component

    return CellSpec(dataset=spec.dataset, imbalance=spec.imbalance, method=Component(FULL_METHOD),
                    learner=spec.learner, scenario={**spec.to_dict()["scenario"], "budget": FULL}, seed=spec.seed)


def run_oneshot_cell(spec: CellSpec, root: str | Path | None = None) -> CellResult:
    from .environment import environment
    from .learner import resolve_device  # the source model's Learner runs on device "auto"
    from .source import source_outputs
    from .target_model import TargetRecipe, fit_predict

    log = CellLog()
    say = log.say
    counter = PassCounter()
    timer = PhaseTimer(counter)

    sc = OneShotScenario.from_mapping(spec.to_dict()["scenario"])
    with timer.phase("load"):
        pool = load_pool(spec.dataset, root)
        key = ("oneshot-splits", spec.dataset.to_dict(), spec.imbalance.to_dict(), sc.pool_key(), spec.seed)
        splits = make_oneshot_splits(pool, make_imbalance(spec.imbalance), sc, rng_for(*key))
    num_classes = len(splits.classes)
    say(f"{spec.label()} pool={len(splits.pool_idx)} test={len(splits.test_idx)} classes={num_classes} "
        f"pool_ir={splits.induced.achieved_ir:.3f}")
    with timer.phase("infer"):
        src, computed = source_outputs(pool, spec.dataset.to_dict(), sc.source, counter)
    say(f"source features {'computed' if computed else 'loaded from cache'}: "
        f"d={src.train_features.shape[1]}, source classes={src.train_probs.shape[1]}")
    feats, probs = src.train_features[splits.pool_idx], src.train_probs[splits.pool_idx]
    oracle = Oracle(splits.pool_y, budget=len(splits.pool_idx) if sc.budget == FULL else int(sc.budget))
    switched_at = None
    if sc.budget == FULL:
        if spec.method.name != FULL_METHOD:
            raise AlbenchError(f"budget: full is the acc_full reference; its method must be {FULL_METHOD!r}.")
        labelled = np.arange(len(splits.pool_idx))
        labelled_y = oracle.reveal(labelled)
        uses_hidden = False
    else:
        method = METHODS.create(spec.method.name, **spec.method.to_dict()["params"])
        needs = method.needs()
        for unsupported in ("mc_dropout", "ensemble", "learner", "validation", "images", "hidden_labels"):
            if getattr(needs, unsupported):
                raise AlbenchError(f"Method {spec.method.name!r} needs {unsupported}, which the one-shot scenario does "
                                   f"not provide (it exposes the source model's probs and features and an oracle).")
        revealed: dict[int, int] = {}

        def reveal(positions: np.ndarray) -> np.ndarray:
            ys = oracle.reveal(positions)
            revealed.update(zip(map(int, positions), map(int, ys)))
            return ys

        view = SelectionView(unlabelled=np.arange(len(splits.pool_idx)), labelled=np.zeros(0, np.int64),
                             labelled_y=np.zeros(0, np.int64), num_classes=num_classes, round=0,
                             probs=probs if needs.probs else None, features=feats if needs.features or needs.oracle else None,
                             labelled_features=np.zeros((0, feats.shape[1]), feats.dtype) if needs.features else None,
                             labelled_probs=np.zeros((0, probs.shape[1]), probs.dtype) if needs.labelled_probs else None,
                             embeddings=feats if needs.embeddings else None,
                             labelled_embeddings=np.zeros((0, feats.shape[1]), feats.dtype) if needs.embeddings else None,
                             oracle=reveal if needs.oracle else None, counter=counter)
        with timer.phase("select"):
            chosen = validate_selection(method.select(view, int(sc.budget), rng_for("select", spec.cell_id)),
                                        view, int(sc.budget), spec.method.name)
        with timer.phase("label"):
            rest = np.array([p for p in chosen if int(p) not in revealed], dtype=np.int64)
            if len(rest):
                reveal(rest)
        labelled = chosen
        labelled_y = np.array([revealed[int(p)] for p in chosen], dtype=np.int64)
        switched_at = getattr(method, "switched_at_", None)
        uses_hidden = bool(method.uses_hidden_labels)
    recipe = TargetRecipe.from_mapping(sc.target)
    with timer.phase("train"):
        pred, info = fit_predict(feats[labelled], labelled_y, src.test_features[splits.test_idx], num_classes,
                                 recipe, derive_seed("target", spec.cell_id))
    with timer.phase("evaluate"):
        metrics = classification_metrics(splits.test_y, pred, num_classes, splits.induced.minority_classes)
    row: dict[str, Any] = {"round": 0, **labelled_set_metrics(labelled_y, num_classes), **metrics,
                           "svm_C": info["C"], "cv_folds": info["cv_folds"], "thresholded": info["thresholded"],
                           "switched_at": np.nan if switched_at is None else int(switched_at)}
    row.update(timer.flush())
    say(f"labels={row['labels_used']} acc={row['accuracy']:.4f} bal={row['balanced_accuracy']:.4f} "
        f"classes={row['classes_discovered']} ir={row['labelled_ir']:.3f} C={info['C']}")
    rounds = pd.DataFrame([row])
    rounds.insert(0, "cell_id", spec.cell_id)
    summary = {
        "cell_id": spec.cell_id, "label": spec.label(), "kind": "oneshot", "rounds": 0,
        "budget": int(len(labelled)), "pool_size": int(len(splits.pool_idx)), "pool_ir": splits.induced.achieved_ir,
        "minority_classes": list(splits.induced.minority_classes),
        "final_accuracy": metrics["accuracy"], "final_balanced_accuracy": metrics["balanced_accuracy"],
        "final_minority_accuracy": metrics["minority_accuracy"],
        "final_classes_discovered": row["classes_discovered"], "final_labelled_ir": row["labelled_ir"],
        "aubc": float("nan"), "uses_hidden_labels": uses_hidden, "source_computed": computed,
        "seconds": round(log.elapsed(), 3), "forward_passes": counter.forward,
        "backward_passes": counter.backward, "induced": splits.induced.info,
    }
    selections = pd.DataFrame({"round": 0, "position": labelled.astype(int), "pool_index": splits.pool_idx[labelled].astype(int)})
    return CellResult(spec=spec, rounds=rounds, selections=selections, predictions=pred[None].astype(np.int16),
                      summary=summary, environment=environment(str(resolve_device("auto"))), log=log.text())
