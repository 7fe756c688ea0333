"""BASE (methods/base_balanced.py): per-class boundary distances and the balanced round-robin,
checked by hand on a tiny probability matrix."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS, discover
from benchmark.select.api import SelectionView

discover()
base_module = sys.modules[METHODS.get("base").__module__]  # plugin files are imported by path
balanced_selection = base_module.balanced_selection
boundary_distances = base_module.boundary_distances
class_quotas = base_module.class_quotas

# Hand example in sixteenths (exact in binary), 3 classes, score = "prob":
#   row  p·16        ŷ  top2  d(·,0)         d(·,1)         d(·,2)
#   x0   (8, 5, 3)   0  5     8−5 = 3 (ŷ)    8−5 = 3        8−3 = 5
#   x1   (7, 3, 6)   0  6     7−6 = 1 (ŷ)    7−3 = 4        7−6 = 1
#   x2   (3, 11, 2)  1  3     11−3 = 8       11−3 = 8 (ŷ)   11−2 = 9
#   x3   (2, 8, 6)   1  6     8−2 = 6        8−6 = 2 (ŷ)    8−6 = 2
#   x4   (5, 4, 7)   2  5     7−5 = 2        7−4 = 3        7−5 = 2 (ŷ)
# (ŷ) marks d(x, ŷ) = top1 − top2, the margin; elsewhere d(x, c) = top1 − p_c.
# Class orders (ties → lower row): 0: x1 x4 x0 x3 x2;  1: x3 x0 x4 x1 x2;  2: x1 x3 x4 x0 x2.
# Quotas (1, 1, 1): class 0 → x1; class 1 → x3; class 2: x1, x3 taken → x4.      Picks [1, 3, 4].
# Quotas (2, 2, 1): pass 0 as above; pass 1: class 0: x1, x4 taken → x0;
#                   class 1: x3, x0, x4, x1 taken → x2.                          Picks [1, 3, 4, 0, 2].
HAND = np.array([[8, 5, 3], [7, 3, 6], [3, 11, 2], [2, 8, 6], [5, 4, 7]], dtype=np.float64) / 16
HAND_D16 = [[3, 3, 5], [1, 4, 1], [8, 8, 9], [6, 2, 2], [2, 3, 2]]


class _Head:
    """A stand-in learner whose linear head has weight matrix ``w`` (default: isotropic, the identity,
    so every ‖w_i − w_j‖ is √2 and the normaliser leaves the order unchanged)."""

    def __init__(self, w):
        self.w = np.asarray(w, np.float32)

    def head_weights(self):
        return self.w


def _view(probs, unlabelled=None, labelled=None, head=None):
    unlabelled = np.arange(50, 50 + len(probs)) if unlabelled is None else unlabelled
    labelled = np.zeros(0, np.int64) if labelled is None else labelled
    return SelectionView(unlabelled=unlabelled, labelled=labelled, labelled_y=np.zeros(len(labelled), np.int64),
                         num_classes=probs.shape[1], round=0, probs=probs,
                         learner=_Head(np.eye(probs.shape[1]) if head is None else head))


def test_hand_checked_distances():
    assert (boundary_distances(HAND, "prob") * 16).tolist() == HAND_D16
    assert (boundary_distances(HAND.astype(np.float32), "prob") * 16).tolist() == HAND_D16


def test_hand_checked_round_robin():
    assert balanced_selection(HAND, [1, 1, 1], "prob").tolist() == [1, 3, 4]
    assert balanced_selection(HAND, [2, 2, 1], "prob").tolist() == [1, 3, 4, 0, 2]
    assert balanced_selection(HAND, [0, 2, 0], "prob").tolist() == [3, 0]  # x0 before x4: tie at 3 → lower row
    assert balanced_selection(HAND, [0, 0, 2], "prob").tolist() == [1, 3]  # x3 before x4: tie at 2 → lower row
    assert balanced_selection(HAND, [0, 0, 0], "prob").tolist() == []


def test_logit_and_prob_scores_rank_differently_by_hand():
    # Class 1, 4 classes. P1 = (.6, .3, .1, 0): ŷ = 0, d_prob = .6 − .3 = .30, d_logit = ln(.6/.3) = ln 2 ≈ 0.693.
    #                     P2 = (.35, .1, .3, .25): ŷ = 0, d_prob = .35 − .1 = .25, d_logit = ln 3.5 ≈ 1.253.
    probs = np.array([[0.6, 0.3, 0.1, 0.0], [0.35, 0.1, 0.3, 0.25]])
    assert balanced_selection(probs, [0, 1, 0, 0], "prob").tolist() == [1]
    assert balanced_selection(probs, [0, 1, 0, 0], "logit").tolist() == [0]
    d = boundary_distances(probs, "logit")
    assert d[0, 1] == pytest.approx(np.log(2)) and d[1, 1] == pytest.approx(np.log(3.5))
    assert d[0, 0] == pytest.approx(np.log(2))  # ŷ = 0: the margin ln(.6/.3)
    assert d[0, 3] == pytest.approx(np.log(0.6) - np.log(np.finfo(np.float64).tiny))  # p = 0: floored, finite


def test_conflicts_beyond_the_candidate_list_are_refilled():
    # Every row predicts class 0 and spreads the rest evenly: d(x, c) = p_0 − u is the same for all
    # 40 classes, so class c's pick is the (c+1)-th smallest gap; class 39 exhausts its first
    # candidate list (2·1 + 16 = 18 rows) twice and must still get the 40th smallest.
    gen = np.random.default_rng(0)
    top = gen.uniform(0.2, 0.9, size=100)
    probs = np.column_stack([top] + [(1 - top) / 39] * 39)
    picks = balanced_selection(probs, np.ones(40, np.int64), "prob")
    assert picks.tolist() == np.argsort(top - (1 - top) / 39, kind="stable")[:40].tolist()


def test_quotas_remainder_from_rng():
    assert class_quotas(6, 3, np.random.default_rng(0)).tolist() == [2, 2, 2]
    q = class_quotas(7, 3, np.random.default_rng(0))
    assert q.sum() == 7 and sorted(q.tolist()) == [2, 2, 3]
    extras = {int(np.argmax(class_quotas(1, 10, np.random.default_rng(s)))) for s in range(30)}
    assert len(extras) > 3  # the class that gets the odd point is drawn, not always class 0


def test_deterministic_for_a_seed():
    probs = np.random.default_rng(1).dirichlet(np.ones(4), size=60)
    view = _view(probs)
    a = METHODS.create("base").select(view, 9, np.random.default_rng(5))
    assert np.array_equal(a, METHODS.create("base").select(view, 9, np.random.default_rng(5)))
    runs = {tuple(sorted(METHODS.create("base").select(view, 9, np.random.default_rng(s)).tolist())) for s in range(10)}
    assert len(runs) > 1  # k = 9, C = 4: the class with the 3rd point comes from the rng


def test_k_above_classes_returns_k_distinct_unlabelled_positions():
    probs = np.random.default_rng(2).dirichlet(np.ones(3), size=20)
    view = _view(probs, unlabelled=np.arange(0, 40, 2))
    chosen = METHODS.create("base").select(view, 10, np.random.default_rng(0))
    assert chosen.shape == (10,) and len(np.unique(chosen)) == 10 and np.isin(chosen, view.unlabelled).all()
    every = METHODS.create("base").select(view, 20, np.random.default_rng(0))
    assert sorted(every.tolist()) == view.unlabelled.tolist()


def test_empty_labelled_set_and_method_matches_core_step():
    view = _view(HAND)
    assert view.labelled.size == 0
    assert METHODS.create("base", score="prob").select(view, 3, np.random.default_rng(0)).tolist() == [51, 53, 54]


def test_one_class_pool():
    view = _view(np.ones((5, 1)))
    assert METHODS.create("base").select(view, 3, np.random.default_rng(0)).tolist() == [50, 51, 52]


def test_bad_hyperparameters_raise():
    with pytest.raises(AlbenchError, match="score='margin'.*'logit', 'prob'"):
        METHODS.create("base", score="margin")
    with pytest.raises(AlbenchError, match="asked for 6 points among 5"):
        balanced_selection(HAND, [2, 2, 2], "prob")
    with pytest.raises(AlbenchError, match="quotas must be 3 non-negative counts"):
        balanced_selection(HAND, [1, -1, 1], "prob")


def test_smallest_rows_match_a_full_stable_sort():
    smallest = base_module._smallest
    gen = np.random.default_rng(3)
    cols = [gen.random(1000), np.round(gen.random(1000), 1), np.arange(1000.0)[::-1], np.zeros(1000),
            np.r_[np.full(500, 2.0), np.linspace(0, 1, 500)]]
    for col in cols:
        for m in (1, 7, 18, 300, 999, 1000, 1200):
            assert smallest(col, m).tolist() == np.argsort(col, kind="stable")[:m].tolist()


def _round_robin_reference(d, quotas):
    """Dense d (N, C), a full stable sort per class, then the round-robin."""
    orders = [np.argsort(d[:, c], kind="stable").tolist() for c in range(d.shape[1])]
    chosen, picks = set(), []
    for t in range(max(quotas)):
        for c in range(d.shape[1]):
            if quotas[c] > t:
                j = next(r for r in orders[c] if r not in chosen)
                chosen.add(j)
                picks.append(j)
    return picks


@pytest.mark.parametrize("score", ["prob", "logit"])
def test_matches_a_dense_reference_with_saturated_ties(score):
    gen = np.random.default_rng(11)
    logits = gen.normal(size=(3000, 50)) * 3
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs = (probs / probs.sum(1, keepdims=True)).astype(np.float32)
    saturated = gen.random(3000) < 0.5
    probs[saturated] = np.eye(50, dtype=np.float32)[gen.integers(50, size=saturated.sum())]  # many equal keys
    quotas = gen.integers(0, 6, size=50)
    got = balanced_selection(probs, quotas, score).tolist()
    assert got == _round_robin_reference(boundary_distances(probs, score), quotas.tolist())
    assert len(set(got)) == quotas.sum()


@pytest.mark.parametrize("score", ["prob", "logit"])
def test_fully_saturated_pool_ties_go_to_the_lower_rows(score):
    # one-hot probabilities: every d(x, c) is the same (1 − 0, or ln(1/2.2e-308)), so each class in
    # turn takes the lowest free row
    probs = np.eye(7, dtype=np.float32)[np.random.default_rng(0).integers(7, size=5000)]
    assert balanced_selection(probs, np.full(7, 3), score).tolist() == list(range(21))


def test_single_class_refill_does_not_write_into_the_view():
    probs = np.ones((6, 1), np.float32)
    probs.setflags(write=False)
    keys = base_module._BoundaryKeys(probs, "logit")
    assert keys.columns(0, 1).tolist() == [[np.inf] * 6]


# Head normaliser, by hand. W rows w0 = (0, 0), w1 = (1, 0), w2 = (4, 0): ‖w0−w1‖ = 1, ‖w0−w2‖ = 4,
# ‖w1−w2‖ = 3. Probabilities are softmax(z), so log p_ŷ − log p_c = z_ŷ − z_c:
#   row  z            ŷ  d(·,0)                 d(·,1)          d(·,2)
#   x0   (2, 1, 0)    0  min(1/1, 2/4) = 0.5    (2−1)/1 = 1     (2−0)/4 = 0.5
#   x1   (0, 3, 1)    1  3/1 = 3                min(3, 2/3)     (3−1)/3 = 2/3
#   x2   (0, 0, 1.5)  2  1.5/4 = 0.375          1.5/3 = 0.5     min(.375, .5)
# Without the normaliser: x0 (1, 1, 2), x1 (3, 2, 2), x2 (1.5, 1.5, 1.5).
# Quotas (1, 1, 0): with it, class 0 takes x2 (0.375), class 1 then x1 (2/3 < 1): [2, 1];
# without it, class 0 takes x0 (1), class 1 then x2 (1.5 < 2): [0, 2].
HEAD_W = np.array([[0.0, 0.0], [1.0, 0.0], [4.0, 0.0]])
HEAD_Z = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.5]])
HEAD_P = np.exp(HEAD_Z) / np.exp(HEAD_Z).sum(1, keepdims=True)


def test_head_normaliser_by_hand():
    norms = base_module.head_norms(HEAD_W)
    assert np.allclose(norms, [[0, 1, 4], [1, 0, 3], [4, 3, 0]])
    d = boundary_distances(HEAD_P, norms=norms)
    assert np.allclose(d, [[0.5, 1, 0.5], [3, 2 / 3, 2 / 3], [0.375, 0.5, 0.375]])
    assert np.allclose(boundary_distances(HEAD_P), [[1, 1, 2], [3, 2, 2], [1.5, 1.5, 1.5]])
    assert balanced_selection(HEAD_P, np.array([1, 1, 0]), norms=norms).tolist() == [2, 1]
    assert balanced_selection(HEAD_P, np.array([1, 1, 0])).tolist() == [0, 2]
    # the method reads W from the learner by default; normaliser: false is version 1's distance
    view = _view(HEAD_P, head=HEAD_W)
    quotas = class_quotas(2, 3, np.random.default_rng(0))  # the quotas select draws first from its rng
    want = balanced_selection(HEAD_P, quotas, norms=norms) + 50
    assert METHODS.create("base").select(view, 2, np.random.default_rng(0)).tolist() == want.tolist()
    plain = balanced_selection(HEAD_P, quotas) + 50
    assert METHODS.create("base", normaliser=False).select(view, 2, np.random.default_rng(0)).tolist() == plain.tolist()


def test_equal_head_rows_are_no_boundary():
    norms = base_module.head_norms(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]]))  # w0 = w1
    d = boundary_distances(HEAD_P, norms=norms)
    assert np.isinf(d[0, 1]) and np.isfinite(d[0, 2]) and d[0, 0] == d[0, 2]


def test_normaliser_needs_and_options():
    assert METHODS.create("base").needs().learner and METHODS.get("base").version == "2"
    assert not METHODS.create("base", normaliser=False).needs().learner
    assert not METHODS.create("base", score="prob").needs().learner  # no normaliser in probability space
    with pytest.raises(AlbenchError, match="needs score: logit"):
        METHODS.create("base", score="prob", normaliser=True)
    with pytest.raises(AlbenchError, match="normaliser must be"):
        METHODS.create("base", normaliser="yes")
    with pytest.raises(AlbenchError, match="needs score='logit'"):
        boundary_distances(HEAD_P, score="prob", norms=np.zeros((3, 3)))


def test_learner_head_weights_are_the_last_linear_layer():
    from benchmark.learn.learner import Learner, LearnerRecipe

    learner = Learner(LearnerRecipe(model="lenet", device="cpu"), 10, (1, 28, 28), (0.5,), (0.25,), seed=0)
    w = learner.head_weights()
    assert w.shape == (10, learner.model.fc2.in_features)
    assert np.array_equal(w, learner.model.fc2.weight.detach().numpy())
