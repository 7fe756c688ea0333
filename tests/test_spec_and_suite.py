import copy

import pytest

from benchmark.core.errors import SuiteError
from benchmark.core.spec import CellSpec, Component
from benchmark.execute.suite import expand, load_suite
from tests.conftest import tiny_suite


def test_cell_id_is_stable_and_order_independent():
    a = expand(tiny_suite(methods=("random", "entropy"), seeds=2))
    b = expand(tiny_suite(methods=("entropy", "random"), seeds=[1, 0]))
    assert len(a.cells) == 4
    assert {c.cell_id for c in a.cells} == {c.cell_id for c in b.cells}
    spec = a.cells[0]
    assert CellSpec.from_dict(copy.deepcopy(spec.to_dict())).cell_id == spec.cell_id


def test_cell_id_changes_with_any_parameter_and_component_version(monkeypatch):
    base = expand(tiny_suite(methods=("random",))).cells[0]
    other_seed = CellSpec.from_dict({**base.to_dict(), "seed": 7})
    other_param = CellSpec.from_dict({**base.to_dict(), "imbalance": {"name": "step", "params": {"ratio": 4}}})
    assert len({base.cell_id, other_seed.cell_id, other_param.cell_id}) == 3
    from benchmark.core.registry import METHODS

    before = base.cell_id
    monkeypatch.setattr(METHODS.get("random"), "version", "999")
    assert CellSpec.from_dict(base.to_dict()).cell_id != before


def test_spec_is_frozen():
    spec = expand(tiny_suite(methods=("random",))).cells[0]
    with pytest.raises(AttributeError):
        spec.seed = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.learner["epochs"] = 99  # type: ignore[index]


def test_component_parse_forms():
    assert Component.parse("step", "imbalance") == Component("step")
    assert Component.parse({"name": "step", "ratio": 5}, "imbalance").params["ratio"] == 5
    assert Component.parse({"name": "step", "params": {"ratio": 5}}, "imbalance").params["ratio"] == 5


def test_grid_expansion_over_lists():
    suite = expand(tiny_suite(methods=("random", "entropy", "margin"), seeds=2,
                              imbalance=[{"name": "step", "ratio": 3}, "none"]))
    assert len(suite.cells) == 3 * 2 * 2


@pytest.mark.parametrize("bad, fragment", [
    ({"dataset": "synthetic"}, "missing required key"),
    ({**tiny_suite(), "methd": ["random"]}, "unknown key"),
    ({**tiny_suite(), "seeds": "three"}, "seeds must be"),
    ({**tiny_suite(), "method": ["entropi"]}, "Did you mean 'entropy'"),
    ({**tiny_suite(), "dataset": "mnits"}, "Did you mean 'mnist'"),
    ({**tiny_suite(), "scenario": {"rounds": 2, "per_rnd": 5}}, "Unknown scenario key"),
    ({**tiny_suite(), "learner": {"model": "small_cnn", "epoch": 5}}, "Unknown learner key"),
    ({**tiny_suite(), "imbalance": {"name": "step", "ratoi": 3}}, "Cannot create imbalance"),
    (["not", "a", "mapping"], "must be a YAML mapping"),
])
def test_malformed_suites_give_clear_errors(bad, fragment):
    with pytest.raises(SuiteError, match=fragment):
        expand(bad)


def test_bad_yaml_and_unknown_suite_name(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("dataset: [unclosed\n")
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(path)
    with pytest.raises(SuiteError, match="Did you mean quick"):
        load_suite("quik")


def test_bundled_suites_expand():
    quick = load_suite("quick")
    methods = {c.method.name for c in quick.cells}
    seeds = {c.seed for c in quick.cells}
    assert len(methods) >= 5 and len(seeds) >= 3
    assert all(c.scenario["rounds"] >= 5 for c in quick.cells)
    assert load_suite("mnist-short").cells
