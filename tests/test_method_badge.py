"""BADGE (methods/badge.py): gradient-embedding norms and k-means++ seeding, checked by hand and
against a reference that materialises the (N, C·d) gradient embeddings."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS, discover
from benchmark.select.api import SelectionView

discover()
badge_module = sys.modules[METHODS.get("badge").__module__]  # plugin files are imported by path
badge_kmeanspp = badge_module.badge_kmeanspp
gradient_embedding_sq_norms = badge_module.gradient_embedding_sq_norms

# Hand example, C = 2 classes, d = 2, g = a ⊗ h laid out class-major [a_0 h, a_1 h], a = p − e_ŷ:
#   x0: p = (.5, .5)  ŷ = 0 (tie → lower class)  a = (−.5, .5)   h = (1, 0)   g = (−.5, 0, .5, 0)  ‖g‖² = .5
#   x1: p = (1, 0)    ŷ = 0                      a = (0, 0)      h = (3, 4)   g = 0                ‖g‖² = 0
#   x2: p = (.25,.75) ŷ = 1                      a = (.25, −.25) h = (0, 4)   g = (0, 1, 0, −1)    ‖g‖² = 2
#   x3: p = (.75,.25) ŷ = 0                      a = (−.25, .25) h = (0, −4)  g = (0, 1, 0, −1)    ‖g‖² = 2
# max-norm first centre: x2 and x3 tie at 2 → the lower row, x2. D² to g_2:
#   x0: (−.5, −1, .5, 1) → .25 + 1 + .25 + 1 = 2.5;  x1: ‖g_2‖² = 2;  x3: 0 (same g);  x2: 0.
# Second centre: x0 with probability 2.5 / 4.5 = 5/9, x1 with 4/9, x3 never. After x0 and x1,
# only x3 is left and its D² is 0 (it coincides with x2): the uniform fallback picks it.
HAND_P = np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75], [0.75, 0.25]], dtype=np.float32)
HAND_H = np.array([[1.0, 0.0], [3.0, 4.0], [0.0, 4.0], [0.0, -4.0]], dtype=np.float32)


def _view(probs, emb, unlabelled=None, labelled=None, labelled_emb=None):
    n = len(probs)
    unlabelled = np.arange(100, 100 + n) if unlabelled is None else unlabelled
    labelled = np.zeros(0, np.int64) if labelled is None else labelled
    d = emb.shape[1]
    return SelectionView(unlabelled=unlabelled, labelled=labelled, labelled_y=np.zeros(len(labelled), np.int64),
                         num_classes=probs.shape[1], round=0, probs=probs, embeddings=emb,
                         labelled_embeddings=np.zeros((len(labelled), d), np.float32) if labelled_emb is None
                         else labelled_emb)


def test_hand_checked_norms_and_first_centre():
    assert gradient_embedding_sq_norms(HAND_P, HAND_H).tolist() == [0.5, 0.0, 2.0, 2.0]
    assert badge_kmeanspp(HAND_P, HAND_H, 1, np.random.default_rng(0)).tolist() == [2]


def test_hand_checked_second_centre_is_a_d2_draw():
    for seed in range(20):
        u = np.random.default_rng(seed).random() * 4.5  # the one draw: D² = (2.5, 2, 0, 0) after centre x2
        expected = 0 if u < 2.5 else 1
        assert badge_kmeanspp(HAND_P, HAND_H, 2, np.random.default_rng(seed)).tolist() == [2, expected]
    seconds = [badge_kmeanspp(HAND_P, HAND_H, 2, np.random.default_rng(s))[1] for s in range(3000)]
    assert 3 not in seconds  # D² = 0: a duplicate of a centre is never drawn
    assert abs(np.mean(np.asarray(seconds) == 0) - 5 / 9) < 0.03


def test_hand_checked_zero_d2_falls_back_to_uniform():
    for seed in range(5):
        picks = badge_kmeanspp(HAND_P, HAND_H, 4, np.random.default_rng(seed)).tolist()
        assert picks[0] == 2 and sorted(picks[1:3]) == [0, 1] and picks[3] == 3


def _reference(probs, emb, k, rng, first):
    """Materialise g (N, C·d), then the same seeding: the same draws in the same order."""
    p, h = probs.astype(np.float64), emb.astype(np.float64)
    a = p.copy()
    a[np.arange(len(p)), p.argmax(1)] -= 1.0
    g = (a[:, :, None] * h[:, None, :]).reshape(len(p), -1)
    j = int(np.argmax((g * g).sum(1))) if first == "max_norm" else int(rng.integers(len(p)))
    picks, d2 = [j], np.full(len(p), np.inf)
    while len(picks) < k:
        d2 = np.minimum(d2, ((g - g[j]) ** 2).sum(1))
        d2[picks] = 0.0
        cdf = np.cumsum(d2)
        j = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        picks.append(j)
    return picks


@pytest.mark.parametrize("first", ["max_norm", "random"])
def test_matches_materialised_gradient_embeddings(first):
    gen = np.random.default_rng(7)
    logits = gen.normal(size=(80, 5)) * 2
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    emb = gen.normal(size=(80, 6)).astype(np.float32)
    for seed in range(3):
        got = badge_kmeanspp(probs, emb, 25, np.random.default_rng(seed), first=first).tolist()
        assert got == _reference(probs, emb, 25, np.random.default_rng(seed), first)
        assert len(set(got)) == 25


def _random_view(n=40, classes=3, d=4, seed=0):
    gen = np.random.default_rng(seed)
    probs = gen.dirichlet(np.ones(classes), size=n).astype(np.float32)
    return _view(probs, gen.normal(size=(n, d)).astype(np.float32))


def test_deterministic_for_a_seed_and_random_across_seeds():
    view = _random_view()
    method = METHODS.create("badge")
    a = method.select(view, 10, np.random.default_rng(3))
    assert np.array_equal(a, METHODS.create("badge").select(view, 10, np.random.default_rng(3)))
    picks = {tuple(method.select(view, 10, np.random.default_rng(s)).tolist()) for s in range(10)}
    assert len(picks) > 1
    assert len({p[0] for p in picks}) == 1  # max-norm first centre: the same for every seed
    firsts = {int(METHODS.create("badge", first="random").select(view, 3, np.random.default_rng(s))[0])
              for s in range(10)}
    assert len(firsts) > 1


def test_k_above_classes_returns_k_distinct_unlabelled_positions():
    view = _random_view(n=30, classes=3)
    chosen = METHODS.create("badge").select(view, 20, np.random.default_rng(0))
    assert chosen.shape == (20,) and len(np.unique(chosen)) == 20
    assert np.isin(chosen, view.unlabelled).all()
    every = METHODS.create("badge").select(view, 30, np.random.default_rng(0))
    assert sorted(every.tolist()) == view.unlabelled.tolist()


def test_all_gradients_equal_fall_back_to_uniform_over_the_rest():
    probs = np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (12, 1))  # confident: every g_x = 0
    emb = np.ones((12, 5), np.float32)
    view = _view(probs, emb)
    a = METHODS.create("badge").select(view, 12, np.random.default_rng(1))
    b = METHODS.create("badge").select(view, 12, np.random.default_rng(2))
    assert sorted(a.tolist()) == view.unlabelled.tolist() and a[0] == 100  # argmax of equal norms: row 0
    assert not np.array_equal(a, b)


def test_empty_labelled_set_and_labelled_points_are_not_centres():
    gen = np.random.default_rng(4)
    probs = gen.dirichlet(np.ones(4), size=25).astype(np.float32)
    emb = gen.normal(size=(25, 3)).astype(np.float32)
    empty = _view(probs, emb)
    chosen = METHODS.create("badge").select(empty, 6, np.random.default_rng(0))
    assert len(np.unique(chosen)) == 6 and np.isin(chosen, empty.unlabelled).all()
    with_labels = _view(probs, emb, labelled=np.array([0, 1, 2]),
                        labelled_emb=gen.normal(size=(3, 3)).astype(np.float32))
    assert np.array_equal(chosen, METHODS.create("badge").select(with_labels, 6, np.random.default_rng(0)))


def test_bad_hyperparameters_raise():
    with pytest.raises(AlbenchError, match="first='kmeans'.*'max_norm', 'random'"):
        METHODS.create("badge", first="kmeans")
    with pytest.raises(AlbenchError, match="asked for 5 centres among 4"):
        badge_kmeanspp(HAND_P, HAND_H, 5, np.random.default_rng(0))
