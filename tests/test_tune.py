"""albench tune: search spaces, resumable SQLite studies, the validation objective, pruning, the suite
fragment and the leaderboard's note on tuned rows."""
from __future__ import annotations

import dataclasses
import importlib.util
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.core.registry import METHODS, SCENARIOS
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import expand, load_suite
from benchmark.report.consolidate import component_label
from benchmark.report.leaderboard import build, notes, tuned_label, tuned_trials
from benchmark.tune import (
    Dimension,
    StudyOutcome,
    TuneReport,
    fragment_of,
    merge_fragment,
    parse_search_space,
    plan,
    search_space_of,
    suggest,
)
from tests.conftest import TINY_SCENARIO, tiny_suite

METHODS_IN_SUITE = ("random", "mc_entropy")
VAL_CLASSES = 10  # the synthetic dataset's classes
needs_optuna = pytest.mark.skipif(importlib.util.find_spec("optuna") is None,
                                  reason="optuna is not installed (pip install 'albench[tune]')")


# ----------------------------------------------------------------------------- search spaces
class RecordingTrial:
    """Stands in for an optuna trial: records the suggest_* calls and answers the low end."""

    def __init__(self):
        self.calls = []

    def suggest_int(self, name, low, high, log=False):
        self.calls.append(("int", name, low, high, log))
        return low

    def suggest_float(self, name, low, high, log=False):
        self.calls.append(("float", name, low, high, log))
        return low

    def suggest_categorical(self, name, choices):
        self.calls.append(("categorical", name, tuple(choices)))
        return choices[0]


def test_search_space_declarations_become_typed_suggest_calls():
    space = {"samples": ("int", 4, 64, "log"), "members": ("int", 2, 8), "temperature": ("float", 0.1, 10.0, "log"),
             "weight": ("float", 0, 1), "labels": ("categorical", ["pred", "pyz"])}
    dims = parse_search_space(space, "probe")
    assert dims["samples"] == Dimension("samples", "int", 4, 64, log=True)
    assert dims["weight"].kind == "float" and not dims["weight"].log
    trial = RecordingTrial()
    assert suggest(trial, dims) == {"samples": 4, "members": 2, "temperature": 0.1, "weight": 0, "labels": "pred"}
    assert trial.calls == [("int", "samples", 4, 64, True), ("int", "members", 2, 8, False),
                           ("float", "temperature", 0.1, 10.0, True), ("float", "weight", 0.0, 1.0, False),
                           ("categorical", "labels", ("pred", "pyz"))]
    assert dims["samples"].contains(64) and not dims["samples"].contains(65) and not dims["samples"].contains(4.5)
    assert dims["labels"].contains("pyz") and not dims["labels"].contains("y")


@pytest.mark.parametrize("decl, says", [
    (("int", 1.5, 4), "integers"),
    (("int", 8, 2), "low must be below high"),
    (("float", 0.0, 1.0, "log"), "log-scale dimension needs low > 0"),
    (("float", 0.1, 1.0, "linear"), "expected ('float', low, high)"),
    (("int", True, 4), "integers"),
    (("categorical", []), "at least one choice"),
    (("categorical", [{"a": 1}]), "choices must be None, bool, int, float or str"),
    (("categorical", ["a", "a"]), "duplicate choices"),
    (("uniform", 0, 1), "expected"),
    (5, "expected"),
])
def test_bad_declarations_raise_a_clear_error(decl, says):
    with pytest.raises(AlbenchError, match="probe") as err:
        parse_search_space({"p": decl}, "probe")
    assert says in str(err.value) and "'p'" in str(err.value)


def test_search_space_names_must_be_constructor_parameters():
    with pytest.raises(AlbenchError, match="takes no parameter 'sample'.*samples"):
        parse_search_space({"sample": ("int", 2, 8)}, "mc_entropy", METHODS.get("mc_entropy"))


def test_a_method_without_a_search_space_has_nothing_to_tune():
    for name in ("coreset", "entropy+bal"):
        with pytest.raises(AlbenchError, match=re.escape(f"{name!r} declares no search space: nothing to tune")):
            search_space_of(name)
    assert set(search_space_of("mc_entropy+bal")) == {"samples"}  # a +bal twin tunes its base method's


def test_every_declared_search_space_is_valid_and_holds_buildable_values():
    declared = [n for n in METHODS.names() if getattr(METHODS.get(n), "search_space", None) is not None]
    assert {"varR", "mc_entropy", "bald", "ensemble_varR", "pfk", "vaal", "badge", "cluster_margin", "probcover",
            "typiclust"} <= set(declared)
    for name in declared:
        dims = search_space_of(name)
        low = {n: d.choices[-1] if d.kind == "categorical" else d.low for n, d in dims.items()}
        high = {n: d.choices[0] if d.kind == "categorical" else d.high for n, d in dims.items()}
        for params in (low, high):
            METHODS.create(name, **params)  # both ends of the space are valid constructor arguments


# ----------------------------------------------------------------------------- the evaluate_on scenario key
def test_evaluate_on_is_validated():
    for kind in ("iterative", "coldstart"):
        cls = SCENARIOS.get(kind)
        assert cls.from_mapping({"evaluate_on": "validation"}).evaluate_on == "validation"
        with pytest.raises(SuiteError, match="val_per_class is 0"):
            cls.from_mapping({"evaluate_on": "validation", "val_per_class": 0})
        with pytest.raises(SuiteError, match="evaluate_on must be one of"):
            cls.from_mapping({"evaluate_on": "train"})


def test_tuning_cells_share_the_suite_cells_pool_and_splits():
    from benchmark.scenarios.runner import prepare

    suite = expand(tiny_suite(methods=METHODS_IN_SUITE))
    (p,) = plan(suite, "mc_entropy")
    cell = next(c for c in suite.cells if c.method.name == "mc_entropy")
    tuning = p.setting.spec(cell.method, cell.seed)
    assert tuning.scenario["evaluate_on"] == "validation" and tuning.cell_id != cell.cell_id
    (_, _, a), (_, _, b) = prepare(cell), prepare(tuning)
    for name in ("pool_idx", "val_idx", "test_idx", "initial"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_plan_refuses_a_suite_without_a_validation_split():
    suite = expand(tiny_suite(methods=METHODS_IN_SUITE, scenario={**TINY_SCENARIO, "val_per_class": 0}))
    with pytest.raises(SuiteError, match="val_per_class is 0"):
        plan(suite, "mc_entropy")


def test_plan_keeps_the_suites_other_parameters_and_starts_from_its_values():
    suite = expand(tiny_suite(methods=("random", {"name": "pfk", "labels": "pred", "mc_samples": 4})))
    (p,) = plan(suite, "pfk")
    assert set(p.dims) == {"labels", "mc_samples"} and dict(p.params) == {}
    assert dict(p.start) == {"labels": "pred", "mc_samples": 4}
    (pinned,) = plan(suite, "pfk", params={"labels": "pyz"})
    assert set(pinned.dims) == {"mc_samples"} and dict(pinned.params) == {"labels": "pyz"}
    assert pinned.name != p.name  # another objective, another study


# ----------------------------------------------------------------------------- studies
def _load(db, name):
    import optuna

    from benchmark.tune import storage_url

    return optuna.load_study(study_name=name, storage=storage_url(db))


@needs_optuna
def test_a_study_resumes_and_its_best_parameters_load_back_as_a_suite_entry(tiny_suite_file, tmp_path):
    from benchmark.tune import tune

    path = tiny_suite_file(methods=METHODS_IN_SUITE)
    results = tmp_path / "results"
    first = tune(path, "mc_entropy", 3, results=results, prune=False)
    (study,) = first.studies
    assert first.db == results / "tune" / "tiny.db" and first.db.is_file()
    assert len(_load(first.db, study.study_name).trials) == 3
    assert study.study_name.startswith("mc_entropy-")
    again = tune(path, "mc_entropy", 3, results=results, prune=False)
    trials = _load(first.db, study.study_name).trials
    assert again.studies[0].study_name == study.study_name
    assert [t.number for t in trials] == list(range(6))  # resumed, not restarted
    assert trials[0].params == {"samples": 128}  # the untuned default is the first trial
    assert again.studies[0].trials == 6
    assert not ResultStore(results).cells.exists()  # tuning cells go to the tune store only
    assert len(list((results / "tune" / "cells").iterdir())) == len({t.params["samples"] for t in trials})

    fragment = yaml.safe_load(again.fragment_path.read_text())
    (entry,) = fragment["method"]
    assert entry == {"name": "mc_entropy", "samples": again.studies[0].best_params["samples"],
                     "label": "mc_entropy (tuned, 6 trials)"}
    suite = expand(tiny_suite(methods=list(METHODS_IN_SUITE) + fragment["method"]))
    tuned = [c for c in suite.cells if c.method.label]
    assert len(tuned) == 1 and component_label(tuned[0].method) == "mc_entropy (tuned, 6 trials)"
    assert "evaluate_on" not in tuned[0].scenario  # the suite's cell scores the test split

    merged_path = tmp_path / "merged.yaml"
    from benchmark.tune import write_merged

    write_merged(again, merged_path)
    merged = load_suite(merged_path)
    assert merged.name == "tiny-tuned"
    assert {component_label(c.method) for c in merged.cells} == {"random", "mc_entropy", "mc_entropy (tuned, 6 trials)"}
    write_merged(again, merged_path)  # merging again replaces the tuned entry, never duplicates it
    assert len(load_suite(merged_path).cells) == len(merged.cells)


@needs_optuna
def test_the_sampler_is_seeded_and_a_resumed_study_draws_new_parameters(tmp_path):
    from benchmark.tune import open_study

    (p,) = plan(expand(tiny_suite(methods=METHODS_IN_SUITE)), "mc_entropy")

    def draws(db, n):
        study = open_study(p, db, enqueue_defaults=False)
        out = []
        for _ in range(n):
            trial = study.ask()
            out.append(suggest(trial, p.dims)["samples"])
            study.tell(trial, 0.5)
        return out

    first = draws(tmp_path / "a.db", 3)
    assert draws(tmp_path / "b.db", 3) == first  # the same trial order gives the same study
    resumed = draws(tmp_path / "a.db", 3)
    assert resumed != first and draws(tmp_path / "b.db", 3) == resumed


class _Poisoned(np.ndarray):
    """Test images that fail when read."""

    def __getitem__(self, key):
        raise AssertionError("the test images were read")


def _poisoned_test_images(load_pool):
    def load(*args, **kwargs):
        pool = load_pool(*args, **kwargs)
        return dataclasses.replace(pool, test_x=pool.test_x.view(_Poisoned))

    return load


@needs_optuna
def test_the_objective_never_scores_the_test_split(tiny_suite_file, tmp_path, monkeypatch):
    import benchmark.scenarios.iterative as iterative
    from benchmark.scenarios.runner import run_cell
    from benchmark.tune import tune

    monkeypatch.setattr(iterative, "load_pool", _poisoned_test_images(iterative.load_pool))
    path = tiny_suite_file(methods=METHODS_IN_SUITE)
    suite = load_suite(path)
    with pytest.raises(AssertionError, match="test images were read"):  # the poison works on a suite cell
        run_cell(suite.cells[0])
    report = tune(path, "mc_entropy", 1, results=tmp_path, prune=False)
    store = ResultStore(tmp_path / "tune")
    (cell_id,) = _load(report.db, report.studies[0].study_name).trials[0].user_attrs["cells"]
    assert len(store.read_test_labels(cell_id)) == TINY_SCENARIO["val_per_class"] * VAL_CLASSES
    assert store.read_summary(cell_id)["evaluate_on"] == "validation"
    assert store.read_spec(cell_id).scenario["evaluate_on"] == "validation"


def test_on_round_sees_every_evaluated_row_as_it_is_made():
    from benchmark.scenarios.runner import run_cell

    cell = next(c for c in expand(tiny_suite(methods=("random",))).cells)
    seen = []
    result = run_cell(cell, on_round=seen.append)
    assert [r["labels_used"] for r in seen] == result.rounds["labels_used"].tolist()
    assert [r["balanced_accuracy"] for r in seen] == result.rounds["balanced_accuracy"].tolist()


def _constructed(intermediate: float, p):
    from optuna.trial import create_trial

    return create_trial(params={"samples": 8}, distributions={"samples": p.dims["samples"].distribution()},
                        value=intermediate, intermediate_values={0: intermediate, 1: intermediate, 2: intermediate})


@needs_optuna
@pytest.mark.parametrize("others, pruned", [(1.0, True), (0.0, False)])
def test_a_trial_below_the_median_at_an_intermediate_round_is_pruned(tiny_suite_file, tmp_path, others, pruned):
    from benchmark.tune import open_study, tune

    path = tiny_suite_file(methods=METHODS_IN_SUITE)
    (p,) = plan(load_suite(path), "mc_entropy")
    db = tmp_path / "tune" / "tiny.db"
    study = open_study(p, db, enqueue_defaults=False)
    for _ in range(2):  # two finished trials whose running AUBC is `others` after every round
        study.add_trial(_constructed(others, p))
    report = tune(path, "mc_entropy", 1, results=tmp_path, prune_startup=2, prune_warmup=1)
    last = _load(db, p.name).trials[-1]
    from optuna.trial import TrialState

    if pruned:  # reported round 0 (warm-up) and round 1, where it fell below the median, and stopped there
        assert last.state == TrialState.PRUNED
        assert sorted(last.intermediate_values) == [0, 1]
        assert not ResultStore(tmp_path / "tune").is_done(last.user_attrs["cells"][0])
        assert (report.studies[0].pruned, report.studies[0].trials) == (1, 3)
    else:
        assert last.state == TrialState.COMPLETE and sorted(last.intermediate_values) == [0, 1, 2]


def test_several_settings_give_one_grid_each(tiny_suite_file, tmp_path):
    raw = tiny_suite(methods=METHODS_IN_SUITE, imbalance=[{"name": "step", "ratio": 3}, {"name": "step", "ratio": 5}])
    plans = plan(expand(raw), "mc_entropy")
    assert len(plans) == 2 and len({p.name for p in plans}) == 2
    outcomes = [StudyOutcome(p, p.name, {"samples": s}, 0.5, complete=4, pruned=1, failed=0)
                for p, s in zip(plans, (8, 32))]
    report = TuneReport("tiny", tmp_path / "tiny.yaml", "mc_entropy", tmp_path / "tiny.db", outcomes)
    fragment = fragment_of(report)
    assert [g["method"][0]["samples"] for g in fragment["grids"]] == [8, 32]
    merged = expand(merge_fragment(raw, report))
    tuned = {(c.imbalance.to_dict()["params"]["ratio"], c.method.to_dict()["params"]["samples"])
             for c in merged.cells if c.method.label}
    assert tuned == {(3, 8), (5, 32)}  # each setting gets its own tuned parameters, and only there
    assert len(merged.cells) == len(expand(raw).cells) + 2
    only_one = {**raw, "grids": [{"imbalance": {"name": "step", "ratio": 3}},
                                 {"imbalance": {"name": "step", "ratio": 5}, "method": ["random"]}]}
    (p,) = plan(expand(only_one), "mc_entropy")  # the settings that list the method, when the suite lists it
    assert p.setting.imbalance.to_dict()["params"] == {"ratio": 3}


# ----------------------------------------------------------------------------- the leaderboard
def _table(methods):
    rows = []
    for method in methods:
        for seed in range(3):
            for b, acc in enumerate((0.5, 0.6 + 0.01 * seed)):
                rows.append({"dataset": "d", "imbalance": "i", "model": "m", "learner": "{}", "scenario": "{}",
                             "method": method, "seed": seed, "round": b, "labels_used": 10 * b,
                             "balanced_accuracy": acc, "accuracy": acc, "minority_accuracy": acc,
                             "classes_discovered": 10, "labelled_ir": 0.5, "uses_hidden_labels": False,
                             "extra_labels": 0})
    return pd.DataFrame(rows)


def test_the_leaderboard_states_the_trial_budget_of_tuned_rows():
    assert tuned_label("mc_entropy", 20) == "mc_entropy (tuned, 20 trials)"
    assert tuned_trials(tuned_label("pfk", 1)) == 1 and tuned_trials("pfk") == 0
    text = "\n".join(notes(build(_table(["random", "entropy", tuned_label("mc_entropy", 20)]))))
    assert "tuned rows used 20 optuna trials on the validation split; untuned rows use their defaults" in text
    assert "tuned rows" not in "\n".join(notes(build(_table(["random", "entropy"]))))
    two = "\n".join(notes(build(_table(["random", tuned_label("bald", 50), tuned_label("mc_entropy", 20)]))))
    assert "used 20 or 50 optuna trials" in two


@needs_optuna
def test_cli_names_a_method_with_nothing_to_tune(tiny_suite_file, tmp_path, capsys):
    from benchmark.tune import main

    assert main([str(tiny_suite_file()), "--method", "coreset", "--trials", "1", "--results", str(tmp_path)]) == 2
    assert "'coreset' declares no search space: nothing to tune" in capsys.readouterr().err


def test_tune_is_a_package_with_a_module_entry_point():
    import subprocess
    import sys

    import benchmark.tune as package

    assert package.tune.__module__ == "benchmark.tune.run" and package.Dimension.__module__ == "benchmark.tune.space"
    out = subprocess.run([sys.executable, "-m", "benchmark.tune", "--help"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("usage: python -m benchmark.tune")
    assert "an optuna study per (method, setting)" in " ".join(out.stdout.split())


@needs_optuna
def test_tune_progress_names_the_trials_own_seconds_and_the_cumulative_ones():
    import datetime

    import optuna

    from benchmark.tune.cli import progress_line

    (p,) = plan(expand(tiny_suite(methods=METHODS_IN_SUITE)), "mc_entropy")
    start = datetime.datetime(2024, 1, 1, 12, 0, 0)
    frozen = optuna.trial.FrozenTrial(
        number=3, state=optuna.trial.TrialState.COMPLETE, value=0.61234, datetime_start=start,
        datetime_complete=start + datetime.timedelta(seconds=7.4), params={"samples": 16},
        distributions={"samples": optuna.distributions.IntDistribution(8, 128, log=True)}, user_attrs={},
        system_attrs={}, intermediate_values={0: 0.5, 1: 0.6}, trial_id=4)
    line = progress_line(p, frozen, 95.2)
    assert line.startswith("trial 3 [mc_entropy · ") and "samples=16 → complete, validation AUBC 0.6123" in line
    assert line.endswith("(7s this trial, 95s since start)")
    running = optuna.trial.FrozenTrial(
        number=4, state=optuna.trial.TrialState.PRUNED, value=None, datetime_start=start, datetime_complete=None,
        params={}, distributions={}, user_attrs={}, system_attrs={}, intermediate_values={0: 0.4}, trial_id=5)
    assert progress_line(p, running, 101.0).endswith("→ pruned, stopped after 1 round(s) (101s since start)")
