"""Greedy k-center (Sener & Savarese 2018, Alg. 1; WACV 2020 eq. 7), memory-bounded.

Never forms an N×N matrix: the running min-distance vector (N floats) is updated with one
center at a time, and the distances from an existing center set are computed in chunks of
``chunk_bytes``. Runs with torch on whatever device the features are on.
"""
from __future__ import annotations

import numpy as np
import torch


def _sq_dists(a: torch.Tensor, a_sq: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between rows of a (n, d) and b (m, d) → (m, n), clamped at 0."""
    d = b @ a.T  # the only (m, n) buffer; the rest is in place
    return d.mul_(-2.0).add_(a_sq.unsqueeze(0)).add_((b * b).sum(1, keepdim=True)).clamp_min_(0)


def greedy_k_center(points: np.ndarray | torch.Tensor, k: int, centers: np.ndarray | torch.Tensor | None = None,
                    rng: np.random.Generator | None = None, chunk_bytes: int = 64 * 2**20,
                    device: str | torch.device | None = None) -> np.ndarray:
    """Choose k row indices of ``points`` that greedily minimise the max distance to a center.

    ``centers`` are already-chosen points (e.g. the labelled set's features). With none, the first
    pick is uniformly random from ``rng``. Returns indices into ``points`` in pick order.
    """
    x = torch.from_numpy(np.array(points, dtype=np.float32)) if isinstance(points, np.ndarray) else points.float()
    if device is not None:
        x = x.to(device)
    n = x.shape[0]
    if k > n:
        raise ValueError(f"k-center asked for {k} centers among {n} points")
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    x_sq = (x * x).sum(1)
    min_d = torch.full((n,), float("inf"), device=x.device)
    rows_per_chunk = max(1, chunk_bytes // (4 * max(n, 1)))
    chosen: list[int] = []
    if centers is not None and len(centers):
        c = torch.from_numpy(np.array(centers, dtype=np.float32)).to(x.device) if isinstance(centers, np.ndarray) else centers.float().to(x.device)
        for start in range(0, c.shape[0], rows_per_chunk):
            d = _sq_dists(x, x_sq, c[start:start + rows_per_chunk])
            torch.minimum(min_d, d.min(0).values, out=min_d)
    else:
        rng = rng or np.random.default_rng(0)
        first = int(rng.integers(n))
        chosen.append(first)
        torch.minimum(min_d, _sq_dists(x, x_sq, x[first:first + 1])[0], out=min_d)
        min_d[first] = -1.0
    while len(chosen) < k:
        nxt = int(torch.argmax(min_d))
        chosen.append(nxt)
        torch.minimum(min_d, _sq_dists(x, x_sq, x[nxt:nxt + 1])[0], out=min_d)
        min_d[nxt] = -1.0  # never pick twice, even with duplicate points
    return np.asarray(chosen, dtype=np.int64)
