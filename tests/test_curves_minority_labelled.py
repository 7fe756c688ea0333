"""The labelled set's minority images per round (``albench curves``): selections keep the label the
oracle revealed, and the count at round b is over the initial set and the batches of rounds < b."""
from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from benchmark.cli import main
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import load_suite
from benchmark.report.curves import _minority_labelled, build
from benchmark.scenarios.runner import prepare
from tests.conftest import tiny_suite


def test_count_is_over_the_initial_set_and_earlier_batches_by_hand():
    sel = pd.DataFrame({"round": [-1, -1, 0, 0, 0, 1, 1], "position": range(7), "pool_index": range(7),
                        "label": [5, 0, 6, 6, 1, 9, 2]})
    count = _minority_labelled(sel, [5, 6, 7, 8, 9])
    assert [count(b) for b in range(3)] == [1, 3, 4]  # round 0: the initial set; 1: + 6, 6; 2: + 9


def test_cells_stored_without_labels_or_without_minority_classes_give_no_count():
    old = pd.DataFrame({"round": [-1, 0], "position": [0, 1], "pool_index": [0, 1]})
    assert np.isnan(_minority_labelled(old, [5])(1))
    assert np.isnan(_minority_labelled(old.assign(label=[5, 5]), [])(1))


def test_stored_labels_are_the_pool_labels_and_the_report_counts_them(tmp_path):
    raw = tiny_suite(methods=("entropy",), seeds=2, imbalance={"name": "step", "ratio": 3})
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(raw))
    results = tmp_path / "results"
    assert main(["run", str(tmp_path / "tiny.yaml"), "--results", str(results), "--executor", "inline",
                 "--no-progress"]) == 0
    store, cells = ResultStore(results), load_suite(tmp_path / "tiny.yaml").cells
    minority = list(store.read_summary(cells[0].cell_id)["minority_classes"])
    assert minority
    counts = []
    for spec in cells:
        sel = store.read_selections(spec.cell_id)
        _, _, splits = prepare(spec)
        assert np.array_equal(sel["label"].to_numpy(), splits.pool_y[sel["position"].to_numpy()])
        rounds = store.read_rounds(spec.cell_id)["round"].to_numpy()
        counts.append([int(np.isin(sel["label"][sel["round"] < b], minority).sum()) for b in rounds])
    (setting,) = build(cells, store)
    expected = [f"{np.mean(c):.1f} ± {np.std(c, ddof=1):.1f}" for c in zip(*counts)]
    assert list(setting.minority_labelled.loc["entropy"]) == expected
    flat = setting.curves.set_index("labels_used")  # curves.csv: the same counts as numbers, and the seeds
    assert list(flat["seeds"]) == [2] * len(counts[0])
    assert np.allclose(flat["minority_labelled_mean"], [np.mean(c) for c in zip(*counts)])
    assert np.allclose(flat["minority_labelled_std"], [np.std(c, ddof=1) for c in zip(*counts)])
    assert flat["pseudo_label_accuracy_mean"].isna().all()  # entropy does not label the pool


def test_curves_show_the_pool_pseudo_label_accuracy_of_methods_that_label_the_pool(tmp_path):
    raw = tiny_suite(methods=("random", "pfk_oracle"), seeds=2, imbalance={"name": "step", "ratio": 3})
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(raw))
    results = tmp_path / "results"
    assert main(["run", str(tmp_path / "tiny.yaml"), "--results", str(results), "--executor", "inline",
                 "--no-progress"]) == 0
    (setting,) = build(load_suite(tmp_path / "tiny.yaml").cells, ResultStore(results))
    table = setting.pseudo_labels
    assert len(table.index) == 1 and "†" in table.index[0]  # only the oracle labels the pool; random does not
    selecting = [c for c in table.columns if table[c].iloc[0] != "– / –"]
    assert selecting and all(table[c].iloc[0] == "100.0 ± 0.0 / 100.0 ± 0.0" for c in selecting)  # S = y is right
    oracle = setting.curves[setting.curves["method"] == table.index[0]]
    assert (oracle["pseudo_label_accuracy_mean"].dropna() == 1.0).all() and oracle["pseudo_label_accuracy_mean"].notna().any()
