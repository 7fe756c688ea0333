"""The WACV 2020 one-shot protocol (§3): the whole budget b is chosen from a source model's outputs
on the unlabelled target pool, then the target model M_T is trained once.

Scenario keys (``kind: oneshot``): ``budget`` (labels, or ``full`` for the acc_full reference cell
that labels the whole imbalanced pool), ``source`` (see ``benchmark.learn.source``), ``target`` (see
``benchmark.learn.target_model.TargetRecipe``), ``target_classes`` (a subset of the dataset's classes that
forms the target task, relabelled 0..k−1; None = all), ``pool_size`` and ``test_per_class``.

Paired design: the pool, its imbalance and the test subset depend on (dataset, imbalance,
target_classes, pool_size, test_per_class, seed) — not on the method or the budget, so acc_full and
every budget of every method share one pool.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.errors import AlbenchError, Rule, SuiteError, check_fields
from benchmark.core.profiling import CellLog, PassCounter, PhaseTimer
from benchmark.core.registry import register_scenario
from benchmark.core.seeding import rng_for, torch_seed
from benchmark.core.spec import FULL_POOL_METHOD, CellSpec, Component
from benchmark.data.loading import load_pool, make_imbalance
from benchmark.data.oracle import Oracle
from benchmark.data.pool import ImagePool
from benchmark.data.splits import Splits, make_target_splits
from benchmark.learn.learner import resolve_device
from benchmark.learn.source import source_outputs, validate_source
from benchmark.learn.target_model import TargetRecipe, fit_predict
from benchmark.scenarios.base import Episode, Scenario
from benchmark.select.api import Needs, QueryStrategy, SelectionView

FULL = "full"
FULL_METHOD = FULL_POOL_METHOD


@register_scenario("oneshot")
@dataclass(frozen=True)
class OneShotScenario(Scenario):
    """WACV 2020 one-shot AL: one selection of ``budget`` labels from the source model's outputs,
    then the target model M_T (a linear SVM) trained once. The cell's single row is round 1."""

    budget: int | str = 100  # type: ignore[assignment]
    source: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] = field(default_factory=dict)
    target_classes: tuple[int, ...] | None = None
    pool_size: int | None = None
    test_per_class: int | None = None
    kind: str = "oneshot"

    provides: ClassVar[frozenset[str]] = frozenset({"probs", "labelled_probs", "features", "embeddings", "oracle"})

    rules: ClassVar[Mapping[str, Rule]] = {"pool_size": Rule(low=1), "test_per_class": Rule(low=1),
                                           "target_classes": Rule(low=0, nonempty=True, distinct=True)}

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> OneShotScenario:
        check_fields(d, cls, "scenario", "the oneshot scenario", cls.rules)
        sc = cls(**{k: (tuple(v) if k == "target_classes" and v is not None else v) for k, v in d.items()})  # type: ignore[arg-type]
        budget_ok = sc.budget == FULL or (isinstance(sc.budget, int) and not isinstance(sc.budget, bool) and sc.budget >= 1)
        if not budget_ok:
            raise SuiteError(f"scenario.budget must be a positive integer or {FULL!r}, got {sc.budget!r}.")
        if sc.target_classes is not None and len(sc.target_classes) < 2:
            raise SuiteError(f"scenario.target_classes must list at least 2 classes (a target task), "
                             f"got {list(sc.target_classes)}.")
        if sc.pool_size is not None and sc.budget != FULL and int(sc.budget) > sc.pool_size:
            raise SuiteError(f"scenario.budget {sc.budget} exceeds scenario.pool_size {sc.pool_size}; the budget "
                             f"must be at most the pool size (or {FULL!r} for the whole pool).")
        validate_source(sc.source)
        TargetRecipe.from_mapping(sc.target)
        if sc.target_classes is not None and "train" in sc.source:
            overlap = set(sc.target_classes) & {int(c) for c in sc.source["train"]["classes"]}
            if overlap:
                raise SuiteError(f"The source model must be trained on classes disjoint from the target task; "
                                 f"both use {sorted(overlap)} (scenario.target_classes and "
                                 f"scenario.source.train.classes).")
        return sc

    def pool_key(self) -> dict[str, Any]:
        return {"target_classes": list(self.target_classes) if self.target_classes else None,
                "pool_size": self.pool_size, "test_per_class": self.test_per_class}

    def reference_cells(self, spec: CellSpec) -> list[CellSpec]:
        return [] if self.budget == FULL else [full_pool_spec(spec)]

    def check_method(self, method_name: str, needs: Needs) -> None:
        if self.budget == FULL and method_name != FULL_METHOD:
            raise SuiteError(f"budget: full is the acc_full reference; its method must be {FULL_METHOD!r}.")
        super().check_method(method_name, needs)

    def load_splits(self, spec: CellSpec, root: str | Path | None) -> tuple[ImagePool, Splits]:
        pool = load_pool(spec.dataset, root)
        key = ("oneshot-splits", spec.dataset.to_dict(), spec.imbalance.to_dict(), self.pool_key(), spec.seed)
        return pool, make_target_splits(pool, make_imbalance(spec.imbalance), rng_for(*key),
                                        target_classes=self.target_classes, pool_size=self.pool_size,
                                        test_per_class=self.test_per_class,
                                        budget=None if self.budget == FULL else int(self.budget))

    def prepare(self, spec: CellSpec, root: str | Path | None, timer: PhaseTimer, counter: PassCounter,
                log: CellLog) -> OneShotEpisode:
        with timer.phase("load"):
            pool, splits = self.load_splits(spec, root)
        log.say(f"{spec.label()} pool={len(splits.pool_idx)} test={len(splits.test_idx)} classes={len(splits.classes)} "
                f"pool_ir={splits.induced.achieved_ir:.3f}")
        with timer.phase("pretrain"):  # the shared one-time artifact of the setting (see report/profile.py)
            src, computed = source_outputs(pool, spec.dataset.to_dict(), self.source, counter)
        log.say(f"source features {'computed' if computed else 'loaded from cache'}: "
                f"d={src.train_features.shape[1]}, source classes={src.train_probs.shape[1]}")
        return OneShotEpisode(self, spec, splits, src, computed)


def full_pool_spec(spec: CellSpec) -> CellSpec:
    """The acc_full reference cell of a one-shot cell: same data, pool, source and target recipe."""
    return CellSpec(dataset=spec.dataset, imbalance=spec.imbalance, method=Component(FULL_METHOD),
                    learner=spec.learner, scenario={**spec.to_dict()["scenario"], "budget": FULL}, seed=spec.seed)


class OneShotEpisode(Episode):
    """The source model's cached outputs over the target pool, and M_T trained once at the end.

    The acc_full reference cell (``budget: full``) labels the whole pool as its initial set and
    has no selection round."""

    def __init__(self, sc: OneShotScenario, spec: CellSpec, splits: Splits, src: Any, computed: bool):
        self.sc, self.spec, self.splits = sc, spec, splits
        self.num_classes = len(splits.classes)
        self.full = sc.budget == FULL
        self.rounds = 0 if self.full else 1
        n = len(splits.pool_idx)
        self.oracle = Oracle(splits.pool_y, budget=n if self.full else int(sc.budget))
        self.splits = splits if not self.full else Splits(**{**splits.__dict__, "initial": np.arange(n)})
        self.feats, self.probs = src.train_features[splits.pool_idx], src.train_probs[splits.pool_idx]
        self.test_feats = src.test_features[splits.test_idx]
        self.recipe = TargetRecipe.from_mapping(sc.target)
        self.device = str(resolve_device("auto"))  # the source model's Learner runs on device "auto"
        self.computed = computed
        self._pred: np.ndarray | None = None
        self._info: dict[str, Any] = {}

    def per_round(self, b: int) -> int:
        return int(self.sc.budget)

    def evaluates(self, b: int, n_labelled: int) -> bool:
        return n_labelled > 0  # no target model before anything is labelled

    def fit(self, labelled: np.ndarray, labelled_y: np.ndarray, b: int) -> dict[str, Any]:
        self._pred, self._info = fit_predict(self.feats[labelled], labelled_y, self.test_feats, self.num_classes,
                                             self.recipe, torch_seed("target", self.spec.cell_id))
        return self._info

    def predict_test(self) -> np.ndarray:
        if self._pred is None:
            raise AlbenchError("The target model is trained in fit(); predict_test() came first.")
        return self._pred

    def select_rng(self, b: int) -> np.random.Generator:
        return rng_for("select", self.spec.cell_id)  # one selection per cell: no round in the key

    def view(self, needs: Needs, method: QueryStrategy, labelled: np.ndarray, labelled_y: np.ndarray,
             unlabelled: np.ndarray, b: int) -> SelectionView:
        feats, probs = self.feats, self.probs
        return SelectionView(unlabelled=unlabelled, labelled=labelled, labelled_y=labelled_y,
                             num_classes=self.num_classes, round=b,
                             probs=probs[unlabelled] if needs.probs else None,
                             labelled_probs=probs[labelled] if needs.labelled_probs else None,
                             features=feats[unlabelled] if needs.features or needs.oracle else None,
                             labelled_features=feats[labelled] if needs.features else None,
                             embeddings=feats[unlabelled] if needs.embeddings else None,
                             labelled_embeddings=feats[labelled] if needs.embeddings else None)

    def row_extras(self, fit_info: Mapping[str, Any]) -> dict[str, Any]:
        return {"svm_C": fit_info["C"], "cv_folds": fit_info["cv_folds"], "thresholded": fit_info["thresholded"]}

    def summary_extras(self) -> dict[str, Any]:
        return {"kind": "oneshot", "source_computed": self.computed}
