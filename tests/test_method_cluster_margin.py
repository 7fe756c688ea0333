"""Cluster-Margin (Citovsky et al., NeurIPS 2021): HAC clustering, Alg. 2 round robin, the whole selection."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS
from benchmark.select.api import SelectionView

cm = sys.modules[METHODS.get("cluster_margin").__module__]  # the plugin module as the registry loaded it


def partition(labels) -> set[frozenset[int]]:
    """The clustering as a set of groups of row indices (cluster ids are arbitrary)."""
    labels = np.asarray(labels)
    return {frozenset(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)}


def two_class_probs(p1) -> np.ndarray:
    p1 = np.asarray(p1, dtype=np.float32)
    return np.stack([1 - p1, p1], axis=1)


def test_round_robin_takes_small_clusters_first_one_per_pass():
    # candidates' clusters: 5,5,5 (size 3), 7 (size 1), 9,9 (size 2) -> order: 7, 9, 5.
    # pass 1 takes index 3 (cluster 7), one of {4,5} (cluster 9), one of {0,1,2} (cluster 5);
    # pass 2 takes the other of {4,5}; cluster 7 is empty by then.
    ids = np.array([5, 5, 5, 7, 9, 9])
    for seed in range(5):
        picks = cm.round_robin_by_cluster(ids, 4, np.random.default_rng(seed))
        assert picks[0] == 3
        assert picks[2] in (0, 1, 2)
        assert sorted(picks[[1, 3]].tolist()) == [4, 5]
    assert sorted(cm.round_robin_by_cluster(ids, 6, np.random.default_rng(0)).tolist()) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(AlbenchError, match="7 candidates among 6"):
        cm.round_robin_by_cluster(ids, 7, np.random.default_rng(0))


def test_round_robin_ties_in_size_are_ordered_at_random():
    # three singleton clusters, k=1: any of them may come first, and the seed decides
    firsts = {int(cm.round_robin_by_cluster(np.array([0, 1, 2]), 1, np.random.default_rng(s))[0]) for s in range(30)}
    assert firsts == {0, 1, 2}


def test_hac_average_linkage_by_hand():
    # (0,0),(0,1): distance 1; (10,0),(10,1): distance 1; between the pairs the average distance is
    # (10 + 10 + 2*sqrt(101)) / 4 = 10.02; (50,50) is > 50 from all. With eps = 5 the two pairs merge
    # (1 < 5) and nothing else (10.02 >= 5); with eps = 10.1 the pairs merge too (10.02 < 10.1).
    x = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [50, 50]], dtype=np.float32)
    labels, eps = cm.hac_clusters([x], 5.0, 0.05, 100, np.random.default_rng(0))
    assert eps == 5.0
    assert partition(labels) == {frozenset({0, 1}), frozenset({2, 3}), frozenset({4})}
    labels, _ = cm.hac_clusters([x[:2], x[2:]], 10.1, 0.05, 100, np.random.default_rng(0))  # two blocks, one pool
    assert partition(labels) == {frozenset({0, 1, 2, 3}), frozenset({4})}
    assert sorted(np.unique(labels).tolist()) == [0, 1]


def test_default_eps_is_a_quantile_of_pairwise_distances():
    # points 0, 1, 3, 6 on a line: pairwise distances 1, 3, 6, 2, 5, 3 -> sorted 1 2 3 3 5 6, median 3.
    # average linkage with eps 3: {0,1} at 1; {0,1}-{3} at (3+2)/2 = 2.5 < 3 merges; {0,1,3}-{6} at
    # (6+5+3)/3 = 4.67 >= 3 stops.
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    labels, eps = cm.hac_clusters([x], None, 0.5, 100, np.random.default_rng(0))
    assert eps == pytest.approx(3.0)
    assert partition(labels) == {frozenset({0, 1, 2}), frozenset({3})}


def test_nearest_centroid_by_hand_in_chunks():
    # centroids (0,0) and (10,0): x=4 -> 0, x=6 -> 1, x=5 is a tie -> the lower index 0
    x = np.array([[4, 0], [6, 0], [5, 0], [-3, 1], [30, -2]], dtype=np.float32)
    out = cm.nearest_centroid(x, np.array([[0, 0], [10, 0]]), chunk_rows=2)
    assert out.tolist() == [0, 1, 0, 0, 1]


def test_points_outside_the_sample_join_the_nearest_sample_cluster():
    # two groups of 3 points 100 apart; a sample of 5 of the 6 always holds >= 2 of each group, which
    # HAC (eps 10) keeps apart; the left-out point joins its own group's centroid.
    x = np.array([[0, 0], [1, 0], [0, 1], [100, 0], [101, 0], [100, 1]], dtype=np.float32)
    for seed in range(8):
        labels, _ = cm.hac_clusters([x], 10.0, 0.05, 5, np.random.default_rng(seed))
        assert partition(labels) == {frozenset({0, 1, 2}), frozenset({3, 4, 5})}


def _view(unlabelled, emb, probs, labelled=(), labelled_emb=None, round_=0) -> SelectionView:
    labelled = np.asarray(labelled, dtype=np.int64)
    d = emb.shape[1]
    return SelectionView(unlabelled=np.asarray(unlabelled, dtype=np.int64), labelled=labelled,
                         labelled_y=np.zeros(len(labelled), np.int64), num_classes=probs.shape[1], round=round_,
                         probs=probs, embeddings=emb,
                         labelled_embeddings=np.zeros((0, d), np.float32) if labelled_emb is None else labelled_emb)


def _two_blob_view(round_=0, swap=False):
    # positions 10..13 near (0,0), 14..17 near (100,0); labelled 20, 21 (one in each blob).
    # margins |2 p1 - 1|: positions 10, 11, 12, 14 have 0.0, 0.02, 0.04, 0.06; the rest >= 0.5
    emb = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [100, 0], [101, 0], [100, 1], [101, 1]], dtype=np.float32)
    if swap:
        emb = emb[::-1].copy()
    p1 = [0.5, 0.51, 0.52, 0.9, 0.53, 0.95, 0.05, 0.99]
    return _view(np.arange(10, 18), emb, two_class_probs(p1), labelled=[20, 21],
                 labelled_emb=np.array([[0.5, 0.5], [100.5, 0.5]], np.float32), round_=round_)


def test_select_by_hand_and_clusters_kept_for_later_rounds():
    # k = 2, m_factor = 2 -> k_m = 4 candidates: 10, 11, 12 (blob A, 3 candidates) and 14 (blob B, 1).
    # Alg. 2: B first (smaller) -> 14; then A -> one of 10, 11, 12.
    method = METHODS.create("cluster_margin", m_factor=2, eps=10.0)
    picks = method.select(_two_blob_view(), 2, np.random.default_rng(0))
    assert picks[0] == 14 and picks[1] in (10, 11, 12)
    assert method.n_clusters_ == 2 and method.eps_ == 10.0 and method.clustered_round_ == 0
    assert partition(method.clusters_[[10, 11, 12, 13, 14, 15, 16, 17, 20, 21]]) == {
        frozenset({0, 1, 2, 3, 8}), frozenset({4, 5, 6, 7, 9})}
    # k = 3, m_factor = 1.3 -> k_m = ceil(3.9) = 4, the same candidates: pass 1 gives 14 and one of A,
    # pass 2 (B is empty by then) a second of A
    method3 = METHODS.create("cluster_margin", m_factor=1.3, eps=10.0)
    picks = method3.select(_two_blob_view(), 3, np.random.default_rng(1))
    assert picks[0] == 14 and set(picks[1:].tolist()) < {10, 11, 12}
    # a later round reuses the round-0 clusters: new embeddings that would swap the blobs change nothing
    before = method.clusters_.copy()
    later = _two_blob_view(round_=1, swap=True)
    picks = method.select(later, 2, np.random.default_rng(0))
    assert np.array_equal(method.clusters_, before) and method.clustered_round_ == 0
    assert picks[0] == 14


def test_deterministic_for_a_seed_and_random_within_clusters():
    view = _two_blob_view()
    a = METHODS.create("cluster_margin", m_factor=2, eps=10.0).select(view, 2, np.random.default_rng(3))
    b = METHODS.create("cluster_margin", m_factor=2, eps=10.0).select(view, 2, np.random.default_rng(3))
    assert np.array_equal(a, b)
    seen = {int(METHODS.create("cluster_margin", m_factor=2, eps=10.0).select(view, 2, np.random.default_rng(s))[1])
            for s in range(20)}
    assert seen == {10, 11, 12}


def test_k_larger_than_the_number_of_clusters_and_k_m_capped():
    view = _two_blob_view()
    picks = METHODS.create("cluster_margin", eps=10.0).select(view, 7, np.random.default_rng(0))  # k_m = 70 -> 8
    assert len(picks) == 7 and len(np.unique(picks)) == 7 and np.isin(picks, view.unlabelled).all()
    picks = METHODS.create("cluster_margin", eps=10.0).select(view, 8, np.random.default_rng(0))
    assert sorted(picks.tolist()) == list(range(10, 18))
    with pytest.raises(AlbenchError, match="9 points but only 8"):
        METHODS.create("cluster_margin").select(view, 9, np.random.default_rng(0))


def test_empty_labelled_set_and_default_eps():
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((300, 8)).astype(np.float32)
    probs = rng.dirichlet(np.ones(5), size=300).astype(np.float32)
    view = _view(np.arange(300), emb, probs)
    method = METHODS.create("cluster_margin")
    picks = method.select(view, 12, np.random.default_rng(1))
    assert len(np.unique(picks)) == 12 and np.isin(picks, view.unlabelled).all()
    assert method.eps_ > 0 and 1 <= method.n_clusters_ <= 300 and (method.clusters_ >= 0).all()
    # the 12 picks come from the 120 lowest-margin points
    part = np.sort(probs, 1)
    low = np.argsort(part[:, -1] - part[:, -2], kind="stable")[:120]
    assert np.isin(picks, low).all()


@pytest.mark.parametrize("params, message", [
    ({"m_factor": 0.5}, "m_factor must be a number >= 1"),
    ({"eps": -1.0}, "eps must be a positive distance or None"),
    ({"eps_quantile": 0.0}, r"eps_quantile must be in \(0, 1\]"),
    ({"eps_quantile": 1.5}, r"eps_quantile must be in \(0, 1\]"),
    ({"max_sample": 1}, "max_sample must be an integer >= 2"),
    ({"chunk_rows": 0}, "chunk_rows must be a positive integer"),
])
def test_bad_hyperparameters_raise(params, message):
    with pytest.raises(AlbenchError, match=message):
        METHODS.create("cluster_margin", **params)
