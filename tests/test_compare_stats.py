"""albench compare's statistics on small hand-computed examples, cross-checked against scipy."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.core.errors import CompareError
from benchmark.report.compare import columns, pairwise, power, ranks
from benchmark.report.compare.analysis import analyse, seeds_advice
from benchmark.report.compare.data import collect
from benchmark.report.compare.efficiency import Curve, labels_to_reach, method_efficiency

SEEDS = range(5)
# Per-seed offsets with a known sign pattern: added to a method's curve, they make its paired
# differences vary across seeds (a t-test needs a spread) without changing which method wins.
JITTER = np.array([0.004, -0.003, 0.001, 0.005, -0.002])


def consolidated(curves: dict[tuple[str, str], dict[int, list[float]]], *, initial: int = 10, per_round: int = 10,
                 setting_of=lambda s: s) -> pd.DataFrame:
    """A table shaped like ``consolidate.consolidate``'s: ``curves[(setting, method)][seed]`` is the
    balanced accuracy at rounds 0, 1, 2, ... (labels_used = initial + round × per_round)."""
    rows = []
    for (setting, method), per_seed in curves.items():
        for seed, acc in per_seed.items():
            for r, a in enumerate(acc):
                rows.append({"cell_id": f"{setting}-{method}-{seed}", "dataset": "synthetic", "imbalance": setting_of(setting),
                             "model": "small_cnn", "learner": json.dumps({"model": "small_cnn"}),
                             "scenario": json.dumps({"initial": initial, "per_round": per_round, "rounds": len(acc) - 1}),
                             "method": method, "seed": seed, "uses_hidden_labels": False, "extra_labels": 0,
                             "round": r, "labels_used": initial + r * per_round, "balanced_accuracy": a, "accuracy": a,
                             "minority_accuracy": a, "classes_discovered": 3, "labelled_ir": 0.5})
    return pd.DataFrame(rows)


def three_methods_two_settings() -> pd.DataFrame:
    """S1: a beats b and c at rounds 1 and 2 (by 0.10 ± jitter); b and c identical. S2: a beats b at
    round 2 only; c beats a at round 1; b and c identical everywhere. Round 0 is the same for all."""
    base = np.array([0.50, 0.60, 0.70])
    cur: dict[tuple[str, str], dict[int, list[float]]] = {}
    for s in SEEDS:
        j = JITTER[s]
        cur.setdefault(("S1", "b"), {})[s] = list(base + [0, j, -j])
        cur.setdefault(("S1", "c"), {})[s] = list(base + [0, j, -j])
        cur.setdefault(("S1", "a"), {})[s] = list(base + [0, 0.10 + 2 * j, 0.10 + j])
        cur.setdefault(("S2", "b"), {})[s] = list(base + [0, 0, j])
        cur.setdefault(("S2", "c"), {})[s] = list(base + [0, 0, j])
        cur.setdefault(("S2", "a"), {})[s] = list(base + [0, -0.05 + j, 0.12 - j])
    return consolidated(cur)


def test_penalty_matrix_hand_computed_and_each_entry_a_scipy_paired_t_test():
    data = collect({"x": three_methods_two_settings()})
    p = pairwise.penalty_matrix(data.rounds)
    # L = 2 rounds after the first selection per setting, so each win adds 1/2.
    expected = pd.DataFrame([[0, 1.5, 1.5], [0.5, 0, 0], [0.5, 0, 0]], index=["a", "b", "c"], columns=["a", "b", "c"])
    np.testing.assert_allclose(p.matrix.to_numpy(), expected.to_numpy())
    assert list(p.matrix.index) == ["a", "b", "c"] and list(p.matrix.columns) == ["a", "b", "c"]
    assert p.beaten.to_dict() == pytest.approx({"a": 1.0, "b": 1.5, "c": 1.5})
    assert list(p.ordered().index) == ["a", "b", "c"] and len(p.settings) == 2
    # cross-check: recount with scipy.stats.ttest_rel directly
    recount = pd.DataFrame(0.0, index=["a", "b", "c"], columns=["a", "b", "c"])
    r = data.rounds
    for setting in r["setting"].unique():
        for rnd in (1, 2):
            at = r[(r["setting"] == setting) & (r["round"] == rnd)].pivot(index="seed", columns="method",
                                                                          values="balanced_accuracy")
            for i in "abc":
                for j in "abc":
                    if i != j:
                        t = stats.ttest_rel(at[i], at[j])
                        if t.pvalue < 0.05 and t.statistic > 0:
                            recount.loc[i, j] += 0.5
    np.testing.assert_allclose(p.matrix.to_numpy(), recount.to_numpy())


def test_penalty_pairs_on_common_seeds_and_skips_fewer_than_three():
    table = three_methods_two_settings()
    table = table[~((table["method"] == "b") & (table["seed"] >= 3))]  # b: seeds 0-2 (3 in common: still tested)
    extra = consolidated({("S1", "d"): {3: [0.5, 0.9, 0.9], 4: [0.5, 0.9, 0.9]}})  # d: 2 seeds, always far ahead
    p = pairwise.penalty_matrix(collect({"x": pd.concat([table, extra])}).rounds)
    assert p.matrix.loc["a", "b"] == pytest.approx(1.5)  # a > b on seeds 0-2 too
    assert p.matrix["d"].sum() == 0 and p.matrix.loc["d"].sum() == 0
    skipped = {(i, j, n) for _, i, j, n in p.skipped}
    assert ("a", "d", 2) in skipped and ("b", "d", 0) in skipped and ("c", "d", 2) in skipped


def test_ranks_friedman_and_nemenyi_hand_computed():
    # AUBC per (setting, method): a > b > c in both settings → ranks 1, 2, 3 in each.
    aubc = pd.DataFrame([(s, m, 0, v) for s in ("S1", "S2") for m, v in (("a", 0.9), ("b", 0.8), ("c", 0.7))],
                        columns=["setting", "method", "seed", "aubc"])
    r = ranks.rank_methods(aubc, blocks="settings")
    assert r.blocks == "settings" and r.n == 2 and r.k == 3
    assert r.average.to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
    # χ²_F = 12N/(k(k+1)) Σ R_j² − 3N(k+1) = 12·2/12 · 14 − 24 = 4 (Demšar eq. for the Friedman statistic)
    assert r.friedman_statistic == pytest.approx(4.0)
    scipy_f = stats.friedmanchisquare([0.9, 0.9], [0.8, 0.8], [0.7, 0.7])
    assert (r.friedman_statistic, r.friedman_p) == pytest.approx((scipy_f.statistic, scipy_f.pvalue))
    # q_0.05 for k = 3 is 2.343 (Demšar Table 5a); CD = 2.343 · √(3·4 / (6·2)) = 2.343
    assert r.cd == pytest.approx(2.343, abs=1e-3)
    assert not r.different.to_numpy().any()  # a and c differ by 2 < CD
    assert r.cliques() == [["a", "b", "c"]]


@pytest.mark.parametrize("k, q", [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (6, 2.850), (10, 3.164)])
def test_nemenyi_critical_difference_matches_demsar_table(k, q):
    n = 7
    assert ranks.nemenyi_cd(k, n) == pytest.approx(q * np.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)


def test_holm_hand_computed():
    # sorted 0.01, 0.03, 0.04 × 3, 2, 1 = 0.03, 0.06, 0.04 → monotone 0.03, 0.06, 0.06
    np.testing.assert_allclose(ranks.holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(ranks.holm(np.array([0.5, 0.9])), [1.0, 1.0])


def test_wilcoxon_holm_posthoc_cross_checked_with_scipy():
    rng = np.random.default_rng(0)
    rows = []
    for s in range(8):
        for m, shift in (("a", 0.2), ("b", 0.1), ("c", 0.0), ("d", 0.0)):
            rows.append((f"S{s}", m, 0, 0.5 + shift + rng.normal(0, 0.02)))
    aubc = pd.DataFrame(rows, columns=["setting", "method", "seed", "aubc"])
    r = ranks.rank_methods(aubc, blocks="settings", posthoc="wilcoxon")
    wide = aubc.pivot(index="setting", columns="method", values="aubc")
    pairs = [(x, y) for i, x in enumerate(r.average.index) for y in list(r.average.index)[i + 1:]]
    raw = [stats.wilcoxon(wide[x], wide[y]).pvalue for x, y in pairs]
    for (x, y), p in zip(pairs, ranks.holm(np.array(raw))):
        assert r.pvalues.loc[x, y] == pytest.approx(p)
        assert bool(r.different.loc[x, y]) == (p < 0.05)
    assert list(r.average.index[:2]) == ["a", "b"]  # a always first, b always second
    assert r.different.loc["a", "c"]  # 8 of 8 blocks: exact p = 2/256, × 6 pairs < 0.05
    assert ["c", "d"] in r.cliques() or ["d", "c"] in r.cliques()


def test_ranks_leave_out_a_method_missing_from_a_setting_and_refuse_too_little():
    aubc = pd.DataFrame([("S1", "a", 0, 0.9), ("S1", "b", 0, 0.8), ("S1", "c", 0, 0.7), ("S1", "z", 0, 0.1),
                         ("S2", "a", 0, 0.9), ("S2", "b", 0, 0.8), ("S2", "c", 0, 0.7)],
                        columns=["setting", "method", "seed", "aubc"])
    r = ranks.rank_methods(aubc, blocks="settings")
    assert list(r.average.index) == ["a", "b", "c"] and any(line.startswith("z: in 1 of 2 settings") for line in r.left_out)
    with pytest.raises(CompareError, match="at least 3 methods"):
        ranks.rank_methods(aubc[aubc["method"].isin(["a", "b"])], blocks="settings")
    with pytest.raises(CompareError, match="blocks must be one of"):
        ranks.rank_methods(aubc, blocks="datasets")


def test_auto_blocks_use_setting_seed_pairs_below_five_settings():
    aubc = pd.DataFrame([("S1", m, s, v + 0.01 * s) for m, v in (("a", 0.9), ("b", 0.8), ("c", 0.7)) for s in range(4)],
                        columns=["setting", "method", "seed", "aubc"])
    r = ranks.rank_methods(aubc)
    assert r.blocks == "setting × seed" and r.n == 4 and r.average.to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}


def test_labels_to_reach_interpolates_the_first_crossing():
    x = np.array([10, 20, 30, 40])
    np.testing.assert_allclose(labels_to_reach(x, np.array([0.5, 0.7, 0.9, 0.95]), 0.8), [25.0])
    np.testing.assert_allclose(labels_to_reach(x, np.array([0.5, 0.7, 0.9, 0.95]), 0.5), [10.0])  # at the start
    assert np.isinf(labels_to_reach(x, np.array([0.5, 0.7, 0.9, 0.95]), 0.96)[0])  # never
    # not monotone: the first crossing counts (0.75 between 0.5 at 10 and 0.8 at 20 → 10 + 10·0.25/0.3)
    np.testing.assert_allclose(labels_to_reach(x, np.array([0.5, 0.8, 0.7, 0.9]), 0.75), [10 + 10 * 0.25 / 0.3])
    # one target per curve
    out = labels_to_reach(x, np.array([[0.5, 0.7, 0.9, 0.95], [0.6, 0.6, 0.6, 0.6]]), np.array([0.6, 0.7]))
    assert out[0] == pytest.approx(15.0) and np.isinf(out[1])


def test_label_efficiency_saved_vs_random_and_deterministic_bootstrap():
    labels = np.array([10.0, 20.0, 30.0])
    seeds = np.arange(5)
    rand = Curve(labels, np.array([[0.5, 0.6, 0.7 + d] for d in JITTER]), seeds)  # final mean 0.7 + 0.001
    fast = Curve(labels, np.array([[0.5, 0.8 + d, 0.9] for d in JITTER]), seeds)
    never = Curve(labels, np.array([[0.5, 0.55, 0.6] for _ in JITTER]), seeds)
    (row,) = method_efficiency(fast, rand, key="k")
    target = 0.7 + JITTER.mean()
    # fast: 0.5 at 10, 0.8 + 0.001 at 20 → reaches 0.701 at 10 + 10 · 0.201 / 0.301
    assert row["target_accuracy"] == pytest.approx(target)
    assert row["labels"] == pytest.approx(10 + 10 * (target - 0.5) / (0.8 + JITTER.mean() - 0.5))
    assert row["labels_saved"] == pytest.approx(30 - row["labels"])  # random reaches its final at 30
    assert row["labels_lo"] <= row["labels"] <= row["labels_hi"] and row["saved_lo"] <= row["labels_saved"] <= row["saved_hi"]
    assert method_efficiency(fast, rand, key="k") == [row]  # the same seed gives the same interval
    (base,) = method_efficiency(rand, rand, key="r")
    assert base["labels_saved"] == 0
    worse, user = method_efficiency(never, rand, [0.55], key="n")
    assert np.isinf(worse["labels"]) and np.isneginf(worse["labels_saved"]) and np.isneginf(worse["saved_lo"])
    assert columns.saved_text(False, worse["labels_saved"], worse["saved_lo"], worse["saved_hi"]) == "—"
    assert user["target"] == "0.55" and user["labels"] == pytest.approx(20.0)


def test_effect_size_and_seeds_needed_match_gpower_tables():
    # G*Power / Cohen (1988): paired t-test, two-sided α = 0.05, power 0.8: d_z 0.5 → 34, 0.8 → 15, 1.0 → 10
    assert [power.seeds_needed(d) for d in (0.5, 0.8, 1.0)] == [34, 15, 10]
    assert power.paired_t_power(0.5, 34) >= 0.8 > power.paired_t_power(0.5, 33)
    assert power.effect_size(np.array([1.0, 2.0, 3.0])) == pytest.approx(2.0)  # mean 2, sd 1
    assert power.seeds_to_separate(np.array([0.1, 0.1, 0.1])) == 2  # no spread at all: the smallest test
    assert np.isinf(power.seeds_to_separate(np.array([0.0, 0.0, 0.0])))
    assert np.isnan(power.seeds_to_separate(np.array([0.3])))


def test_paired_t_power_agrees_with_simulated_scipy_t_tests():
    rng = np.random.default_rng(1)
    n, d, sims = 10, 1.0, 4000
    diffs = rng.normal(d, 1.0, size=(sims, n))
    rejected = (stats.ttest_rel(diffs, np.zeros_like(diffs), axis=1).pvalue < 0.05).mean()
    assert rejected == pytest.approx(power.paired_t_power(d, n), abs=0.02)


def test_analysis_end_to_end_on_the_hand_example():
    c = analyse("x", {"x": three_methods_two_settings().assign(method=lambda t: t["method"].replace({"c": "random"}))})
    assert c.penalty.matrix.loc["a", "random"] == pytest.approx(1.5)
    assert c.ranks is not None and c.ranks.blocks == "setting × seed" and c.ranks.average.index[0] == "a"
    adv = seeds_advice(c.data.aubc)
    assert set(adv.columns) >= {"method", "next", "seeds_needed", "p_now"} and len(adv) == 4  # 2 pairs × 2 settings
    eff = c.efficiency.assign(s=c.efficiency["setting"].str.split(" · ").str[1]).set_index(["s", "method"])
    assert (c.efficiency["target"] == "baseline final").all() and eff["seeds"].eq(5).all()
    # S1: random ends at 0.7 − mean(jitter) = 0.699; a's mean curve goes 0.5 (10 labels) → 0.702 (20 labels),
    # so it reaches 0.699 at 10 + 10 · 0.199 / 0.202 labels and saves the rest of random's 30
    assert eff.loc[("S1", "a"), "labels"] == pytest.approx(10 + 10 * 0.199 / 0.202)
    assert eff.loc[("S1", "a"), "labels_saved"] == pytest.approx(30 - 10 - 10 * 0.199 / 0.202)
    assert eff.loc[("S1", "random"), "labels_saved"] == 0 and eff.loc[("S1", "b"), "labels_saved"] == 0


def test_leaderboard_gets_labels_saved_and_seeds_columns():
    from benchmark.report import leaderboard as lb

    table = three_methods_two_settings()
    table = table[table["imbalance"] == "S1"].assign(method=lambda t: t["method"].replace({"c": "random"}))
    (board,) = lb.build(table)
    r = board.ranking
    assert list(r["method"]) == ["a", "b", "random"] or list(r["method"]) == ["a", "random", "b"]
    assert r.set_index("method").loc["random", columns.SAVED] == 0
    assert r.set_index("method").loc["a", columns.SAVED] > 0
    disp = lb.ranking_display(r)
    assert "labels saved vs random (95% CI)" in disp and "seeds for 80% power vs next" in disp
    assert disp.set_index("method").loc["random", "labels saved vs random (95% CI)"] == "baseline"
    assert disp["seeds for 80% power vs next"].iloc[-1] == ""
    # b and random are identical: no difference, so no number of seeds separates them
    assert "∞" in set(disp["seeds for 80% power vs next"])


def test_leaderboard_embedding_column_is_per_setting():
    """The same method label can select in the task model's representation in one setting and in the source
    model's in another (one-shot): each board states its own setting's."""
    from benchmark.report import leaderboard as lb

    table = three_methods_two_settings()
    table = table.assign(embedding=np.where(table["imbalance"] == "S1", "learner", "source"))
    boards = {b.title.split("·")[1].strip(): b.ranking.set_index("method")["embedding"] for b in lb.build(table)}
    assert set(boards["S1"]) == {"learner"} and set(boards["S2"]) == {"source"}


def test_ranks_use_the_largest_complete_block_of_settings_and_methods():
    held = {"S1": "abcdz", "S2": "abcd", "S3": "abcy", "S4": "abx"}
    present = pd.DataFrame({m: [m in held[s] for s in held] for m in "abcdxyz"}, index=list(held))
    # {a,b,c,d} is in S1, S2 (4 × 2 = 8); {a,b,c} in S1-S3 (3 × 3 = 9): the larger block wins
    assert ranks.largest_complete_block(present) == (["S1", "S2", "S3"], ["a", "b", "c"])
    # without S3, {a,b,c,d} over S1, S2 (8) beats {a,b,c} over S1, S2 (6)
    assert ranks.largest_complete_block(present.drop(index="S3")) == (["S1", "S2"], ["a", "b", "c", "d"])
    # a block across 2 settings is preferred to one setting's many methods; one setting when no other has 3
    assert ranks.largest_complete_block(present.loc[["S1", "S4"]]) == (["S1"], ["a", "b", "c", "d", "z"])
    # every method everywhere: the whole table
    full = pd.DataFrame(True, index=["S1", "S2"], columns=["c", "a", "b"])
    assert ranks.largest_complete_block(full) == (["S1", "S2"], ["a", "b", "c"])

    rows = [(s, m, seed, 0.9 - 0.1 * "abcdxyz".index(m) + 0.01 * seed)
            for s in held for m in held[s] for seed in range(3)]
    r = ranks.rank_methods(pd.DataFrame(rows, columns=["setting", "method", "seed", "aubc"]))
    assert list(r.average.index) == ["a", "b", "c"] and r.blocks == "setting × seed" and r.n == 9
    assert "setting S4 left out of the ranks: it lacks c" in r.left_out
    assert any(line.startswith("d: in 2 of 4 settings; not ranked") and "3 methods over 3 of 4 settings" in line
               for line in r.left_out)
