"""run_cell: the one runner for every scenario.

load the pool → induce imbalance → split (the scenario's ``prepare``) → build the task model →
for each round b = 0..R: train (if anything is labelled) → evaluate → [b < R: infer what the
method needs → select → label] → the cell's result. The scenario says what a round is; per-round
metrics, AUBC and phase costs mean the same in every scenario.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.environment import environment
from benchmark.core.errors import AlbenchError
from benchmark.core.metrics import (
    area_under_budget_curve,
    classification_metrics,
    labelled_set_metrics,
)
from benchmark.core.profiling import CellLog, PassCounter, PhaseTimer, reset_peak_rss
from benchmark.core.registry import METHODS, SCENARIOS
from benchmark.core.result import CellResult
from benchmark.core.seeding import rng_for
from benchmark.core.spec import FULL_POOL_METHOD, CellSpec
from benchmark.data.oracle import RoundOracle
from benchmark.data.pool import ImagePool
from benchmark.data.splits import Splits
from benchmark.learn.learner import TrainingDiverged
from benchmark.scenarios import checkpoint
from benchmark.scenarios.base import Episode, Scenario
from benchmark.select.api import Needs, QueryStrategy, SelectionView, validate_selection


def scenario_of(spec: CellSpec) -> Scenario:
    """The validated scenario object of a cell (its ``kind`` picks the registered class)."""
    mapping = spec.to_dict()["scenario"]
    cls: Any = SCENARIOS.get(str(mapping.get("kind", "iterative")))
    scenario: Scenario = cls.from_mapping(mapping)
    return scenario


def prepare(spec: CellSpec, root: str | Path | None = None) -> tuple[ImagePool, Scenario, Splits]:
    """The dataset, the validated scenario and the cell's paired splits (for reports and tests)."""
    scenario = scenario_of(spec)
    pool, splits = scenario.load_splits(spec, root)
    return pool, scenario, splits


def create_method(spec: CellSpec) -> QueryStrategy:
    if spec.method.name == FULL_POOL_METHOD:
        return QueryStrategy()  # the acc_full reference labels everything up front and never selects
    return METHODS.create(spec.method.name, **spec.method.to_dict()["params"])


def pseudo_label_scores(method: QueryStrategy, view: SelectionView, pool_y: np.ndarray,
                        minority: Sequence[int]) -> dict[str, float]:
    """A diagnostic of methods that label the pool themselves (``pool_pseudo_labels_``, aligned with
    ``view.unlabelled``; the FK kernel's S): how often those labels are right, over the unlabelled pool and
    over its minority-class points. Scored here, by the harness, against labels the method never sees."""
    guess = getattr(method, "pool_pseudo_labels_", None)
    if guess is None:
        return {}
    method.pool_pseudo_labels_ = None
    truth = pool_y[view.unlabelled]
    hit = np.asarray(guess) == truth
    rare = np.isin(truth, list(minority))
    return {"pseudo_label_accuracy": float(hit.mean()) if len(hit) else np.nan,
            "pseudo_label_minority_accuracy": float(hit[rare].mean()) if rare.any() else np.nan}


def round_view(episode: Episode, needs: Needs, method: QueryStrategy, labelled: np.ndarray,
               labelled_y: np.ndarray, b: int, timer: PhaseTimer, counter: PassCounter,
               round_oracle: RoundOracle) -> SelectionView:
    """What a method sees in round b: the scenario's inference (the *infer* phase), the pass counter,
    and the round's oracle for methods that label inside ``select``."""
    unlabelled = np.setdiff1d(np.arange(len(episode.splits.pool_idx)), labelled)
    with timer.phase("infer"):
        view = episode.view(needs, method, labelled, labelled_y, unlabelled, b)
    return replace(view, counter=counter, oracle=round_oracle if needs.oracle else None)


def random_first_batch(pool_size: int, labelled: np.ndarray, k: int, spec: CellSpec) -> np.ndarray:
    """Round 0's batch for a method with ``first_round: random``: k unlabelled pool positions drawn
    from the cell's paired seed, so every such method of a setting gets the same batch."""
    unlabelled = np.setdiff1d(np.arange(pool_size), labelled)
    return np.sort(rng_for("first_round", spec.paired_key()).choice(unlabelled, k, replace=False))


def scored_labels(episode: Episode) -> np.ndarray:
    """The labels a cell's rounds are scored against: the test split's, unless the episode scores
    another split (``evaluate_on: validation`` in the iterative scenarios)."""
    return np.asarray(getattr(episode, "eval_y", episode.splits.test_y))


def run_cell(spec: CellSpec, root: str | Path | None = None,
             on_round: Callable[[dict[str, Any]], None] | None = None,
             checkpoints: Path | None = None, stop: Callable[[], bool] | None = None) -> CellResult:
    """Run one cell. ``on_round`` is called with a copy of each evaluated round's row as soon as it is
    complete (a tuner reports the running AUBC and may stop the cell by raising). With
    ``checkpoints`` (a folder of this cell's own), every finished round is checkpointed there and a
    rerun resumes after the last one (``benchmark.scenarios.checkpoint``); then ``stop`` is asked
    after each checkpointed round, and True raises ``checkpoint.CellPaused`` (a time-boxed run)."""
    reset_peak_rss()  # peak memory is per cell, even in a long-lived worker
    log = CellLog()
    counter = PassCounter()
    timer = PhaseTimer(counter)
    scenario = scenario_of(spec)
    episode = scenario.prepare(spec, root, timer, counter, log)
    with timer.phase("load"):  # set-up: the method, the task model(s); rotation pretraining nests as its own phase
        method = create_method(spec)
        needs = method.needs()
    scenario.check_method(spec.method.name, needs)
    if needs.hidden_labels and not method.uses_hidden_labels:
        raise AlbenchError(f"Method {spec.method.name!r} asks for hidden labels without declaring "
                           f"uses_hidden_labels = True (only oracle ablations may).")
    with timer.phase("load"):
        episode.start(needs)
    splits, oracle = episode.splits, episode.oracle
    y_scored = scored_labels(episode)

    labelled = np.asarray(splits.initial, dtype=np.int64)
    labelled_y = oracle.reveal(labelled)
    rows: list[dict[str, Any]] = []
    selections: list[dict[str, int]] = [{"round": -1, "position": int(p), "pool_index": int(splits.pool_idx[p]),
                                         "label": int(y)} for p, y in zip(labelled, labelled_y)]
    predictions: list[np.ndarray] = []
    first_round, elapsed_before = 0, 0.0
    resumed = checkpoint.load(checkpoints, spec.cell_id)
    if resumed is not None:
        first_round, elapsed_before = resumed.next_round, resumed.elapsed
        rows, selections, predictions = resumed.rows, resumed.selections, resumed.predictions
        method = resumed.method
        episode.restore(resumed.episode_state)
        counter.forward += resumed.forward
        counter.backward += resumed.backward
        added = np.setdiff1d(resumed.labelled, labelled, assume_unique=True)
        oracle.reveal(added)  # the labels bought before the interruption count against the budget again
        labelled, labelled_y = resumed.labelled, resumed.labelled_y
        log.carry(resumed.log)
        log.say(f"resumed from the checkpoint after round {first_round - 1} "
                f"({len(labelled)} labels, {elapsed_before:.1f} s before the interruption)")
    for b in range(first_round, episode.rounds + 1):
        row: dict[str, Any] = {}
        if episode.evaluates(b, len(labelled)):
            with timer.phase("train"):
                try:
                    fit_info = episode.fit(labelled, labelled_y, b)
                except TrainingDiverged as exc:  # the cell fails with the round in the reason
                    raise TrainingDiverged(f"round {b}: {exc}") from None
            with timer.phase("evaluate"):
                pred = episode.predict_test()
            predictions.append(pred)
            row = {"round": b, **labelled_set_metrics(labelled_y, episode.num_classes),
                   **classification_metrics(y_scored, pred, episode.num_classes, splits.induced.minority_classes),
                   **episode.row_extras(fit_info)}
            if hasattr(method, "switched_at_"):
                row["switched_at"] = np.nan if method.switched_at_ is None else int(method.switched_at_)
        if b < episode.rounds:
            k = episode.per_round(b)
            round_oracle = RoundOracle(oracle, limit=k)
            chosen = episode.scripted_batch(b)
            if chosen is None and b == 0 and getattr(method, "first_round", "method") == "random":
                chosen = random_first_batch(len(episode.splits.pool_idx), labelled, k, spec)
            if chosen is None:
                view = round_view(episode, needs, method, labelled, labelled_y, b, timer, counter, round_oracle)
                with timer.phase("select"):
                    chosen = method.select(view, k, episode.select_rng(b))
                chosen = validate_selection(chosen, view, k, spec.method.name)
                if row:
                    row.update(pseudo_label_scores(method, view, splits.pool_y, splits.induced.minority_classes))
            with timer.phase("label"):
                new_y = round_oracle.label_rest(chosen)
            labelled = np.concatenate([labelled, chosen])
            labelled_y = np.concatenate([labelled_y, new_y])
            selections += [{"round": b, "position": int(p), "pool_index": int(splits.pool_idx[p]), "label": int(y)}
                           for p, y in zip(chosen, new_y)]
        if row:
            row.update(timer.flush())
            rows.append(row)
            log.say(f"round {b}: labels={row['labels_used']} acc={row['accuracy']:.4f} "
                    f"bal={row['balanced_accuracy']:.4f} classes={row['classes_discovered']} "
                    f"ir={row['labelled_ir']:.3f}")
        saved = False
        if checkpoints is not None and b < episode.rounds:
            saved = checkpoint.save(checkpoints, checkpoint.RoundState(
                spec.cell_id, b + 1, labelled, labelled_y, rows, selections, predictions, method,
                episode.state(), counter.forward, counter.backward, log.text(), elapsed_before + log.elapsed()))
        if row and on_round is not None:
            on_round(dict(row))
        if saved and stop is not None and stop():
            raise checkpoint.CellPaused(spec.cell_id, b + 1)

    rounds = pd.DataFrame(rows)
    rounds.insert(0, "cell_id", spec.cell_id)
    last = rounds.iloc[-1]
    summary = {
        "cell_id": spec.cell_id,
        "label": spec.label(),
        "scenario": getattr(scenario, "kind", type(scenario).__name__),
        "rounds": episode.rounds,
        "budget": int(len(labelled)),
        "num_classes": episode.num_classes,
        "pool_size": int(len(splits.pool_idx)),
        "pool_ir": splits.induced.achieved_ir,
        "minority_classes": list(splits.induced.minority_classes),
        "final_accuracy": float(last["accuracy"]),
        "final_balanced_accuracy": float(last["balanced_accuracy"]),
        "final_minority_accuracy": float(last["minority_accuracy"]),
        "final_classes_discovered": int(last["classes_discovered"]),
        "final_labelled_ir": float(last["labelled_ir"]),
        "aubc": area_under_budget_curve(rounds["labels_used"], rounds["balanced_accuracy"]),
        "uses_hidden_labels": bool(method.uses_hidden_labels),
        # labelled data the method reads outside its budget: the balanced validation set (FK Alg. 1 line 3)
        "extra_labels": int(len(splits.val_idx)) if needs.validation else 0,
        "seconds": round(elapsed_before + log.elapsed(), 3),
        "forward_passes": counter.forward,
        "backward_passes": counter.backward,
        "induced": splits.induced.info,
        **episode.summary_extras(),
    }
    return CellResult(spec=spec, rounds=rounds, selections=pd.DataFrame(selections),
                      predictions=np.stack(predictions).astype(np.int16),
                      summary=summary, environment=environment(episode.device), log=log.text(),
                      test_labels=y_scored.astype(np.int16))
