"""Match kernels of the CVPR 2020 FK paper, computed in chunks (never pool × pool, never pool × val).

A point is a list of per-layer segments. For the PCC kernel (eq. 6) each segment z^j is
standardised to zero mean and unit variance over its L_j entries (the sample standard deviation,
as the paper's code does), so z^j·z'^j = (L_j − 1)·r_j with r_j Pearson's correlation, and
R_z = Σ_j z^j·z'^j: a layer weighs in proportion to its length (in L80 = 10 + 20 + 50, fc1 counts
most). The practical Fisher kernel R_{z,g} combines descriptor and Fisher-score similarities:

- ``combine="product"`` (eq. 12 as printed): Σ_j (z^j·z'^j)(g^j·g'^j), the inner product of the
  per-layer Fisher vectors vec(g^j z^jᵀ);
- ``combine="sum"`` (the paper's official code, which produced its figures): Σ_j z^j·z'^j + g^j·g'^j.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.core.arrays import to_numpy


def standardize_segments(x: np.ndarray, sizes: Sequence[int], eps: float = 1e-8) -> np.ndarray:
    """Row-wise, per segment: (x − mean) / std, std with L_j − 1 degrees of freedom (eq. 6's "zero
    mean and unit variance"); a constant segment becomes 0. A one-entry segment is centred only."""
    x = np.asarray(x, dtype=np.float32)
    if sum(sizes) != x.shape[1]:
        raise ValueError(f"segment sizes {list(sizes)} do not add up to the descriptor length {x.shape[1]}")
    out = np.empty_like(x)
    start = 0
    for size in sizes:
        seg = x[:, start:start + size]
        centred = seg - seg.mean(axis=1, keepdims=True)
        std = np.sqrt((centred ** 2).sum(axis=1, keepdims=True) / max(size - 1, 1))
        out[:, start:start + size] = np.where(std > eps, centred / np.maximum(std, eps), 0.0)
        start += size
    return out


COMBINE = ("product", "sum")


@dataclass(frozen=True)
class KernelPoints:
    """Standardised segments of a set of points: z (n, L) and optionally g (n, L) for the Fisher
    kernel, combined with the descriptor similarity by ``combine`` (module docstring)."""

    z: np.ndarray
    sizes: tuple[int, ...]
    g: np.ndarray | None = None
    combine: str = "product"

    def __post_init__(self) -> None:
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {COMBINE}, got {self.combine!r}")

    def __len__(self) -> int:
        return len(self.z)

    def take(self, idx: np.ndarray) -> KernelPoints:
        return KernelPoints(self.z[idx], self.sizes, None if self.g is None else self.g[idx], self.combine)


def _bounds(sizes: Sequence[int]) -> list[tuple[int, int]]:
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    return list(zip(edges[:-1], edges[1:]))


def kernel_block(a: KernelPoints, b: KernelPoints, device: str | torch.device = "cpu") -> torch.Tensor:
    """R (len(a), len(b)): Σ_j a.z^j·b.z^j (PCC, eq. 6); with g present, times a.g^j·b.g^j per layer
    (eq. 12, ``combine="product"``) or plus it (the official code, ``combine="sum"``)."""
    az, bz = torch.as_tensor(a.z, device=device), torch.as_tensor(b.z, device=device)
    fisher = a.g is not None and b.g is not None
    if fisher:
        ag, bg = torch.as_tensor(a.g, device=device), torch.as_tensor(b.g, device=device)
    out = torch.zeros(len(a), len(b), device=device)
    for lo, hi in _bounds(a.sizes):
        rz = az[:, lo:hi] @ bz[:, lo:hi].T
        if fisher and a.combine == "sum":
            rz.add_(ag[:, lo:hi] @ bg[:, lo:hi].T)
        elif fisher:
            rz.mul_(ag[:, lo:hi] @ bg[:, lo:hi].T)
        out.add_(rz)
    return out


def self_kernel(a: KernelPoints) -> np.ndarray:
    """Diagonal R(x, x) without forming the matrix."""
    total = np.zeros(len(a), dtype=np.float64)
    for lo, hi in _bounds(a.sizes):
        kz = (a.z[:, lo:hi].astype(np.float64) ** 2).sum(1)
        if a.g is not None:
            kg = (a.g[:, lo:hi].astype(np.float64) ** 2).sum(1)
            kz = kz + kg if a.combine == "sum" else kz * kg
        total += kz
    return total


def _rows_per_chunk(n_queries: int, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // (4 * max(n_queries, 1) * 3))


def kernel_top_candidates(queries: KernelPoints, keys: KernelPoints, k: int, chunk_bytes: int = 64 * 2**20,
                          device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """For every query, the k keys with the largest kernel value, best first: (values, key indices).

    Streams over the keys in chunks and keeps a running top-k, so memory is O(len(queries)·(k + chunk)).
    """
    k = min(k, len(keys))
    best_v = torch.full((len(queries), 0), -float("inf"), device=device)
    best_i = torch.zeros((len(queries), 0), dtype=torch.long, device=device)
    step = _rows_per_chunk(len(queries), chunk_bytes)
    for start in range(0, len(keys), step):
        block = kernel_block(queries, keys.take(np.arange(start, min(start + step, len(keys)))), device)
        idx = torch.arange(start, start + block.shape[1], device=device).expand(len(queries), -1)
        v = torch.cat([best_v, block], dim=1)
        i = torch.cat([best_i, idx], dim=1)
        # stable: equal values keep the lower key index first
        order = torch.argsort(-v, dim=1, stable=True)[:, :k]
        best_v, best_i = torch.gather(v, 1, order), torch.gather(i, 1, order)
    return to_numpy(best_v), to_numpy(best_i)


def nearest_key(queries: KernelPoints, keys: KernelPoints, chunk_bytes: int = 64 * 2**20,
                device: str | torch.device = "cpu") -> np.ndarray:
    """argmax over keys of R(query, key) for every query, chunked over the queries (p̂(y, z), §4.3)."""
    out = np.zeros(len(queries), dtype=np.int64)
    step = max(1, chunk_bytes // (4 * max(len(keys), 1) * 2))
    for start in range(0, len(queries), step):
        sl = np.arange(start, min(start + step, len(queries)))
        out[sl] = to_numpy(kernel_block(queries.take(sl), keys, device).argmax(1))
    return out


def kernel_k_center(points: KernelPoints, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-center in the kernel's feature space: d²(x, c) = R(x,x) + R(c,c) − 2R(x,c).

    First center random; O(n) memory; one kernel row per pick.
    """
    n = len(points)
    if k >= n:
        return np.arange(n)
    diag = torch.as_tensor(self_kernel(points), dtype=torch.float64)
    first = int(rng.integers(n))
    chosen = [first]
    min_d = torch.full((n,), float("inf"), dtype=torch.float64)
    while True:
        c = chosen[-1]
        row = kernel_block(points.take(np.array([c])), points)[0].double()
        torch.minimum(min_d, (diag + diag[c] - 2 * row).clamp_min(0), out=min_d)
        min_d[c] = -1.0
        if len(chosen) == k:
            break
        chosen.append(int(torch.argmax(min_d)))
    return np.asarray(chosen, dtype=np.int64)


def assign_rank_major(values: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Alg. 1 line 10 as the paper's code does it: every query's best candidate first, in order of
    decreasing kernel value, then every query's second best, and so on; a key already taken is
    skipped, until k are chosen.

    ``values``/``candidates`` (queries, c): kernel values and key indices, best first per query
    (from ``kernel_top_candidates``).
    """
    taken: set[int] = set()
    picks: list[int] = []
    for rank in range(candidates.shape[1]):
        for q in np.argsort(-values[:, rank], kind="stable"):
            key = int(candidates[q, rank])
            if key not in taken:
                taken.add(key)
                picks.append(key)
                if len(picks) == k:
                    return np.asarray(picks, dtype=np.int64)
    raise ValueError(f"only {len(picks)} distinct candidates for {k} picks; ask for more per query")
