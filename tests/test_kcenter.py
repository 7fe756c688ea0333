import numpy as np

from benchmark.select.kcenter import greedy_k_center


def brute_force(points, k, centers):
    d = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(-1).min(1)
    picks = []
    for _ in range(k):
        i = int(np.argmax(d))
        picks.append(i)
        d = np.minimum(d, ((points - points[i]) ** 2).sum(1))
    return picks


def test_matches_brute_force_with_existing_centers():
    rng = np.random.default_rng(0)
    pts, ctr = rng.normal(size=(300, 5)), rng.normal(size=(20, 5))
    assert greedy_k_center(pts, 15, centers=ctr).tolist() == brute_force(pts, 15, ctr)


def test_chunking_does_not_change_the_result():
    rng = np.random.default_rng(1)
    pts, ctr = rng.normal(size=(500, 8)), rng.normal(size=(64, 8))
    big = greedy_k_center(pts, 20, centers=ctr)
    tiny_chunks = greedy_k_center(pts, 20, centers=ctr, chunk_bytes=4 * 500 * 3)  # 3 center rows per chunk
    assert big.tolist() == tiny_chunks.tolist()


def test_no_centers_first_pick_from_rng_and_never_repeats_duplicates():
    pts = np.zeros((10, 2))  # all identical
    picks = greedy_k_center(pts, 10, rng=np.random.default_rng(3))
    assert sorted(picks.tolist()) == list(range(10))


def test_covers_far_clusters_first():
    pts = np.array([[0, 0], [0.1, 0], [10, 10], [10.1, 10], [-10, 5]], dtype=float)
    picks = greedy_k_center(pts, 2, centers=np.array([[0.0, 0.0]]))
    assert set(picks.tolist()) == {2, 4} or set(picks.tolist()) == {3, 4}
