"""ProbCover (methods/probcover.py): the δ-ball graph, the greedy cover of Alg. 1, δ by purity, the method."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS, discover
from benchmark.select.api import SelectionView

discover()
pc = sys.modules[METHODS.get("probcover").__module__]


def _greedy(points, delta, labelled=(), k=3, seed=0, cells=None):
    starts, ends, indices = pc.delta_ball_graph(np.asarray(points, np.float32), delta, cells)
    mask = np.zeros(len(points), dtype=bool)
    mask[list(labelled)] = True
    return pc.probcover_greedy(starts, ends, indices, mask, k, np.random.default_rng(seed))


# Three tight groups in the plane, rows interleaved: A (4 points near (0,0)), B (3 near (5,0)),
# C (2 near (0,5)); every group fits in a ball of radius 1 and the groups are 5 apart.
GROUPS = np.array([
    (0, 5),      # 0 C
    (5, 0),      # 1 B
    (0, 0),      # 2 A
    (0.1, 0),    # 3 A
    (5.1, 0),    # 4 B
    (0.1, 5),    # 5 C
    (0, 0.1),    # 6 A
    (5, 0.1),    # 7 B
    (0.1, 0.1),  # 8 A
], dtype=np.float32)


def test_three_groups_hand_checked():
    # δ = 1: out-degrees A 4, B 3, C 2. Pick the first A (row 2), which covers A; then the first B
    # (row 1), covering B; then the first C (row 0). Everything is covered after 3 picks.
    assert _greedy(GROUPS, 1.0, k=3).tolist() == [2, 1, 0]
    # row 4 (in B) is labelled: B is covered from the start -> A, then C; then nothing is left
    # uncovered and the 3rd pick is random among the unlabelled rows not yet picked.
    picks = _greedy(GROUPS, 1.0, labelled=[4], k=3)
    assert picks[:2].tolist() == [2, 0]
    assert picks[2] in {1, 3, 5, 6, 7, 8}


def test_chain_hand_checked():
    # x = 0, 1, 2, 3, 4 on a line, δ = 1.5: the ball of i is {i-1, i, i+1}.
    # degrees 2, 3, 3, 3, 2 -> pick 1 (first of the 3s), covering {0, 1, 2};
    # uncovered degrees now: row 2 -> {3} = 1, row 3 -> {3, 4} = 2, row 4 -> {3, 4} = 2 -> pick 3.
    # All covered: the 3rd pick is random among {0, 2, 4}, and depends on the seed.
    line = np.array([[i, 0] for i in range(5)], np.float32)
    picks = [_greedy(line, 1.5, k=3, seed=s).tolist() for s in range(20)]
    assert all(p[:2] == [1, 3] for p in picks)
    assert {p[2] for p in picks} == {0, 2, 4}
    assert _greedy(line, 1.5, k=3, seed=5).tolist() == _greedy(line, 1.5, k=3, seed=5).tolist()
    # labelled row 0 covers {0, 1}: degrees of 2, 3 -> 3 ({1..3} minus 1 -> {2,3}=2; {2,3,4}=3) -> pick 3
    assert _greedy(line, 1.5, labelled=[0], k=1).tolist() == [3]


def test_open_ball_and_self_loops():
    # ||x - x'|| < δ is strict: at δ = 1 the points 0 and 1 do not cover each other
    line = np.array([[0, 0], [1, 0], [3, 0]], np.float32)
    starts, ends, indices = pc.delta_ball_graph(line, 1.0)
    assert [indices[starts[i]:ends[i]].tolist() for i in range(3)] == [[0], [1], [2]]
    starts, ends, indices = pc.delta_ball_graph(line, 1.01)
    assert [indices[starts[i]:ends[i]].tolist() for i in range(3)] == [[0, 1], [0, 1], [2]]


def test_graph_equals_brute_force_chunked_and_in_cells():
    x = np.random.default_rng(0).standard_normal((250, 6)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    dist = np.sqrt(((x[:, None].astype(np.float64) - x[None]) ** 2).sum(-1))
    cells = np.random.default_rng(1).integers(0, 4, size=250)
    for delta in (0.6, 1.0):
        brute = dist < delta
        for chunk in (4 * 250, 4 * 250 * 33, pc.CHUNK_BYTES):  # 1 row, 33 rows, all rows per chunk
            starts, ends, indices = pc.delta_ball_graph(x, delta, chunk_bytes=chunk)
            for i in range(250):
                assert indices[starts[i]:ends[i]].tolist() == np.flatnonzero(brute[i]).tolist()
            starts, ends, indices = pc.delta_ball_graph(x, delta, cells=cells, chunk_bytes=chunk)
            for i in range(250):
                expected = np.flatnonzero(brute[i] & (cells == cells[i]))
                assert indices[starts[i]:ends[i]].tolist() == expected.tolist()


def test_greedy_equals_a_dense_reference():
    # Alg. 1 written with a dense adjacency matrix, on random points: same picks (no ties at random)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((120, 3)).astype(np.float32)
    adj = np.sqrt(((x[:, None].astype(np.float64) - x[None]) ** 2).sum(-1)) < 0.8
    labelled = np.zeros(120, bool)
    labelled[:7] = True
    covered = adj[labelled].any(0)
    expected = []
    for _ in range(15):
        deg = (adj & ~covered[None]).sum(1)
        deg[labelled] = -1
        deg[expected] = -1
        c = int(np.argmax(deg))
        expected.append(c)
        covered |= adj[c]
    assert _greedy(x, 0.8, labelled=range(7), k=15).tolist() == expected


def test_edge_cap_raises():
    with pytest.raises(AlbenchError, match="exceeds max_edges=10"):
        pc.delta_ball_graph(GROUPS, 1.0, max_edges=10)  # 4² + 3² + 2² = 29 edges


def test_purity_hand_checked():
    # 1-D points 0, 1/8 in cluster 0 and 3/8, 1 in cluster 1 (exact in float32).
    # nearest point of the other cluster: 0 -> 3/8, 1/8 -> 1/4, 3/8 -> 1/4, 1 -> 7/8.
    # ball pure iff that distance >= δ: δ = 1/4 -> all 4 pure (1.0); δ = 0.3 -> 0 and 1 (0.5);
    # δ = 0.5 -> only 1 (0.25); δ = 0.9 -> none (0.0).
    x = np.array([[0, 0], [0.125, 0], [0.375, 0], [1, 0]], np.float32)
    labels = np.array([0, 0, 1, 1])
    d_other = pc.nearest_other_cluster_distance(x, labels, np.arange(4))
    assert np.allclose(d_other, [0.375, 0.25, 0.25, 0.875])
    grid = np.array([0.25, 0.3, 0.5, 0.9])
    purity = pc.ball_purity(d_other, grid)
    assert purity.tolist() == [1.0, 0.5, 0.25, 0.0]
    # the largest δ with purity ≥ α: all 4 pure up to 1/4, 2 of 4 up to 3/8, 1 of 4 up to 7/8
    for alpha, delta in ((0.95, 0.25), (0.5, 0.375), (0.25, 0.875)):
        chosen = pc.largest_pure_delta(d_other, alpha)
        assert chosen == pytest.approx(delta, rel=1e-5) and chosen <= delta
        assert pc.ball_purity(d_other, [chosen])[0] >= alpha > pc.ball_purity(d_other, [delta * 1.001])[0]
    assert pc.largest_pure_delta(np.array([np.inf, np.inf]), 0.95) == 2.0  # one cluster: every ball is pure
    assert pc.largest_pure_delta(np.array([0.0, 0.0]), 0.95) > 0  # a ball holds at least its own point
    # queries are a subset, the reference set is every point
    assert np.allclose(pc.nearest_other_cluster_distance(x, labels, np.array([3]), chunk_bytes=4), [0.875])
    assert pc.nearest_other_cluster_distance(x, np.zeros(4, int), np.arange(2)).tolist() == [np.inf, np.inf]


def _view(unl, lab=None, num_classes=3, positions=None):
    unl = np.asarray(unl, np.float32)
    lab = np.zeros((0, unl.shape[1]), np.float32) if lab is None else np.asarray(lab, np.float32)
    n = len(unl) + len(lab)
    positions = np.arange(n) if positions is None else positions
    return SelectionView(unlabelled=positions[len(lab):], labelled=positions[:len(lab)],
                         labelled_y=np.zeros(len(lab), np.int64), num_classes=num_classes, round=0,
                         embeddings=unl, labelled_embeddings=lab,
                         ssl_embeddings=unl, labelled_ssl_embeddings=lab)


def _directions(angles_deg, scale_seed=0):
    a = np.deg2rad(np.asarray(angles_deg, float))
    scale = np.random.default_rng(scale_seed).uniform(0.5, 5, size=(len(a), 1))
    return (np.stack([np.cos(a), np.sin(a)], 1) * scale).astype(np.float32)


# directions on the unit circle: group A (4 points around 0°), B (3 around 120°), C (2 around 240°);
# chords inside a group <= 2·sin(1.5°) = 0.05, between groups 2·sin(55°) > 1.6
ANGLES = [240, 120, 0, 1, 121, 241, 2, 122, 3]


def test_method_hand_checked_on_the_circle():
    # explicit δ = 0.5, embeddings scaled by random factors (L2-normalised away): as on GROUPS
    view = _view(_directions(ANGLES), positions=np.arange(10, 19))
    picks = METHODS.create("probcover", delta=0.5).select(view, 3, np.random.default_rng(0))
    assert picks.tolist() == [12, 11, 10]
    # rows 0-1 labelled (in C and B): A first, then random
    view = _view(_directions(ANGLES[2:]), _directions(ANGLES[:2]), positions=np.arange(10, 19))
    picks = METHODS.create("probcover", delta=0.5).select(view, 2, np.random.default_rng(0))
    assert picks[0] == 12 and picks[1] in view.unlabelled and picks[1] != 12


def _grid_index(value):
    return int(np.flatnonzero(np.isclose(pc.DELTA_GRID, value))[0])


def test_purity_delta_computed_once_and_kept(monkeypatch):
    # 3 groups = 3 classes, which k-means recovers. Nearest other-group point of each row: 117° (3° to 120°,
    # chord 2·sin(58.5°) = 1.705), 118° (1.715) or 119° (1.723) away, all in (1.70, 1.75): purity is 1 up
    # to δ = 1.705 (the smallest of them; 9 points, α = 0.95: all 9 must be pure) and below it after, so
    # δ = 1.705; on the grid purity is 1 at 1.70 and 0 at 1.75; the balls are the groups -> picks as on GROUPS.
    view = _view(_directions(ANGLES))
    method = METHODS.create("probcover")
    calls = []
    real = pc.kmeans_labels
    monkeypatch.setattr(pc, "kmeans_labels", lambda x, n, seed: calls.append(n) or real(x, n, seed))
    first = method.select(view, 3, np.random.default_rng(0))
    assert calls == [3] and method.delta_ == pytest.approx(2 * np.sin(np.deg2rad(58.5)), abs=1e-4)
    assert method.purity_[_grid_index(1.7)] == 1.0 and method.purity_[_grid_index(1.75)] == 0.0
    assert first.tolist() == [2, 1, 0]
    method.select(view, 3, np.random.default_rng(1))
    assert calls == [3]  # second round: δ reused, no clustering (the pool is below exact_limit)


def test_explicit_delta_skips_the_purity_search(monkeypatch):
    monkeypatch.setattr(pc, "kmeans_labels", lambda *a, **k: pytest.fail("no k-means with an explicit delta"))
    method = METHODS.create("probcover", delta=0.5)
    method.select(_view(_directions(ANGLES)), 3, np.random.default_rng(0))
    assert not hasattr(method, "delta_")


def _blobs(n_per=40, dim=8, groups=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((groups, dim)) * 3
    return np.concatenate([c + rng.standard_normal((n_per, dim)) for c in centres]).astype(np.float32)


def test_deterministic_for_a_seed():
    x = _blobs()
    view = _view(x[10:], x[:10], num_classes=4, positions=np.arange(50, 50 + len(x)))
    a = METHODS.create("probcover").select(view, 12, np.random.default_rng(7))
    b = METHODS.create("probcover").select(view, 12, np.random.default_rng(7))
    assert np.array_equal(a, b) and len(np.unique(a)) == 12 and np.isin(a, view.unlabelled).all()


def test_k_beyond_full_coverage_is_random_and_distinct():
    # δ = 2 (the sphere's diameter): the labelled points' balls already cover every point, so all 30
    # picks are the random fallback: distinct, unlabelled, and different for different seeds
    x = _blobs()
    view = _view(x[5:], x[:5], num_classes=4)
    runs = [METHODS.create("probcover", delta=2.0).select(view, 30, np.random.default_rng(s)) for s in range(3)]
    for picks in runs:
        assert picks.shape == (30,) and len(np.unique(picks)) == 30
        assert np.isin(picks, view.unlabelled).all()
    assert not np.array_equal(runs[0], runs[1])


def test_cell_mode_above_exact_limit():
    # 4 well-separated blobs, 4 classes: with exact_limit below the pool size the graph is built inside
    # k-means cells; the picks still cover the 4 blobs first (one in each)
    x = _blobs(groups=4)
    view = _view(x, num_classes=4)
    picks = METHODS.create("probcover", exact_limit=50).select(view, 4, np.random.default_rng(0))
    assert sorted(p // 40 for p in picks.tolist()) == [0, 1, 2, 3]
    exact = METHODS.create("probcover").select(view, 4, np.random.default_rng(0))
    assert sorted(p // 40 for p in exact.tolist()) == [0, 1, 2, 3]


def test_empty_labelled_set_and_engine_shape():
    x = _blobs()
    for lab in (None, np.zeros((0, 0), np.float32)):  # the learner gives (0, 0) for no labelled image
        view = SelectionView(unlabelled=np.arange(len(x)), labelled=np.zeros(0, np.int64),
                             labelled_y=np.zeros(0, np.int64), num_classes=4, round=0,
                             embeddings=x, labelled_embeddings=lab,
                             ssl_embeddings=x, labelled_ssl_embeddings=lab)
        picks = METHODS.create("probcover").select(view, 6, np.random.default_rng(0))
        assert len(np.unique(picks)) == 6


@pytest.mark.parametrize("params, match", [
    ({"delta": 0}, "delta must be a positive number"),
    ({"delta": -0.3}, "delta must be a positive number"),
    ({"delta": "0.5"}, "delta must be a positive number"),
    ({"alpha": 0}, r"alpha \(the purity threshold\) must be in \(0, 1\]"),
    ({"alpha": 1.5}, r"alpha \(the purity threshold\) must be in \(0, 1\]"),
    ({"purity_sample": 0}, "purity_sample must be a positive integer"),
    ({"exact_limit": 1.5}, "exact_limit must be a positive integer"),
    ({"max_edges": -1}, "max_edges must be a positive integer"),
])
def test_bad_hyperparameters(params, match):
    with pytest.raises(AlbenchError, match=match):
        METHODS.create("probcover", **params)
