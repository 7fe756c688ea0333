"""Hand-checked match kernels (CVPR 2020 eqs. 6, 11-12) and their chunked, memory-bounded forms."""
import numpy as np
import pytest

from benchmark.core.arrays import to_numpy
from benchmark.select.kcenter import greedy_k_center
from benchmark.select.kernels import (
    KernelPoints,
    assign_rank_major,
    kernel_block,
    kernel_k_center,
    kernel_top_candidates,
    nearest_key,
    self_kernel,
    standardize_segments,
)


def test_standardized_segments_give_length_weighted_pearson_correlation():
    """Unit variance (L_j − 1 degrees of freedom) per segment: z^j·z'^j = (L_j − 1)·r_j (eq. 6)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, 7)), rng.normal(size=(1, 7))
    sa, sb = standardize_segments(a, [3, 4]), standardize_segments(b, [3, 4])
    assert sa[0, :3].std(ddof=1) == pytest.approx(1.0) and sa[0, 3:].mean() == pytest.approx(0.0, abs=1e-6)
    r = kernel_block(KernelPoints(sa, (3, 4)), KernelPoints(sb, (3, 4))).item()
    expected = 2 * np.corrcoef(a[0, :3], b[0, :3])[0, 1] + 3 * np.corrcoef(a[0, 3:], b[0, 3:])[0, 1]
    assert r == pytest.approx(expected, abs=1e-5)


def test_hand_checked_standardisation():
    # [1, 2, 3]: mean 2, sample std 1 → [-1, 0, 1]; [4, 4, 8]: mean 16/3, sample std √(16/3)
    out = standardize_segments(np.array([[1.0, 2.0, 3.0, 4.0, 4.0, 8.0]]), [3, 3])
    assert np.allclose(out[0, :3], [-1, 0, 1])
    assert np.allclose(out[0, 3:], (np.array([4, 4, 8]) - 16 / 3) / np.sqrt(16 / 3), atol=1e-6)


def test_constant_segment_is_zero_not_nan():
    out = standardize_segments(np.array([[2.0, 2.0, 1.0, 3.0]]), [2, 2])
    assert np.all(np.isfinite(out)) and np.all(out[0, :2] == 0)


def test_fisher_kernel_is_the_inner_product_of_per_layer_fisher_vectors():
    """R_{z,g}(m, n) = Σ_j vec(g_m^j z_m^jᵀ)·vec(g_n^j z_n^jᵀ) = Σ_j (z_m^j·z_n^j)(g_m^j·g_n^j) (eq. 11)."""
    rng = np.random.default_rng(1)
    sizes = (2, 3)
    z, g = rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=(4, 5)).astype(np.float32)
    pts = KernelPoints(z, sizes, g)
    explicit = np.zeros((4, 4))
    for lo, hi in ((0, 2), (2, 5)):
        vec = np.stack([np.outer(g[i, lo:hi], z[i, lo:hi]).ravel() for i in range(4)])
        explicit += vec @ vec.T
    assert np.allclose(to_numpy(kernel_block(pts, pts)), explicit, atol=1e-4)
    assert np.allclose(self_kernel(pts), np.diag(explicit), atol=1e-4)


def test_sum_combination_adds_descriptor_and_fisher_similarities():
    """The official code's R = R_z + R_g: Σ_j z_m^j·z_n^j + g_m^j·g_n^j."""
    rng = np.random.default_rng(5)
    z, g = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=(3, 5)).astype(np.float32)
    pts = KernelPoints(z, (2, 3), g, combine="sum")
    assert np.allclose(to_numpy(kernel_block(pts, pts)), z @ z.T + g @ g.T, atol=1e-4)
    assert np.allclose(self_kernel(pts), (z ** 2).sum(1) + (g ** 2).sum(1), atol=1e-4)
    assert kernel_block(pts.take(np.array([0])), pts).shape == (1, 3)  # take keeps the combination
    with pytest.raises(ValueError, match="combine"):
        KernelPoints(z, (5,), g, combine="mean")


@pytest.mark.parametrize("fisher", [False, True])
def test_chunked_top_candidates_equal_brute_force(fisher):
    rng = np.random.default_rng(2)
    q = KernelPoints(rng.normal(size=(5, 6)).astype(np.float32), (6,), rng.normal(size=(5, 6)).astype(np.float32) if fisher else None)
    k = KernelPoints(rng.normal(size=(97, 6)).astype(np.float32), (6,), rng.normal(size=(97, 6)).astype(np.float32) if fisher else None)
    full = to_numpy(kernel_block(q, k))
    vals, idx = kernel_top_candidates(q, k, 9, chunk_bytes=600)  # forces many small chunks
    assert np.array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :9])
    assert np.allclose(vals, np.take_along_axis(full, idx, 1))


def test_nearest_key_chunked_equals_brute_force():
    rng = np.random.default_rng(3)
    q = KernelPoints(rng.normal(size=(50, 4)).astype(np.float32), (4,))
    k = KernelPoints(rng.normal(size=(13, 4)).astype(np.float32), (4,))
    assert np.array_equal(nearest_key(q, k, chunk_bytes=200), to_numpy(kernel_block(q, k)).argmax(1))


def test_kernel_k_center_matches_euclidean_k_center_for_a_linear_kernel():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    ours = kernel_k_center(KernelPoints(x, (3,)), 8, np.random.default_rng(7))
    ref = greedy_k_center(x, 8, rng=np.random.default_rng(7))
    assert ours.tolist() == ref.tolist()


def test_assign_rank_major_takes_best_matches_by_value_then_second_best():
    cand = np.array([[4, 2, 9], [4, 7, 1], [2, 4, 8]])
    values = np.array([[0.5, 0.4, 0.1], [0.9, 0.3, 0.2], [0.7, 0.6, 0.0]])
    # rank 0 by value: q1 → 4 (0.9), q2 → 2 (0.7), q0 → 4 taken; rank 1: q2 → 4 taken, q0 → 2 taken, q1 → 7
    assert assign_rank_major(values, cand, 3).tolist() == [4, 2, 7]
    # rank 2 by value: q1 → 1 (0.2), q0 → 9 (0.1)
    assert assign_rank_major(values, cand, 5).tolist() == [4, 2, 7, 1, 9]
    with pytest.raises(ValueError, match="distinct"):
        assign_rank_major(np.ones((2, 2)), np.array([[1, 2], [2, 1]]), 3)
