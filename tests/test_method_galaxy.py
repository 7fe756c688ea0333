"""GALAXY (Zhang, Katz-Samuels & Nowak, ICML 2022): the S² step on one path, and the whole selection."""
from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS
from benchmark.select.api import SelectionView

gx = sys.modules[METHODS.get("galaxy").__module__]  # the plugin module as the registry loaded it
F, T = False, True


def test_bisection_on_a_line_of_nine_by_hand():
    # 9 nodes 0..8, node 0 labelled negative (0), node 8 positive (1): one cut with 7 unlabelled nodes
    # between; the path 0-1-...-8 has 9 nodes and its middle is node 4.
    rng = np.random.default_rng(0)
    assert gx.s2_query([0, 8], [F, T], 9, rng) == (4, "bisect")
    # node 4 revealed negative: the cut is now 4..8 (5, 6, 7 unlabelled): its middle is 6
    assert gx.s2_query([0, 4, 8], [F, F, T], 9, rng) == (6, "bisect")
    # node 6 revealed positive: the cut is 4..6 with node 5 alone between
    assert gx.s2_query([0, 4, 6, 8], [F, F, T, T], 9, rng) == (5, "bisect")
    # had node 4 been positive instead, the cut would be 0..4 (1, 2, 3 between): middle 2
    assert gx.s2_query([0, 4, 8], [F, T, T], 9, rng) == (2, "bisect")


def test_the_shortest_cut_is_bisected_first():
    # labels T F F T at ranks 0, 10, 12, 15: cuts 0..10 (9 unlabelled between) and 12..15 (2 between);
    # 10..12 is no cut (both negative). The shorter cut is taken. With an even number g = 2 of nodes
    # between, the query is the (g+2)//2 = 2nd node from the negative end, the middle node nearer the
    # positive end: negative 12 -> 14; with labels F T T F (negative at 15) -> 13.
    rng = np.random.default_rng(0)
    assert gx.s2_query([0, 10, 12, 15], [T, F, F, T], 20, rng) == (14, "bisect")
    assert gx.s2_query([0, 10, 12, 15], [F, T, T, F], 20, rng) == (13, "bisect")
    # F T F T: the cut 10..12 (one node between) is the shortest -> 11
    assert gx.s2_query([0, 10, 12, 15], [F, T, F, T], 20, rng) == (11, "bisect")
    # same-label neighbours are no cut however far apart: 0..10 (both negative) is skipped
    assert gx.s2_query([0, 10, 13], [F, F, T], 20, rng) == (12, "bisect")


def test_equally_short_cuts_are_chosen_at_random():
    # cuts 0..2 and 2..4, each with one node between (1 and 3)
    picks = Counter(gx.s2_query([0, 2, 4], [F, T, F], 5, np.random.default_rng(s))[0] for s in range(40))
    assert set(picks) == {1, 3}
    a = [gx.s2_query([0, 2, 4], [F, T, F], 5, np.random.default_rng(s))[0] for s in range(10)]
    assert a == [gx.s2_query([0, 2, 4], [F, T, F], 5, np.random.default_rng(s))[0] for s in range(10)]


def test_closed_cut_queries_the_unlabelled_node_nearest_to_the_boundary():
    # the 9-line after 4 (neg), 5 (neg), 6 (pos) are known: the cut 5|6 is closed. Unlabelled nodes next to
    # labelled ones: 1, 3, 7. max(distance to nearest positive, to nearest negative): node 1: max(5, 1) = 5,
    # node 3: max(3, 1) = 3, node 7: max(1, 2) = 2 -> 7 (a two-edge path 5-7-6 exists once nodes 2 apart are
    # joined, the authors' order-2 graph).
    assert gx.s2_query([0, 4, 5, 6, 8], [F, F, F, T, T], 9, np.random.default_rng(0)) == (7, "boundary")
    # symmetric case, 3, 4 negative and 5, 6 positive: node 2 max(3, 1) = 3 and node 7 max(1, 3) = 3 tie
    # -> either, by rng
    picks = {gx.s2_query([3, 4, 5, 6], [F, F, T, T], 9, np.random.default_rng(s))[0] for s in range(30)}
    assert picks == {2, 7}


def test_fallbacks_when_a_label_is_missing():
    # no positive known: "score" takes the highest unlabelled rank (8, or 6 when 7, 8 are labelled)
    assert gx.s2_query([], [], 9, np.random.default_rng(0), "score") == (8, "score")
    assert gx.s2_query([7, 8], [F, F], 9, np.random.default_rng(0), "score") == (6, "score")
    # no negative known: the lowest unlabelled rank (2: 0 and 1 are labelled)
    assert gx.s2_query([0, 1, 5], [T, T, T], 9, np.random.default_rng(0), "score") == (2, "score")
    # "random": uniform over the unlabelled ranks {0, 4, 5, 6, 7, 8}, never a labelled one
    draws = Counter(gx.s2_query([1, 2, 3], [F, F, F], 9, np.random.default_rng(s))[0] for s in range(600))
    assert set(draws) == {0, 4, 5, 6, 7, 8} and min(draws.values()) > 60
    assert gx.s2_query([1, 2, 3], [F, F, F], 9, np.random.default_rng(0))[1] == "random"


def test_missing_rank_and_class_margin():
    assert [gx._missing_rank(np.array([1, 2, 3]), j) for j in range(6)] == [0, 4, 5, 6, 7, 8]
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]], dtype=np.float32)
    top = gx.top_two(probs)
    # delta_c = p_c - max_{j != c} p_j: row 0: 0.6-0.3, 0.3-0.6, 0.1-0.6; row 1: 0.2-0.5, 0.5-0.3, 0.3-0.5
    assert np.allclose([gx.class_margin(probs, top, c) for c in range(3)],
                       [[0.3, -0.3], [-0.3, 0.2], [-0.5, -0.2]])


class Oracle:
    """Reveals hidden labels one request at a time and refuses a position twice."""

    def __init__(self, labels: dict[int, int], labelled=()):
        self.labels = labels
        self.calls: list[list[int]] = []
        self.seen = set(int(p) for p in labelled)

    def __call__(self, positions):
        positions = [int(p) for p in np.asarray(positions).ravel()]
        assert not self.seen.intersection(positions), "asked for a label twice"
        self.seen.update(positions)
        self.calls.append(positions)
        return np.array([self.labels[p] for p in positions], dtype=np.int64)


def _view(unlabelled, probs, labelled=(), labelled_y=(), labelled_probs=None, oracle=None, num_classes=None):
    probs = np.asarray(probs, dtype=np.float32)
    classes = probs.shape[1]
    return SelectionView(unlabelled=np.asarray(unlabelled, np.int64), labelled=np.asarray(labelled, np.int64),
                         labelled_y=np.asarray(labelled_y, np.int64), num_classes=num_classes or classes, round=0,
                         probs=probs, oracle=oracle,
                         labelled_probs=np.zeros((0, classes), np.float32) if labelled_probs is None
                         else np.asarray(labelled_probs, np.float32))


def _line_view():
    # 9 points in a line, pool positions 100..108, p1 = 0.1, 0.2, ..., 0.9 (so the class-1 path is the
    # line in order and the class-0 path is it reversed); 100 (class 0) and 108 (class 1) are labelled;
    # the hidden labels are 1 from position 106 on.
    p1 = 0.1 * np.arange(1, 10)
    probs = np.stack([1 - p1, p1], 1)
    hidden = {100 + i: int(i >= 6) for i in range(9)}
    oracle = Oracle(hidden, labelled=[100, 108])
    view = _view(np.arange(101, 108), probs[1:8], labelled=[100, 108], labelled_y=[0, 1],
                 labelled_probs=probs[[0, 8]], oracle=oracle)
    return view, oracle


def test_select_on_a_line_by_hand():
    # query 1, class 0's path (line reversed; 108 is its rank 0, a negative, 100 its rank 8, a positive):
    #   middle of 9 -> rank 4 = position 104, label 0.
    # query 2, class 1's path (the line): labelled 100 (neg), 104 (neg), 108 (pos): cut 104..108 with
    #   105, 106, 107 between -> 106, label 1.
    # query 3, class 0: ranks 8 (100, pos), 4 (104, pos), 2 (106, neg), 0 (108, neg): cut at ranks 2..4 with
    #   rank 3 = position 105 between -> 105, label 0.
    # query 4, class 1: the cut 105|106 is closed; nearest unlabelled to it: 107 (max(1, 2) = 2) beats
    #   103 (max(3, 1) = 3) -> 107.
    view, oracle = _line_view()
    method = METHODS.create("galaxy")
    picks = method.select(view, 4, np.random.default_rng(0))
    assert picks.tolist() == [104, 106, 105, 107]
    assert oracle.calls == [[104], [106], [105], [107]]  # one label at a time, in query order
    assert method.rules_ == {"bisect": 3, "boundary": 1}
    assert method.next_class_ == 0  # 4 queries over 2 classes: back to class 0


def test_round_robin_continues_across_rounds():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=30)
    labels = {i: int(rng.integers(3)) for i in range(30)}
    method = METHODS.create("galaxy")
    method.select(_view(np.arange(30), probs, oracle=Oracle(labels)), 2, np.random.default_rng(0))
    assert method.next_class_ == 2  # classes 0 and 1 visited; the next round starts with class 2
    method.select(_view(np.arange(30), probs, oracle=Oracle(labels)), 4, np.random.default_rng(0))
    assert method.next_class_ == 0  # 2, 0, 1, 2


def _random_problem(n=60, classes=4, labelled=8, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(classes, size=n)
    logits = rng.standard_normal((n, classes)) + 2.0 * np.eye(classes)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pos = np.arange(n) + 1000
    lab = np.sort(rng.choice(n, labelled, replace=False))
    unl = np.setdiff1d(np.arange(n), lab)

    def view():
        return _view(pos[unl], probs[unl], labelled=pos[lab], labelled_y=y[lab], labelled_probs=probs[lab],
                     oracle=Oracle(dict(zip(pos.tolist(), y.tolist())), labelled=pos[lab]))
    return view


def test_k_larger_than_classes_distinct_unlabelled_and_deterministic():
    make = _random_problem()
    view = make()
    picks = METHODS.create("galaxy").select(view, 30, np.random.default_rng(5))
    assert len(picks) == 30 and len(np.unique(picks)) == 30 and np.isin(picks, view.unlabelled).all()
    assert [c[0] for c in view.oracle.calls] == picks.tolist()
    again = METHODS.create("galaxy").select(make(), 30, np.random.default_rng(5))
    assert np.array_equal(picks, again)
    # the sort cache changes nothing
    assert np.array_equal(picks, METHODS.create("galaxy", cache_mb=0).select(make(), 30, np.random.default_rng(5)))
    # all of the unlabelled pool, when asked
    everything = METHODS.create("galaxy").select(make(), 52, np.random.default_rng(0))
    assert sorted(everything.tolist()) == sorted(view.unlabelled.tolist())
    with pytest.raises(AlbenchError, match="53 points but only 52"):
        METHODS.create("galaxy").select(make(), 53, np.random.default_rng(0))


def test_empty_labelled_set_starts_at_random_then_bisects():
    make = _random_problem(n=80, classes=3, labelled=0, seed=1)
    picks = {tuple(METHODS.create("galaxy").select(make(), 20, np.random.default_rng(s)).tolist()) for s in range(3)}
    assert len(picks) > 1  # the random fallback depends on the seed
    method = METHODS.create("galaxy")
    view = make()
    chosen = method.select(view, 20, np.random.default_rng(0))
    assert len(np.unique(chosen)) == 20 and np.isin(chosen, view.unlabelled).all()
    assert method.rules_.get("random", 0) >= 1 and method.rules_.get("bisect", 0) >= 1
    # with fallback="score" the first query is class 0's highest-scored point: by default (the authors'
    # code) the point predicted 0 with the largest p_0; with score="margin" the largest p_0 − max_(j≠0) p_j
    view = make()
    first = METHODS.create("galaxy", fallback="score").select(view, 1, np.random.default_rng(0))
    probs = view.probs
    predicted_0 = np.flatnonzero(probs.argmax(1) == 0)
    assert first[0] == view.unlabelled[predicted_0[np.argmax(probs[predicted_0, 0])]]
    view = make()
    first = METHODS.create("galaxy", fallback="score", score="margin").select(view, 1, np.random.default_rng(0))
    others = np.where(probs.argmax(1) == 0, np.sort(probs, 1)[:, -2], probs.max(1))
    assert first[0] == view.unlabelled[np.argmax(probs[:, 0] - others)]


def test_needs_the_oracle_and_matching_classes():
    make = _random_problem()
    view = make()
    no_oracle = SelectionView(unlabelled=view.unlabelled, labelled=view.labelled, labelled_y=view.labelled_y,
                              num_classes=view.num_classes, round=0, probs=view.probs,
                              labelled_probs=view.labelled_probs)
    with pytest.raises(AlbenchError, match="needs the oracle"):
        METHODS.create("galaxy").select(no_oracle, 3, np.random.default_rng(0))
    wrong = _view(view.unlabelled, view.probs, labelled=view.labelled, labelled_y=view.labelled_y,
                  labelled_probs=view.labelled_probs, oracle=view.oracle, num_classes=7)
    with pytest.raises(AlbenchError, match="over the 7 classes being labelled, got 4 columns"):
        METHODS.create("galaxy").select(wrong, 3, np.random.default_rng(0))
    assert METHODS.create("galaxy").needs().oracle


@pytest.mark.parametrize("params, message", [
    ({"fallback": "nearest"}, r"fallback must be one of \('random', 'score'\)"),
    ({"cache_mb": -1}, "cache_mb must be a number >= 0"),
])
def test_bad_hyperparameters_raise(params, message):
    with pytest.raises(AlbenchError, match=message):
        METHODS.create("galaxy", **params)


def test_class_scores_by_hand_and_the_default_is_the_authors_code():
    # 4 points, 3 classes. Class 0's scores:
    #   row  p                  ŷ  top: p_0 − max p + 1e-8·max p   margin: p_0 − max_(j≠0) p_j
    #   x0   (0.60, 0.39, 0.01) 0   0 + 6.0e-9                      0.21
    #   x1   (0.50, 0.25, 0.25) 0   0 + 5.0e-9                      0.25
    #   x2   (0.20, 0.70, 0.10) 1  −0.50 + 7e-9                    −0.50
    #   x3   (0.30, 0.30, 0.40) 2  −0.10 + 4e-9                    −0.10
    # The points not predicted 0 get the same order from both (x2, x3); the two predicted 0 are ordered by
    # p_0 (x1, x0) by the authors' code and by their margin (x0, x1) by "margin".
    p = np.array([[0.60, 0.39, 0.01], [0.50, 0.25, 0.25], [0.20, 0.70, 0.10], [0.30, 0.30, 0.40]])
    top = gx.top_two(p)
    assert np.allclose(gx.class_top_gap(p, top, 0), [6e-9, 5e-9, -0.5 + 7e-9, -0.1 + 4e-9], rtol=0, atol=1e-12)
    assert np.allclose(gx.class_margin(p, top, 0), [0.21, 0.25, -0.5, -0.1], atol=1e-6)
    empty = p[:0]
    order_top, _ = gx.Galaxy._sort(p, empty, top, gx.top_two(empty), 0, gx.class_top_gap)
    order_margin, _ = gx.Galaxy._sort(p, empty, top, gx.top_two(empty), 0, gx.class_margin)
    assert order_top.tolist() == [2, 3, 1, 0] and order_margin.tolist() == [2, 3, 0, 1]
    assert METHODS.create("galaxy").score == "top" and METHODS.get("galaxy").version == "2"
    with pytest.raises(AlbenchError, match="score must be one of"):
        METHODS.create("galaxy", score="p_c")
