"""Uncertainty scores over stochastic predictions (MC-dropout passes or ensemble members).

``samples`` is a (K, N, classes) array of softmax outputs; ``probs`` one (N, classes) prediction.
"""
from __future__ import annotations

import numpy as np


def variation_ratio(samples: np.ndarray) -> np.ndarray:
    """varR(x) = 1 − f_m / K, f_m the count of the modal predicted class over K passes (Freeman 1965).

    ``samples``: (K, N, classes) probabilities (MC passes or ensemble members).
    """
    votes = samples.argmax(axis=2)  # (K, N)
    k, n = votes.shape
    classes = samples.shape[2]
    counts = np.zeros((n, classes), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(n), (k, n)), votes), 1)
    return 1.0 - counts.max(axis=1) / k


def predictive_entropy(samples: np.ndarray) -> np.ndarray:
    """H[y|x] of the mean prediction p̄ = (1/K) Σ_k p_k (max entropy)."""
    return entropy(samples.mean(axis=0))


def bald(samples: np.ndarray) -> np.ndarray:
    """I[y; θ | x] = H[p̄] − (1/K) Σ_k H[p_k] (Houlsby et al. 2011)."""
    p = np.clip(samples, 1e-12, 1.0)
    expected = -(p * np.log(p)).sum(axis=2).mean(axis=0)
    return predictive_entropy(samples) - expected


def entropy(probs: np.ndarray) -> np.ndarray:
    """H(x) = −Σ_c p_c log p_c of one prediction per row (WACV eq. 1)."""
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """p_(1) − p_(2), the gap between the two most probable classes (WACV eq. 2). Small = uncertain."""
    if probs.shape[1] < 2:
        return probs[:, 0].copy()
    part = np.partition(probs, -2, axis=1)
    return part[:, -1] - part[:, -2]


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 − max_c p_c (WACV eq. 3)."""
    return 1.0 - probs.max(axis=1)


def diversify(order: np.ndarray, source_class: np.ndarray, k: int) -> np.ndarray:
    """div(·): positions into ``order``'s array, round-robin over source classes, one per class per pass.

    ``order`` ranks row indices best first; ``source_class[row]`` is the row's predicted source class.
    """
    cls = source_class[order]
    rank_in_class = np.zeros(len(order), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, c in enumerate(cls.tolist()):
        rank_in_class[i] = seen.get(c, 0)
        seen[c] = rank_in_class[i] + 1
    picked = np.lexsort((cls, rank_in_class))[:k]  # pass number first, then class id
    return order[picked]
