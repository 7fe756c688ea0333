"""CVPR 2020-style iterative AL (Gudovskiy et al., §5.1): ``rounds`` rounds of ``per_round`` labels
after ``initial`` random ones; the task model is retrained after every round (from the same initial
weights, or warm-started with ``learner.warm_start``), and evaluated on the balanced test split.

Row b of the per-round table is the model trained on the labels held after b rounds, and the
selection made from it. Paired design: pool, splits, initial set, initial weights and the
per-round training seeds derive from ``spec.paired_key()``, which excludes the method.
Model selection: none on the test split; the last epoch's weights are evaluated.
``evaluate_on: validation`` scores every round on the balanced validation split instead of the test
split (``albench tune``'s objective: the test images are then never read).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.errors import Rule, SuiteError, check_fields
from benchmark.core.profiling import CellLog, PassCounter, PhaseTimer
from benchmark.core.registry import register_scenario
from benchmark.core.seeding import rng_for, torch_seed
from benchmark.core.spec import CellSpec
from benchmark.data.loading import load_pool, make_imbalance
from benchmark.data.oracle import Oracle
from benchmark.data.pool import ImagePool
from benchmark.data.splits import Splits, make_splits
from benchmark.learn.contrastive import SimCLRRecipe, ssl_embedding, ssl_key
from benchmark.learn.learner import Learner, LearnerRecipe, resolve_device
from benchmark.scenarios.base import Episode, Scenario
from benchmark.select.api import Needs, QueryStrategy, SelectionView

ITERATIVE_PROVIDES = frozenset({"probs", "labelled_probs", "features", "embeddings", "mc_dropout", "validation",
                                "images", "learner", "ensemble", "hidden_labels", "oracle", "ssl_embeddings"})
EVALUATE_ON = ("test", "validation")  # the split every round is scored on


def split_key(spec: CellSpec) -> tuple[Any, ...]:
    """What the pool, the splits and the initial set depend on (never the method or the learner, nor
    which split a round is scored on: a tuning cell has the same pool and splits as the suite's cell, nor
    the self-supervised embedding's recipe)."""
    scenario = {k: v for k, v in spec.scenario.items() if k not in ("evaluate_on", "ssl")}
    return ("splits", spec.dataset.to_dict(), spec.imbalance.to_dict(), scenario, spec.seed)


@register_scenario("iterative")
@dataclass(frozen=True)
class IterativeScenario(Scenario):
    """Iterative AL: ``rounds`` rounds of ``per_round`` labels after ``initial`` ones.

    ``val_per_class`` images per class are held out of the training split as the balanced
    validation set (drawn before imbalance, so it stays balanced); ``pool_size`` optionally
    subsamples the rest (before imbalance); ``test_per_class`` optionally subsamples the official
    test split to a balanced subset. ``initial=0`` means the first round selects from the
    initial (random or pretrained) model, as in the CVPR paper. ``ssl`` is the recipe of the pool's
    self-supervised embedding (``benchmark.learn.contrastive.SimCLRRecipe``; defaults when absent),
    computed only when a method asks for it (``embedding: self_supervised``).
    """

    rounds: int = 5
    per_round: int = 10
    initial: int = 20
    val_per_class: int = 10
    pool_size: int | None = None
    test_per_class: int | None = None
    evaluate_on: str = "test"
    ssl: Mapping[str, Any] | None = None
    kind: str = "iterative"

    provides: ClassVar[frozenset[str]] = ITERATIVE_PROVIDES

    rules: ClassVar[Mapping[str, Rule]] = {
        "rounds": Rule(low=0), "per_round": Rule(low=1), "initial": Rule(low=0), "val_per_class": Rule(low=0),
        "pool_size": Rule(low=1), "test_per_class": Rule(low=1)}

    def __post_init__(self) -> None:
        if self.evaluate_on not in EVALUATE_ON:
            raise SuiteError(f"scenario.evaluate_on must be one of {EVALUATE_ON}, got {self.evaluate_on!r}.")
        if self.evaluate_on == "validation" and self.val_per_class == 0:
            raise SuiteError("scenario.evaluate_on: validation needs a validation split, but val_per_class is 0; "
                             "set val_per_class to the validation images per class.")

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> IterativeScenario:
        check_fields(d, cls, "scenario", f"the {cls.kind_name()} scenario", cls.rules)
        sc = cls(**dict(d))
        sc.check_budget()
        sc.ssl_recipe()
        return sc

    def ssl_recipe(self) -> SimCLRRecipe:
        """The checked recipe of the self-supervised embedding (``scenario.ssl``)."""
        return SimCLRRecipe.from_mapping(self.ssl or {}, "scenario.ssl")

    def check_budget(self) -> None:
        """The labels the cell spends must be at least one and, with ``pool_size``, fit in the pool (what
        can be checked before the data is loaded; the imbalanced pool is checked when the cell starts)."""
        spent = f"initial + rounds × per_round = {self.initial} + {self.rounds} × {self.per_round} = {self.budget}"
        if self.budget < 1:
            raise SuiteError(f"scenario labels nothing ({spent}); set initial >= 1 or rounds >= 1.")
        if self.pool_size is not None and self.budget > self.pool_size:
            raise SuiteError(f"scenario budget {spent} exceeds scenario.pool_size {self.pool_size}; the budget "
                             f"must be at most the pool size.")

    @classmethod
    def kind_name(cls) -> str:
        return str(getattr(cls, "registered_name", "iterative"))

    @property
    def budget(self) -> int:
        return self.initial + self.rounds * self.per_round

    def first_batch(self, pool_size: int, paired_key: Any) -> np.ndarray | None:
        """A batch every method takes in round 0 instead of selecting (the cold start's); None here."""
        return None

    def load_splits(self, spec: CellSpec, root: str | Path | None) -> tuple[ImagePool, Splits]:
        pool = load_pool(spec.dataset, root)
        return pool, make_splits(pool, make_imbalance(spec.imbalance), rng_for(*split_key(spec)),
                                 val_per_class=self.val_per_class, pool_size=self.pool_size,
                                 test_per_class=self.test_per_class, initial=self.initial, budget=self.budget)

    def prepare(self, spec: CellSpec, root: str | Path | None, timer: PhaseTimer, counter: PassCounter,
                log: CellLog) -> IterativeEpisode:
        with timer.phase("load"):
            pool, splits = self.load_splits(spec, root)
        log.say(f"{spec.label()} pool={len(splits.pool_idx)} val={len(splits.val_idx)} test={len(splits.test_idx)} "
                f"pool_ir={splits.induced.achieved_ir:.3f} minority={list(splits.induced.minority_classes)}")
        return IterativeEpisode(self, spec, pool, splits, timer, counter, log)


class IterativeEpisode(Episode):
    """The task model (and, for ensembles, its other members) over one cell's pool."""

    def __init__(self, sc: IterativeScenario, spec: CellSpec, pool: ImagePool, splits: Splits,
                 timer: PhaseTimer, counter: PassCounter, log: CellLog):
        self.sc, self.spec, self.pool, self.splits, self.timer = sc, spec, pool, splits, timer
        self.num_classes = pool.num_classes
        self.rounds = sc.rounds
        self.oracle = Oracle(splits.pool_y, budget=sc.budget)
        self.recipe = LearnerRecipe.from_mapping(spec.learner)
        self.device = str(resolve_device(self.recipe.device))
        self.counter, self.log = counter, log
        self.x_pool = pool.train_x[splits.pool_idx]
        self.val_x, self.val_y = pool.train_x[splits.val_idx], pool.train_y[splits.val_idx]
        # the images every round is scored on, and their labels (evaluate_on: validation never reads the test images)
        on_test = sc.evaluate_on == "test"
        self.eval_x = pool.test_x[splits.test_idx] if on_test else self.val_x
        self.eval_y = np.asarray(splits.test_y if on_test else self.val_y)
        self.members: list[Learner] = []
        self.rotation_accuracy: float | None = None  # of the rotation-pretrained backbone, if any
        self.ssl: np.ndarray | None = None  # the pool's self-supervised embedding, if a method asks for it

    def per_round(self, b: int) -> int:
        return self.sc.per_round

    def state(self) -> Any:
        """The members' weights when rounds fine-tune the previous round's (``warm_start``)."""
        if not self.recipe.warm_start:
            return None
        return [{k: v.detach().cpu().clone() for k, v in m.model.state_dict().items()} for m in self.members]

    def restore(self, state: Any) -> None:
        for member, weights in zip(self.members, state or []):
            member.model.load_state_dict(weights)

    def scripted_batch(self, b: int) -> np.ndarray | None:
        return self.sc.first_batch(len(self.splits.pool_idx), self.spec.paired_key()) if b == 0 else None

    def start(self, needs: Needs) -> None:
        """Build the task model (and ensemble members) once the method's needs are known."""
        spec, recipe, pool = self.spec, self.recipe, self.pool
        init_file = None
        if recipe.init == "rotation":
            from benchmark.learn.pretrain import RotationRecipe, rotation_checkpoint

            with self.timer.phase("pretrain"):
                path, computed, self.rotation_accuracy = rotation_checkpoint(
                    {"splits": split_key(spec)}, recipe.model, self.x_pool, pool.mean, pool.std,
                    RotationRecipe.from_mapping(recipe.pretrain), torch_seed("rotation", split_key(spec)),
                    resolve_device(recipe.device), self.counter, eval_images=self.eval_x)
            init_file = str(path)
            shown = "unknown" if self.rotation_accuracy is None else f"{self.rotation_accuracy:.4f}"
            self.log.say(f"rotation pretraining {'computed' if computed else 'loaded from cache'}: {path.name} "
                         f"(rotation accuracy on the scored split's images: {shown})")
        if needs.ssl_embeddings:
            self.start_ssl()
        paired = spec.paired_key()
        self.members = [Learner(recipe, pool.num_classes, pool.image_shape, pool.mean, pool.std,
                                seed=torch_seed("init", paired, *([m] if m else [])),
                                use_dropout=needs.mc_dropout > 0, counter=self.counter, init_file=init_file)
                        for m in range(max(1, needs.ensemble))]
        for member in self.members:
            member.infer_phase = lambda: self.timer.charge("infer", inside="select")

    def start_ssl(self) -> None:
        """Compute (phase ``pretrain``) or load the pool's cached self-supervised embedding."""
        spec, recipe = self.spec, self.sc.ssl_recipe()
        key = ssl_key(spec.dataset.to_dict(), spec.imbalance.to_dict(), spec.seed, self.splits.pool_idx, recipe)
        with self.timer.phase("pretrain"):
            self.ssl, computed, path = ssl_embedding(key, self.x_pool, recipe, torch_seed("ssl", key),
                                                     resolve_device(self.recipe.device), self.counter)
        self.log.say(f"self-supervised embedding {'computed' if computed else 'loaded from cache'}: {path.name} "
                     f"({self.ssl.shape[0]} × {self.ssl.shape[1]})")

    @property
    def learner(self) -> Learner:
        return self.members[0]

    def fit(self, labelled: np.ndarray, labelled_y: np.ndarray, b: int) -> dict[str, Any]:
        if not len(labelled):
            return {"train_loss": float("nan")}
        paired = self.spec.paired_key()
        # member 0 is the task model every method shares; the others exist only for ensembles
        fits = [member.fit(self.x_pool[labelled], labelled_y, round_seed=torch_seed("train", paired, b, *([m] if m else [])))
                for m, member in enumerate(self.members)]
        return fits[0]

    def predict_test(self) -> np.ndarray:
        """Predicted labels of the scored split (the test split, or validation with ``evaluate_on``)."""
        return self.learner.predict_proba(self.eval_x).argmax(1)

    def view(self, needs: Needs, method: QueryStrategy, labelled: np.ndarray, labelled_y: np.ndarray,
             unlabelled: np.ndarray, b: int) -> SelectionView:
        """Compute exactly what ``needs`` asks for, once. Hidden labels go only to methods that
        declare ``uses_hidden_labels``."""
        learner, x_pool = self.learner, self.x_pool
        kw: dict[str, Any] = {"counter": self.counter}
        x_unl = x_pool[unlabelled]
        if needs.probs:
            kw["probs"] = learner.predict_proba(x_unl)
        if needs.labelled_probs:
            kw["labelled_probs"] = learner.predict_proba(x_pool[labelled])
        if needs.embeddings:
            kw["embeddings"] = learner.penultimate(x_unl)
            kw["labelled_embeddings"] = learner.penultimate(x_pool[labelled])
        if needs.ssl_embeddings and self.ssl is not None:
            kw["ssl_embeddings"] = self.ssl[unlabelled]
            kw["labelled_ssl_embeddings"] = self.ssl[labelled]
        if needs.features:
            kw["features"] = learner.embed(x_unl, needs.feature_layers)
            kw["labelled_features"] = learner.embed(x_pool[labelled], needs.feature_layers) if len(labelled) else None
        if needs.mc_dropout:
            kw["mc_probs"] = learner.mc_dropout_proba(x_unl, needs.mc_dropout, torch_seed("mc", self.spec.cell_id, b))
        if needs.images:
            kw["images"] = x_unl
            kw["labelled_images"] = x_pool[labelled]
        if needs.validation:
            kw["val_y"] = self.val_y
            kw["val_images"] = self.val_x
            if needs.probs:
                kw["val_probs"] = learner.predict_proba(self.val_x)
            if needs.features:
                kw["val_features"] = learner.embed(self.val_x, needs.feature_layers)
        if needs.ensemble:
            kw["ensemble_probs"] = np.stack([m.predict_proba(x_unl) for m in self.members])
        if needs.hidden_labels:
            hidden = self.oracle.hidden_for_ablation(method)
            if hidden is None:
                raise SuiteError("A method asked for hidden labels but does not declare uses_hidden_labels = True.")
            kw["hidden_y"] = hidden[unlabelled]
        if needs.learner:
            kw["learner"] = learner
        return SelectionView(unlabelled=unlabelled, labelled=labelled, labelled_y=labelled_y,
                             num_classes=self.num_classes, round=b, **kw)

    def summary_extras(self) -> dict[str, Any]:
        scored = {"evaluate_on": self.sc.evaluate_on} if self.sc.evaluate_on != "test" else {}
        rotation = {"rotation_accuracy": round(self.rotation_accuracy, 6)} if self.rotation_accuracy is not None else {}
        return {"validation_labels": int(len(self.splits.val_idx)), **scored, **rotation}
