"""Clustering pieces shared by the clustering-based methods (TypiClust, ProbCover): row-wise L2
normalisation, greedy k-means++ seeding in float32 torch, and k-means labels the way the official
TypiClust/ProbCover code clusters (KMeans up to 50 clusters, MiniBatchKMeans above)."""
from __future__ import annotations

import warnings

import numpy as np
import torch

from benchmark.core.arrays import to_numpy

KMEANS_INIT_SAMPLE = 15_000  # k-means++ seeding sample (MiniBatchKMeans' default init_size = 3 × 5000)
KMEANS_FULL_MAX = 50  # the official code: KMeans up to 50 clusters, MiniBatchKMeans(batch_size=5000) above


def l2_normalize(*parts: np.ndarray | None, rows_per_chunk: int = 65536) -> np.ndarray:
    """Row-wise L2-normalised float32 copy of the row-concatenation of ``parts`` (None / empty parts are
    skipped); all-zero rows stay zero. Chunked, so the only full-size allocation is the output."""
    arrays = [np.asarray(p) for p in parts if p is not None and np.asarray(p).size]
    if not arrays:
        return np.zeros((0, 0), np.float32)
    out = np.empty((sum(len(p) for p in arrays), arrays[0].shape[1]), np.float32)
    at = 0
    for p in arrays:
        for s in range(0, len(p), rows_per_chunk):
            block = np.asarray(p[s:s + rows_per_chunk], dtype=np.float32)
            norm = np.sqrt(np.einsum("ij,ij->i", block, block))[:, None]
            out[at:at + len(block)] = block / np.maximum(norm, 1e-12)
            at += len(block)
    return out


def sq_dists(q: torch.Tensor, q_sq: torch.Tensor, p: torch.Tensor, p_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (len(q), len(p)), clamped at 0; the product is the only buffer."""
    return torch.addmm(p_sq.unsqueeze(0), q, p.T, alpha=-2.0).add_(q_sq.unsqueeze(1)).clamp_min_(0)


def kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.Generator, trials: int | None = None) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with scikit-learn's 2 + ⌊ln k⌋ local trials per
    centre) in float32 torch: k rows of ``x``. scikit-learn's own seeding upcasts float32 blocks to float64
    and dominates the clustering time at 500-1,000 clusters."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n = len(t)
    trials = 2 + int(np.log(k)) if trials is None else trials
    sq = (t * t).sum(1)
    chosen = [int(rng.integers(n))]
    closest = sq_dists(t[chosen], sq[chosen], t, sq)[0]
    t_T = t.T.contiguous()
    for _ in range(1, k):
        cum = np.cumsum(to_numpy(closest), dtype=np.float64)
        if cum[-1] > 0:  # D² sampling; all-duplicate data falls back to uniform draws
            cand = np.minimum(np.searchsorted(cum, rng.random(trials) * cum[-1], side="right"), n - 1)
        else:
            cand = rng.integers(n, size=trials)
        cand_t = torch.from_numpy(cand)
        new = torch.addmm(sq.unsqueeze(0), t[cand_t], t_T, alpha=-2.0).add_(sq[cand_t].unsqueeze(1))
        torch.minimum(new, closest.unsqueeze(0), out=new)
        best = int(torch.argmin(new.sum(1)))  # the candidate that lowers the potential most
        chosen.append(int(cand[best]))
        closest = new[best].clamp_min(0)
    return np.asarray(x[chosen], dtype=np.float32)


def kmeans_labels(x: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """K-means cluster index of every row, as in the official code: scikit-learn ``KMeans`` for at most
    50 clusters, ``MiniBatchKMeans(batch_size=5000)`` above. Seeding: greedy k-means++ (scikit-learn's
    default) computed by ``kmeans_plusplus`` on min(N, max(15,000, 3 × clusters)) random rows (scikit-learn's
    ``init_size`` rule for MiniBatchKMeans), one initialisation. Some clusters may come out empty
    (duplicate points)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n_clusters = int(min(n_clusters, len(x)))
    if n_clusters <= 1:
        return np.zeros(len(x), np.int64)
    rng = np.random.default_rng(seed)
    size = min(len(x), max(KMEANS_INIT_SAMPLE, 3 * n_clusters))
    sample = np.arange(len(x)) if size == len(x) else np.sort(rng.choice(len(x), size, replace=False))
    init = kmeans_plusplus(x[sample], n_clusters, rng)
    with warnings.catch_warnings():  # "fewer distinct points than clusters" on degenerate embeddings
        warnings.simplefilter("ignore")
        if n_clusters <= KMEANS_FULL_MAX:
            km = KMeans(n_clusters=n_clusters, init=init, n_init=1, random_state=seed)
        else:
            km = MiniBatchKMeans(n_clusters=n_clusters, init=init, n_init=1, batch_size=5000, random_state=seed)
        return km.fit_predict(x).astype(np.int64)
