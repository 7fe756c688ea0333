"""The WACV 2020 one-shot protocol: diversification, the balancing step (eqs. 8-9), G_AL (eq. 10),
cached source outputs, the acc_full reference cell and scenario validation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.core.registry import METHODS, discover
from benchmark.execute.suite import expand
from benchmark.report.wacv_tables import build, g_al
from benchmark.scenarios.runner import run_cell
from benchmark.select.api import SelectionView
from benchmark.select.balancing import balancing_scores, should_switch

discover()
SOURCE = {"model": "small_cnn", "train": {"classes": [0, 1, 2, 3, 4], "epochs": 2}}


def oneshot_suite(methods, budget=20, seeds=1, **scenario) -> dict:
    return {"name": "os", "dataset": "digits", "imbalance": {"name": "target_ir", "ir": 0.6, "tolerance": 0.05},
            "method": list(methods), "seeds": seeds,
            "scenario": {"kind": "oneshot", "budget": budget, "target_classes": [5, 6, 7, 8, 9], "source": SOURCE,
                         "target": {"folds": 3, "c_grid": [0.1, 1.0]}, **scenario}}


def test_switch_rule_eq8_by_hand():
    counts = np.array([10, 2, 1, 0])  # discovered: 10, 2, 1 → mean 4.33; ur = {2, 1}, or = {10}
    # c_ur × (μ(or) − μ(ur)) = 2 × (10 − 1.5) = 17
    assert should_switch(counts, budget=30, labelled=13)  # b − m = 17 ≤ 17
    assert not should_switch(counts, budget=31, labelled=13)  # 18 > 17
    assert not should_switch(np.array([3, 0, 0]), budget=10, labelled=3)  # one class: nothing to balance


def test_balancing_score_eq9_by_hand():
    feats = np.array([[0.0, 1.0], [3.0, 0.0]])
    means = {0: np.array([0.0, 0.0]), 1: np.array([4.0, 0.0]), 2: np.array([0.0, 4.0])}
    # row 0: d(μ0)=1, max(d(μ1)=√17, d(μ2)=3) = √17 → 1/√17; row 1: d(μ0)=3, max(1, 5)=5 → 0.6
    assert np.allclose(balancing_scores(feats, means, 0, [1, 2]), [1 / np.sqrt(17), 0.6])


def test_diversify_cycles_over_source_classes():
    from benchmark.select.scores import diversify

    order = np.array([5, 1, 4, 0, 3, 2])  # rows ranked best first
    source_class = np.array([0, 0, 1, 1, 0, 2])  # class of rows 0..5
    # rows in rank order 5,1,4,0,3,2 have classes 2,0,0,0,1,1 → pass 0 (class order): row 1 (c0),
    # row 3 (c1), row 5 (c2); pass 1: row 4 (c0), row 2 (c1); pass 2: row 0 (c0)
    assert diversify(order, source_class, 6).tolist() == [1, 3, 5, 4, 2, 0]
    assert diversify(order, source_class, 2).tolist() == [1, 3]


def test_inverted_functions_rank_certain_first():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.2, 0.8]])
    view = SelectionView(unlabelled=np.arange(4), labelled=np.zeros(0, np.int64), labelled_y=np.zeros(0, np.int64),
                         num_classes=2, round=0, probs=probs)
    rng = np.random.default_rng(0)
    assert METHODS.create("ent_inv").select(view, 2, rng).tolist() == [0, 3]
    assert METHODS.create("lc_inv_div").select(view, 2, rng).tolist() == [0, 3]  # one per source class
    # most uncertain first: rows 1, 2, 3, 0 with source classes 0, 0, 1, 0 → one per class: rows 1 and 3
    assert METHODS.create("ent_div").select(view, 2, rng).tolist() == [1, 3]


def test_g_al_eq10_by_hand():
    acc = pd.DataFrame([[60.0, 70.0]], index=["m"], columns=pd.MultiIndex.from_tuples([("d", 1), ("d", 2)]))
    assert g_al(acc, pd.Series({"d": 80.0}))["m"] == pytest.approx(((60 - 80) / 20 + (70 - 80) / 20) / 2)


def test_g_al_of_a_method_missing_a_configuration_is_nan_not_a_shorter_mean():
    acc = pd.DataFrame([[60.0, np.nan], [60.0, 70.0]], index=["partial", "full"],
                       columns=pd.MultiIndex.from_tuples([("d", 1), ("d", 2)]))
    out = g_al(acc, pd.Series({"d": 80.0}))
    assert np.isnan(out["partial"]) and out["full"] == pytest.approx(-0.75)


def test_g_al_reproduces_wacv_table3_random():
    # WACV 2020 Table 3 (after balancing), row "random", and the row "Full"; the paper prints G_AL = -0.653.
    # by hand, (acc - full) / (100 - full): Food-101 -1.2392 -1.0346 -0.8170; CIFAR-100 -0.7561 -0.5480 -0.3745;
    # IMN-100 -0.5507 -0.2554 -0.0634; MIT-67 -1.0907 -0.6634 -0.4450; sum -7.8380, / 12 = -0.6532.
    acc = pd.DataFrame([[23.53, 30.52, 37.95, 28.86, 37.29, 44.32, 53.79, 62.59, 68.31, 42.36, 54.14, 60.16]],
                       index=["random"],
                       columns=pd.MultiIndex.from_product([["food", "cifar", "imn", "mit"], [500, 1000, 2000]]))
    full = pd.Series({"food": 65.85, "cifar": 59.49, "imn": 70.20, "mit": 72.43})
    assert g_al(acc, full)["random"] == pytest.approx(-0.653, abs=5e-4)


def test_balanced_wrapper_labels_one_at_a_time_and_balances():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 40 + [1] * 8 + [2] * 4)  # an imbalanced pool
    feats = np.eye(3)[labels] * 5 + rng.normal(0, 0.3, (len(labels), 3))
    probs = np.full((len(labels), 3), 1 / 3)
    calls = []

    def reveal(pos):
        calls.append(len(pos))
        return labels[pos]

    view = SelectionView(unlabelled=np.arange(len(labels)), labelled=np.zeros(0, np.int64),
                         labelled_y=np.zeros(0, np.int64), num_classes=3, round=0, probs=probs, features=feats,
                         oracle=reveal)
    random_bal = METHODS.create("random+bal")
    picks = random_bal.select(view, 15, np.random.default_rng(1))
    assert len(set(picks.tolist())) == 15 and calls == [1] * 15
    counts = np.bincount(labels[picks], minlength=3)
    plain = np.bincount(labels[METHODS.create("random").select(view, 15, np.random.default_rng(1))], minlength=3)
    assert counts.std() / counts.mean() < plain.std() / plain.mean()
    assert random_bal.switched_at_ is not None


def test_balanced_methods_label_within_each_round_of_the_iterative_loop():
    """The oracle a method uses inside select counts against that round's labels, never twice."""
    from tests.conftest import TINY_SCENARIO, tiny_suite

    spec = expand(tiny_suite(methods=("entropy+bal",))).cells[0]
    result = run_cell(spec)
    per_round = TINY_SCENARIO["per_round"]
    used = result.rounds["labels_used"].tolist()
    assert used == [TINY_SCENARIO["initial"] + b * per_round for b in range(len(used))]
    chosen = result.selections[result.selections["round"] >= 0]
    assert chosen.groupby("round").size().eq(per_round).all()
    assert chosen["position"].is_unique


def test_a_round_oracle_refuses_more_labels_than_the_round_has():
    from benchmark.data.oracle import Oracle, RoundOracle

    round_oracle = RoundOracle(Oracle(np.arange(10) % 3, budget=10), limit=2)
    assert round_oracle(np.array([4])).tolist() == [1]
    with pytest.raises(AlbenchError, match="budget of 2"):
        round_oracle(np.array([5, 6]))
    assert round_oracle.label_rest(np.array([4, 7])).tolist() == [1, 1]


def test_oneshot_cells_share_cached_features_and_get_an_acc_full_cell():
    suite = expand(oneshot_suite(["random", "ent_inv_div", "ent_inv_div+bal"]))
    names = [c.method.name for c in suite.cells]
    assert names.count("full_pool") == 1 and len(names) == 4
    results = [run_cell(c) for c in suite.cells]
    computed = [r.summary["source_computed"] for r in results]
    assert computed[0] and not any(computed[1:])  # F_S extracted once per (dataset, source)
    # computing F_S is the shared one-time phase (pretrain), not the first cell's own inference
    assert results[0].rounds.loc[0, "pretrain_forward"] > 0 and results[1].rounds.loc[0, "pretrain_forward"] == 0
    assert results[0].rounds.loc[0, "infer_forward"] == results[1].rounds.loc[0, "infer_forward"] == 0
    for r in results[:3]:
        assert r.rounds.loc[0, "labels_used"] == 20
    full = results[3]
    assert full.rounds.loc[0, "labels_used"] == full.summary["pool_size"]
    assert results[0].summary["pool_size"] == full.summary["pool_size"]  # same pool for every budget/method


def test_oneshot_tables_end_to_end(tmp_path):
    from benchmark.execute.executors import run_inline
    from benchmark.execute.store import ResultStore
    from benchmark.report.wacv_tables import collect, write

    suite = expand(oneshot_suite(["random", "entropy", "entropy+bal"], budget=15))
    store = ResultStore(tmp_path / "r")
    run_inline(suite.cells, store)
    tables = build(collect(suite.cells, store))
    assert set(tables) >= {"table2", "table3", "table4", "table5", "acc_full"}
    assert ("", "G_AL") in tables["table2"].columns and tables["table2"][("", "G_AL")].notna().all()
    path = write(tables, tmp_path / "rep", "os", "", ["svhn: missing"])
    assert "Table 3" in path.read_text() and "\\toprule" in path.with_suffix(".tex").read_text()


@pytest.mark.parametrize("change,match", [
    ({"source": {"model": "small_cnn", "train": {"classes": [5, 6]}}}, "disjoint"),
    ({"source": {"model": "small_cnn"}}, "exactly one of"),
    ({"budgett": 3}, "Unknown scenario key"),
    ({"budget": 0}, "positive integer"),
])
def test_oneshot_scenario_errors(change, match):
    raw = oneshot_suite(["random"])
    raw["scenario"].update(change)
    with pytest.raises(SuiteError, match=match):
        expand(raw)


def test_missing_source_weights_say_where(tmp_path):
    raw = oneshot_suite(["random"])
    raw["scenario"]["source"] = {"model": "small_cnn", "weights": str(tmp_path / "resnet18.pth")}
    spec = expand(raw).cells[0]
    with pytest.raises(AlbenchError, match="resnet18.pth not found. albench never downloads"):
        run_cell(spec)


def test_pretrained_source_from_a_local_file_on_a_real_format_dataset(tmp_path, monkeypatch):
    """The paper's setup in miniature: a torchvision ResNet-18 state dict from a local file as M_S on a
    CIFAR-100 fixture, images resized to the source's input size; per-dataset imbalance via grids."""
    import torch
    import torchvision

    from tests.test_dataset_formats import write_cifar100

    write_cifar100(tmp_path / "data")
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None, num_classes=7).state_dict(), weights)
    raw = {"name": "mini-wacv", "dataset": {"name": "cifar100", "verify_md5": False}, "method": ["random", "ent_inv_div"],
           "grids": [{"imbalance": "none"}],
           "scenario": {"kind": "oneshot", "budget": 6, "target": {"folds": 2, "c_grid": [1.0]},
                        "source": {"model": "torchvision/resnet18", "weights": str(weights), "input_size": 40}}}
    cells = expand(raw).cells
    assert [c.method.name for c in cells] == ["random", "ent_inv_div", "full_pool"]
    result = run_cell(cells[1], tmp_path / "data")
    assert result.rounds.loc[0, "labels_used"] == 6
    assert "d=512, source classes=7" in result.log  # avgpool features of ResNet-18, its own source head


def test_tables_of_stored_cells_need_no_data_files(tmp_path, monkeypatch):
    """A dataset whose cells are finished is in the tables even where its files are not (rendering from an
    archive on another machine); only a dataset with neither is listed as not present."""
    import yaml

    import benchmark.data.loading as loading
    from benchmark.cli import main
    from benchmark.core.errors import DataError

    suite = tmp_path / "os.yaml"
    suite.write_text(yaml.safe_dump(oneshot_suite(["random"], budget=15)))
    common = ["--results", str(tmp_path / "r"), "--reports", str(tmp_path / "rep")]
    assert main(["run", str(suite), "--executor", "inline", "--no-progress", "--results", str(tmp_path / "r")]) == 0
    assert main(["tables", str(suite), *common]) == 0
    with_data = (tmp_path / "rep" / "os" / "tables.md").read_text()

    def no_files(dataset, root):
        raise DataError(f"{dataset.name}: files not here")

    monkeypatch.setattr(loading, "check_data", no_files)
    assert main(["tables", str(suite), *common]) == 0
    assert (tmp_path / "rep" / "os" / "tables.md").read_text() == with_data
