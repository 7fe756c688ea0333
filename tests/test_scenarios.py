"""Scenario plugins: the registry, the cold start, and needs refused when a suite expands."""
from __future__ import annotations

import pytest

from benchmark.core.errors import SuiteError
from benchmark.core.registry import SCENARIOS
from benchmark.execute.suite import expand
from benchmark.scenarios.runner import run_cell
from tests.conftest import tiny_suite


def test_three_scenarios_are_registered():
    assert SCENARIOS.names() == ["coldstart", "iterative", "oneshot"]


def test_cold_start_gives_every_method_the_same_random_first_batch():
    scenario = {"kind": "coldstart", "rounds": 2, "per_round": 5, "val_per_class": 3}
    cells = expand(tiny_suite(methods=("entropy", "margin"), scenario=scenario)).cells
    a, b = (run_cell(c) for c in cells)
    first = [r.selections[r.selections["round"] == 0]["position"].tolist() for r in (a, b)]
    assert first[0] == first[1] and len(first[0]) == 5
    assert a.rounds["labels_used"].tolist() == [0, 5, 10]
    assert not (a.selections["round"] == -1).any()  # nothing labelled up front


def test_cold_start_lets_the_method_choose_round_zero_when_asked():
    scenario = {"kind": "coldstart", "rounds": 1, "per_round": 5, "val_per_class": 3, "first_round": "method"}
    cells = expand(tiny_suite(methods=("entropy", "margin"), scenario=scenario)).cells
    picks = [run_cell(c).selections["position"].tolist() for c in cells]
    assert picks[0] != picks[1]


@pytest.mark.parametrize("scenario, message", [
    ({"kind": "coldstart", "initial": 5}, "initial must be 0"),
    ({"kind": "coldstart", "first_round": "oracle"}, "first_round must be one of"),
    ({"kind": "nosuch"}, "Unknown scenario 'nosuch'"),
])
def test_bad_scenarios_are_refused_when_the_suite_expands(scenario, message):
    with pytest.raises(SuiteError, match=message):
        expand(tiny_suite(scenario=scenario))


def test_needs_a_scenario_cannot_provide_are_refused_when_the_suite_expands():
    suite = tiny_suite(methods=("varR",), scenario={"kind": "oneshot", "budget": 10,
                                                     "source": {"model": "small_cnn", "train": {"classes": [0, 1]}},
                                                     "target_classes": [2, 3, 4]})
    with pytest.raises(SuiteError, match="needs mc_dropout, which the 'oneshot' scenario does not provide"):
        expand(suite)
