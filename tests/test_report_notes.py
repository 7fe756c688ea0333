"""Reports say what a careful reader must know: too few seeds, labels outside the budget, oracles."""
from __future__ import annotations

import pandas as pd

from benchmark.report.leaderboard import build, notes, to_markdown


def _table(seeds: int, extra: dict[str, int], oracle: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = []
    for method in ("random", "pfk", "pfk_oracle"):
        for seed in range(seeds):
            for b, acc in enumerate((0.5, 0.6 + 0.01 * seed)):
                rows.append({"dataset": "mnist", "imbalance": "step", "model": "lenet", "learner": "{}",
                             "scenario": "{}", "method": method, "seed": seed, "round": b,
                             "labels_used": 10 * b, "balanced_accuracy": acc, "accuracy": acc,
                             "minority_accuracy": acc, "classes_discovered": 10, "labelled_ir": 0.5,
                             "uses_hidden_labels": method in oracle, "extra_labels": extra.get(method, 0)})
    return pd.DataFrame(rows)


def test_two_seeds_warn_that_intervals_are_wide():
    text = "\n".join(notes(build(_table(2, {}))))
    assert "Few seeds" in text and "only 2 seed(s)" in text
    assert "Few seeds" not in "\n".join(notes(build(_table(3, {}))))


def test_labels_outside_the_budget_are_marked_with_their_number():
    boards = build(_table(3, {"pfk": 10000, "pfk_oracle": 10000}, oracle=("pfk_oracle",)))
    names = boards[0].ranking["method"].tolist()
    assert "pfk‡" in names and "pfk_oracle†‡" in names and "random" in names
    md = to_markdown("s", boards, 0, 0)
    assert "‡ also reads 10000 labelled validation images outside the labelling budget" in md
    assert "† uses hidden labels" in md
    assert boards[0].ranking.set_index("method").loc["random", "gap_mean"] == 0.0  # marks never hide the baseline
