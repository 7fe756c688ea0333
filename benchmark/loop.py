"""run_cell: the iterative scenario loop for one CellSpec.

pool → imbalance → splits → initial labelled set → for each round b = 0..B:
train (if anything is labelled) → evaluate → [b < B: infer what the method needs → select → label].

Row b of the per-round table is the model trained on the labels held after b rounds, and the
selection made from it. Paired design: pool, splits, initial set, initial weights and the
per-round training seed derive from ``spec.paired_key()``, which excludes the method.
Model selection: none on the test split; the last epoch's weights are evaluated.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import AlbenchError
from .learner import Learner, LearnerRecipe, resolve_device
from .metrics import area_under_budget_curve, classification_metrics, labelled_set_metrics
from .oracle import Oracle, RoundOracle
from .pools import load_pool, make_imbalance
from .profiling import CellLog, PassCounter, PhaseTimer
from .registry import METHODS
from .scenario import IterativeScenario, make_splits
from .seeding import derive_seed, rng_for
from .spec import CellSpec
from .store import CellResult
from .strategy import Needs, QueryStrategy, SelectionView, validate_selection


def split_key(spec: CellSpec) -> tuple:
    """What the pool, the splits and the initial set depend on (never the method or the learner)."""
    return ("splits", spec.dataset.to_dict(), spec.imbalance.to_dict(), dict(spec.scenario), spec.seed)


def prepare(spec: CellSpec, root: str | Path | None = None):
    """Load data and make the paired splits; shared by run_cell and the tests."""
    pool = load_pool(spec.dataset, root)
    imbalance = make_imbalance(spec.imbalance)
    scenario = IterativeScenario.from_mapping(spec.scenario)
    splits = make_splits(pool, imbalance, scenario, rng_for(*split_key(spec)))
    return pool, scenario, splits


def build_view(needs: Needs, learner: Learner, x_pool: np.ndarray,
               val_x: np.ndarray, val_y: np.ndarray, labelled: np.ndarray, labelled_y: np.ndarray,
               unlabelled: np.ndarray, num_classes: int, round_: int, seed: int,
               members: list[Learner] | None = None, hidden_y: np.ndarray | None = None) -> SelectionView:
    """Compute exactly what ``needs`` asks for, once. ``hidden_y`` (the pool's true labels) is passed
    only for methods that declare ``uses_hidden_labels``."""
    kw: dict[str, Any] = {"counter": learner.counter}
    x_unl = x_pool[unlabelled]
    if needs.probs:
        kw["probs"] = learner.predict_proba(x_unl)
    if needs.labelled_probs:
        kw["labelled_probs"] = learner.predict_proba(x_pool[labelled])
    if needs.embeddings:
        kw["embeddings"] = learner.penultimate(x_unl)
        kw["labelled_embeddings"] = learner.penultimate(x_pool[labelled])
    if needs.features:
        kw["features"] = learner.embed(x_unl, needs.feature_layers)
        kw["labelled_features"] = learner.embed(x_pool[labelled], needs.feature_layers) if len(labelled) else None
    if needs.mc_dropout:
        kw["mc_probs"] = learner.mc_dropout_proba(x_unl, needs.mc_dropout, seed)
    if needs.images:
        kw["images"] = x_unl
        kw["labelled_images"] = x_pool[labelled]
    if needs.validation:
        kw["val_y"] = val_y
        kw["val_images"] = val_x
        if needs.probs:
            kw["val_probs"] = learner.predict_proba(val_x)
        if needs.features:
            kw["val_features"] = learner.embed(val_x, needs.feature_layers)
    if needs.ensemble:
        kw["ensemble_probs"] = np.stack([m.predict_proba(x_unl) for m in (members or [learner])])
    if needs.hidden_labels:
        if hidden_y is None:
            raise AlbenchError("A method asked for hidden labels but does not declare uses_hidden_labels = True.")
        kw["hidden_y"] = hidden_y[unlabelled]
    if needs.learner:
        kw["learner"] = learner
    return SelectionView(unlabelled=unlabelled, labelled=labelled, labelled_y=labelled_y,
                         num_classes=num_classes, round=round_, **kw)


def run_cell(spec: CellSpec, root: str | Path | None = None) -> CellResult:
    if spec.scenario.get("kind") == "oneshot":
        from .oneshot import run_oneshot_cell

        return run_oneshot_cell(spec, root)
    log = CellLog()
    say = log.say
    counter = PassCounter()
    timer = PhaseTimer(counter)

    with timer.phase("load"):
        pool, sc, splits = prepare(spec, root)
    say(f"{spec.label()} pool={len(splits.pool_idx)} val={len(splits.val_idx)} test={len(splits.test_idx)} "
        f"pool_ir={splits.induced.achieved_ir:.3f} minority={list(splits.induced.minority_classes)}")
    method: QueryStrategy = METHODS.create(spec.method.name, **spec.method.to_dict()["params"])
    needs = method.needs()
    recipe = LearnerRecipe.from_mapping(spec.learner)
    paired = spec.paired_key()
    x_pool = pool.train_x[splits.pool_idx]
    if needs.hidden_labels and not method.uses_hidden_labels:
        raise AlbenchError(f"Method {spec.method.name!r} asks for hidden labels without declaring "
                           f"uses_hidden_labels = True (only oracle ablations may).")
    init_file = None
    if recipe.init == "rotation":
        from .pretrain import RotationRecipe, rotation_checkpoint

        with timer.phase("pretrain"):
            path, computed = rotation_checkpoint(
                {"splits": split_key(spec)}, recipe.model, x_pool, pool.mean, pool.std,
                RotationRecipe.from_mapping(recipe.pretrain), derive_seed("rotation", split_key(spec)) % 2**31,
                resolve_device(recipe.device), counter)
        init_file = str(path)
        say(f"rotation pretraining {'computed' if computed else 'loaded from cache'}: {path.name}")
    members = [Learner(recipe, pool.num_classes, pool.image_shape, pool.mean, pool.std,
                       seed=derive_seed("init", paired, *([m] if m else [])) % 2**31,
                       use_dropout=needs.mc_dropout > 0, counter=counter, init_file=init_file)
               for m in range(max(1, needs.ensemble))]
    learner = members[0]

    oracle = Oracle(pool.train_y[splits.pool_idx], budget=sc.budget)
    val_x, val_y = pool.train_x[splits.val_idx], pool.train_y[splits.val_idx]
    test_x, test_y = pool.test_x[splits.test_idx], pool.test_y[splits.test_idx]

    labelled = np.asarray(splits.initial, dtype=np.int64)
    labelled_y = oracle.reveal(labelled)
    rows: list[dict[str, Any]] = []
    selections: list[dict[str, int]] = [{"round": -1, "position": int(p), "pool_index": int(splits.pool_idx[p])}
                                        for p in labelled]
    predictions = np.zeros((sc.rounds + 1, len(test_y)), dtype=np.int16)
    for b in range(sc.rounds + 1):
        with timer.phase("train"):
            # member 0 is the task model every method shares; the others exist only for ensembles
            fits = [member.fit(pool.train_x[splits.pool_idx[labelled]], labelled_y,
                               round_seed=derive_seed("train", paired, b, *([m] if m else [])) % 2**31)
                    for m, member in enumerate(members)] if len(labelled) else []
            fit_info = fits[0] if fits else {"train_loss": float("nan")}
        with timer.phase("evaluate"):
            pred = learner.predict_proba(test_x).argmax(1)
        predictions[b] = pred
        row: dict[str, Any] = {"round": b, **labelled_set_metrics(labelled_y, pool.num_classes),
                               **classification_metrics(test_y, pred, pool.num_classes, splits.induced.minority_classes),
                               **fit_info}
        if b < sc.rounds:
            unlabelled = np.setdiff1d(np.arange(len(splits.pool_idx)), labelled)
            with timer.phase("infer"):
                view = build_view(needs, learner, x_pool, val_x, val_y, labelled, labelled_y,
                                  unlabelled, pool.num_classes, b, derive_seed("mc", spec.cell_id, b) % 2**31,
                                  members=members, hidden_y=oracle.hidden_for_ablation(method))
            round_oracle = RoundOracle(oracle, limit=sc.per_round)
            if needs.oracle:  # labels revealed one at a time inside select, counted against the round
                view = replace(view, oracle=round_oracle)
            with timer.phase("select"):
                chosen = method.select(view, sc.per_round, rng_for("select", spec.cell_id, b))
            chosen = validate_selection(chosen, view, sc.per_round, spec.method.name)
            with timer.phase("label"):
                new_y = round_oracle.label_rest(chosen)
            labelled = np.concatenate([labelled, chosen])
            labelled_y = np.concatenate([labelled_y, new_y])
            selections += [{"round": b, "position": int(p), "pool_index": int(splits.pool_idx[p])} for p in chosen]
        row.update(timer.flush())
        rows.append(row)
        say(f"round {b}: labels={row['labels_used']} acc={row['accuracy']:.4f} bal={row['balanced_accuracy']:.4f} "
            f"classes={row['classes_discovered']} ir={row['labelled_ir']:.3f}")

    rounds = pd.DataFrame(rows)
    rounds.insert(0, "cell_id", spec.cell_id)
    summary = {
        "cell_id": spec.cell_id,
        "label": spec.label(),
        "rounds": sc.rounds,
        "budget": sc.budget,
        "pool_size": int(len(splits.pool_idx)),
        "pool_ir": splits.induced.achieved_ir,
        "minority_classes": list(splits.induced.minority_classes),
        "final_accuracy": float(rounds["accuracy"].iloc[-1]),
        "final_balanced_accuracy": float(rounds["balanced_accuracy"].iloc[-1]),
        "final_minority_accuracy": float(rounds["minority_accuracy"].iloc[-1]),
        "final_classes_discovered": int(rounds["classes_discovered"].iloc[-1]),
        "final_labelled_ir": float(rounds["labelled_ir"].iloc[-1]),
        "aubc": area_under_budget_curve(rounds["labels_used"], rounds["balanced_accuracy"]),
        "uses_hidden_labels": bool(method.uses_hidden_labels),
        "seconds": round(log.elapsed(), 3),
        "forward_passes": counter.forward,
        "backward_passes": counter.backward,
        "induced": splits.induced.info,
    }
    from .environment import environment

    return CellResult(spec=spec, rounds=rounds, selections=pd.DataFrame(selections), predictions=predictions,
                      summary=summary, environment=environment(str(learner.device)), log=log.text())
