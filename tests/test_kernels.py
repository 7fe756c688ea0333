"""Hand-checked match kernels (CVPR 2020 eqs. 6, 11-12) and their chunked, memory-bounded forms."""
import numpy as np
import pytest

from benchmark.core.arrays import to_numpy
from benchmark.select.kcenter import greedy_k_center
from benchmark.select.kernels import (
    KernelPoints,
    assign_without_duplicates,
    kernel_block,
    kernel_k_center,
    kernel_top_candidates,
    nearest_key,
    self_kernel,
    standardize_segments,
)


def test_standardized_segments_give_pearson_correlation_per_layer():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, 7)), rng.normal(size=(1, 7))
    sa, sb = standardize_segments(a, [3, 4]), standardize_segments(b, [3, 4])
    r = kernel_block(KernelPoints(sa, (3, 4)), KernelPoints(sb, (3, 4))).item()
    expected = np.corrcoef(a[0, :3], b[0, :3])[0, 1] + np.corrcoef(a[0, 3:], b[0, 3:])[0, 1]
    assert r == pytest.approx(expected, abs=1e-5)


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


def test_assign_without_duplicates_round_robin():
    cand = np.array([[4, 2, 9], [4, 7, 1], [2, 4, 8]])
    # q0 takes 4; q1's best (4) is taken → 7; q2 takes 2; next pass q0 skips 2 → 9
    assert assign_without_duplicates(cand, 4).tolist() == [4, 7, 2, 9]
    with pytest.raises(ValueError, match="distinct"):
        assign_without_duplicates(np.array([[1, 2], [2, 1]]), 3)
