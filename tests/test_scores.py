"""Hand-checked uncertainty scores (variation ratio, max entropy, BALD) and MC pseudo-label metrics."""
import numpy as np
import pytest
import torch

from benchmark.learn.fisher import gaussian_mutual_information, trace_cross_covariance
from benchmark.select.scores import bald, predictive_entropy, variation_ratio


def test_variation_ratio_counts_votes():
    # 4 passes, 2 points: point 0 votes 0,0,0,1 → 1 − 3/4; point 1 votes 1,0,1,0 → 1 − 2/4
    p = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.8, 0.2], [0.7, 0.3]],
                  [[0.6, 0.4], [0.1, 0.9]], [[0.3, 0.7], [0.6, 0.4]]])
    assert variation_ratio(p).tolist() == [0.25, 0.5]


def test_bald_is_zero_when_passes_agree_and_positive_when_they_disagree():
    same = np.tile(np.array([[[0.5, 0.5]]]), (3, 1, 1))
    assert bald(same)[0] == pytest.approx(0.0, abs=1e-9)
    assert predictive_entropy(same)[0] == pytest.approx(np.log(2))
    split = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert bald(split)[0] == pytest.approx(np.log(2), abs=1e-6)  # H[p̄] = log 2, E H[p_k] = 0


def test_trace_of_cross_covariance_matches_numpy():
    rng = np.random.default_rng(0)
    z, g = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    expected = np.trace(np.cov(z.T, g.T)[:3, 3:])
    assert trace_cross_covariance(torch.tensor(z), torch.tensor(g)).item() == pytest.approx(expected)


def test_gaussian_mutual_information_matches_the_closed_form():
    """For 1-D Gaussians with correlation ρ, I(z; g) = −½ log(1 − ρ²)."""
    rng = np.random.default_rng(1)
    rho = 0.8
    z = rng.normal(size=200_000)
    g = rho * z + np.sqrt(1 - rho ** 2) * rng.normal(size=z.size)
    mi = gaussian_mutual_information(torch.tensor(z[:, None]), torch.tensor(g[:, None]), ridge=0.0).item()
    assert mi == pytest.approx(-0.5 * np.log(1 - rho ** 2), rel=0.02)
    independent = gaussian_mutual_information(torch.tensor(z[:, None]), torch.tensor(rng.normal(size=(z.size, 1))), ridge=0.0)
    assert abs(independent.item()) < 1e-3
