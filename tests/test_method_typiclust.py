"""TypiClust (methods/typiclust.py): typicality, the cluster order of Alg. 1 and the method on views."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS, discover
from benchmark.select.api import SelectionView

discover()
tc = sys.modules[METHODS.get("typiclust").__module__]

# 18 points in the plane, three given clusters. Row 0 is labelled.
# c0 (8 points): a core (10,0) with 4 points at distance 1 around it, and 3 farther points.
# c1 (6 points): a core (0,0) with (0.9,0), (-1,0), (0,1), (0,-1.5) around it, and (0,4).
# c2 (4 points): too small (<= 5 points), only used when everything else is used up.
POINTS = np.array([
    (10, 3), (11, 0), (10, 0), (9, 0), (10, 1), (10, -1), (13, 0), (7, 0),   # c0: rows 0-7
    (0.9, 0), (0, 0), (-1, 0), (0, 1), (0, -1.5), (0, 4),                     # c1: rows 8-13
    (-20, 0), (-20, 1), (-21, 0), (-25, 0),                                   # c2: rows 14-17
], dtype=np.float32)
CLUSTERS = np.array([0] * 8 + [1] * 6 + [2] * 4)
LABELLED = np.zeros(18, dtype=bool)
LABELLED[0] = True


def test_typicality_hand_checked():
    # 1-D points 0, 1, 2, 10 and K = 2: mean distance to the 2 nearest others
    # 0 -> (1 + 2)/2 = 1.5; 1 -> (1 + 1)/2 = 1; 2 -> (1 + 2)/2 = 1.5; 10 -> (8 + 9)/2 = 8.5
    x = np.array([[0, 0], [1, 0], [2, 0], [10, 0]], dtype=np.float32)
    assert np.allclose(tc.knn_mean_distance(x, 2), [1.5, 1.0, 1.5, 8.5], atol=1e-5)
    assert np.allclose(tc.typicality(x, 2), 1 / (np.array([1.5, 1.0, 1.5, 8.5]) + 1e-5), rtol=1e-5)
    assert int(np.argmax(tc.typicality(x, 2))) == 1


def test_knn_is_chunked_and_exact():
    x = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    dense = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(dense, np.inf)
    expected = np.sort(dense, axis=1)[:, :5].mean(1)
    for chunk in (16 * 300, 4 * 300 * 7, tc.CHUNK_BYTES):  # one row per chunk, 7 rows, everything at once
        assert np.allclose(tc.knn_mean_distance(x, 5, chunk_bytes=chunk), expected, atol=1e-4)


def test_select_hand_checked_order():
    # pick 1: c0 holds 1 labelled point, c1 none -> c1. Its 6 unlabelled points, K = min(20, 6 // 2) = 3:
    #   (0,0): 0.9, 1, 1 -> 0.967 (the others: (0.9,0) 1.331, (-1,0) 1.438, (0,1) 1.253, ...) -> row 9
    # pick 2: c0 and c1 both hold 1 -> the larger, c0 (8 > 6). 7 unlabelled, K = 3:
    #   (10,0): 1, 1, 1 -> 1.0; every other point >= (1 + 2·√2)/3 = 1.276 -> row 2
    # pick 3: c0 holds 2, c1 holds 1 -> c1. 5 unlabelled, K = 5 // 2 = 2:
    #   (0.9,0): (√1.81 + √3.06)/2 = 1.547; (-1,0): (√2 + √3.25)/2 = 1.608;
    #   (0,1): (√1.81 + √2)/2 = 1.380; (0,-1.5): 1.776; (0,4): 3.56 -> row 11
    picks = tc.typiclust_select(POINTS, CLUSTERS, LABELLED, 3)
    assert picks.tolist() == [9, 2, 11]


def test_select_more_than_clusters_uses_small_clusters_last():
    picks = tc.typiclust_select(POINTS, CLUSTERS, LABELLED, 17)  # every unlabelled point
    assert sorted(picks.tolist()) == list(range(1, 18))
    assert picks[:3].tolist() == [9, 2, 11]
    assert sorted(picks[-4:].tolist()) == [14, 15, 16, 17]  # c2 (4 points <= 5) only once c0, c1 are used up
    with pytest.raises(AlbenchError, match="only 17 are unlabelled"):
        tc.typiclust_select(POINTS, CLUSTERS, LABELLED, 18)


def test_min_cluster_size_zero_keeps_small_clusters():
    # with no size filter, c2 (no labelled point, size 4) is as uncovered as c1 but smaller: c1 first,
    # then c2 (count 0) before c0 (count 1); c2's 4 points, K = 4 // 2 = 2: (-20,0): (1 + 1)/2 = 1;
    # (-20,1): (1 + √2)/2 = 1.207; (-21,0): 1.207; (-25,0): (4 + 5)/2 = 4.5 -> row 14.
    picks = tc.typiclust_select(POINTS, CLUSTERS, LABELLED, 3, min_cluster_size=0)
    assert picks.tolist() == [9, 14, 2]


def _view(unl, lab=None, num_classes=3, positions=None):
    unl = np.asarray(unl, np.float32)
    lab = np.zeros((0, unl.shape[1]), np.float32) if lab is None else np.asarray(lab, np.float32)
    n = len(unl) + len(lab)
    positions = np.arange(n) if positions is None else positions
    return SelectionView(unlabelled=positions[len(lab):], labelled=positions[:len(lab)],
                         labelled_y=np.zeros(len(lab), np.int64), num_classes=num_classes, round=0,
                         embeddings=unl, labelled_embeddings=lab,
                         ssl_embeddings=unl, labelled_ssl_embeddings=lab)


def _blobs(n_per=40, dim=8, groups=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((groups, dim)) * 3
    return np.concatenate([c + rng.standard_normal((n_per, dim)) for c in centres]).astype(np.float32)


def test_deterministic_for_a_seed_and_seed_matters():
    x = _blobs()
    view = _view(x[10:], x[:10], positions=np.arange(100, 100 + len(x)))
    a = METHODS.create("typiclust").select(view, 12, np.random.default_rng(7))
    b = METHODS.create("typiclust").select(view, 12, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert len(np.unique(a)) == 12 and np.isin(a, view.unlabelled).all()
    runs = {tuple(METHODS.create("typiclust").select(view, 12, np.random.default_rng(s))) for s in range(6)}
    assert len(runs) > 1  # the k-means seed comes from rng


def test_k_larger_than_the_cluster_cap():
    x = _blobs()
    view = _view(x[5:], x[:5])
    picks = METHODS.create("typiclust", max_clusters=3).select(view, 40, np.random.default_rng(0))
    assert picks.shape == (40,) and len(np.unique(picks)) == 40
    assert np.isin(picks, view.unlabelled).all() and not np.isin(picks, view.labelled).any()


def test_cluster_count_is_labelled_plus_budget_capped(monkeypatch):
    seen = []
    real = tc.kmeans_labels
    monkeypatch.setattr(tc, "kmeans_labels", lambda x, n, seed: seen.append((len(x), n)) or real(x, n, seed))
    x = _blobs()
    METHODS.create("typiclust").select(_view(x[10:], x[:10]), 12, np.random.default_rng(0))
    METHODS.create("typiclust", max_clusters=7).select(_view(x[10:], x[:10]), 12, np.random.default_rng(0))
    assert seen == [(160, 22), (160, 7)]  # |L| + B = 10 + 12, then the cap


def test_empty_labelled_set_and_engine_shape():
    x = _blobs()
    for lab in (None, np.zeros((0, 0), np.float32)):  # the learner gives (0, 0) for no labelled image
        view = SelectionView(unlabelled=np.arange(len(x)), labelled=np.zeros(0, np.int64),
                             labelled_y=np.zeros(0, np.int64), num_classes=4, round=0,
                             embeddings=x, labelled_embeddings=lab,
                             ssl_embeddings=x, labelled_ssl_embeddings=lab)
        picks = METHODS.create("typiclust").select(view, 4, np.random.default_rng(0))
        # 4 clusters of 40 points (the 4 blobs): one pick in each blob
        assert sorted(p // 40 for p in picks.tolist()) == [0, 1, 2, 3]


def test_embeddings_are_l2_normalised():
    # scaling each row by a positive factor changes nothing: the method works on directions
    x = _blobs()
    scale = np.random.default_rng(3).uniform(0.1, 10, size=(len(x), 1)).astype(np.float32)
    a = METHODS.create("typiclust").select(_view(x[8:], x[:8]), 10, np.random.default_rng(1))
    b = METHODS.create("typiclust").select(_view((x * scale)[8:], (x * scale)[:8]), 10, np.random.default_rng(1))
    assert np.array_equal(a, b)
    n = tc.l2_normalize(x[:3], None, x[3:])
    assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-6)
    assert np.array_equal(tc.l2_normalize(np.zeros((2, 3))), np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("params, match", [
    ({"k_nn": 0}, "k_nn must be an integer >= 1"),
    ({"k_nn": 2.5}, "k_nn must be an integer >= 1"),
    ({"max_clusters": 0}, "max_clusters must be an integer >= 1"),
    ({"min_cluster_size": -1}, "min_cluster_size must be an integer >= 0"),
    ({"min_cluster_size": True}, "min_cluster_size must be an integer >= 0"),
])
def test_bad_hyperparameters(params, match):
    with pytest.raises(AlbenchError, match=match):
        METHODS.create("typiclust", **params)
