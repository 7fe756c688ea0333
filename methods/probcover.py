"""ProbCover (Yehuda, Dekel, Hacohen & Weinshall, "Active Learning Through a Covering Lens",
NeurIPS 2022, §4 and Alg. 1): greedy max coverage of δ-balls in an embedding space.

Core steps as module-level functions (numpy in, numpy out): ``l2_normalize``, ``kmeans_labels``,
``nearest_other_cluster_distance`` / ``ball_purity`` / ``largest_pure_delta`` (δ by purity, §4.1),
``delta_ball_graph`` (the sparse graph G of Alg. 1) and ``probcover_greedy`` (Alg. 1's loop).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from benchmark.core.arrays import to_numpy
from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import (
    Needs,
    QueryStrategy,
    SelectionView,
    check_embedding,
    embedding_needs,
    selection_space,
)
from benchmark.select.clustering import (
    kmeans_labels,
    l2_normalize,
    sq_dists,
)

CHUNK_BYTES = 64 * 2**20  # one (rows × points) float32 distance block at a time
DELTA_GRID = np.round(np.arange(1, 41) * 0.05, 2)  # purity_ is reported on 0.05, ..., 2.00 (the sphere's diameter)
CELL_SIZE = 10_000  # above exact_limit, graph cells hold about this many points at most (see ProbCover)


def nearest_other_cluster_distance(x: np.ndarray, labels: np.ndarray, queries: np.ndarray,
                                   chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """For each query row q of ``x``: min ||x_q − x_j|| over the rows j with labels[j] ≠ labels[q]
    (inf when every row shares q's label). The δ-ball of q is pure iff this is ≥ δ. All rows of
    ``x`` are the reference set; streamed in chunks, memory O(len(queries) · chunk)."""
    queries = np.asarray(queries, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    q = torch.from_numpy(np.ascontiguousarray(x[queries], dtype=np.float32))
    q_sq, q_lab = (q * q).sum(1), torch.from_numpy(labels[queries])
    best = torch.full((len(queries),), float("inf"))
    step = max(1, chunk_bytes // (4 * max(len(queries), 1)))
    for s in range(0, len(x), step):
        p = torch.from_numpy(np.ascontiguousarray(x[s:s + step], dtype=np.float32))
        d2 = sq_dists(q, q_sq, p, (p * p).sum(1))
        d2.masked_fill_(q_lab.unsqueeze(1) == torch.from_numpy(labels[s:s + step]).unsqueeze(0), float("inf"))
        torch.minimum(best, d2.min(1).values, out=best)
    return to_numpy(best.sqrt()).astype(np.float64)


def ball_purity(d_other: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """purity(δ) = fraction of points whose open δ-ball {x' : ||x − x'|| < δ} holds only points of their
    own cluster, i.e. whose nearest other-cluster point is at distance ≥ δ (§4.1), for each δ."""
    d_other = np.asarray(d_other, dtype=np.float64)
    return np.array([(d_other >= d).mean() if len(d_other) else 1.0 for d in np.asarray(deltas, float)])


def largest_pure_delta(d_other: np.ndarray, alpha: float) -> float:
    """The largest δ with purity(δ) ≥ α, exactly (§4.1): purity(δ) = mean(d_other ≥ δ) keeps at least
    m = ⌈α·n⌉ points pure iff δ ≤ the m-th largest d_other, so that value is the answer; capped at 2 (the
    unit sphere's diameter, for a single cluster's inf) and floored at float32's eps (a ball must hold its
    own point); taken a relative 10⁻⁶ below the order statistic."""
    d = np.sort(np.asarray(d_other, dtype=np.float64))[::-1]
    if not len(d):
        return 2.0
    m = min(len(d), max(1, math.ceil(alpha * len(d) - 1e-9)))
    # 1e-6 below it: the graph's float32 distances must not put that boundary point inside the open ball
    return float(min(2.0, max(d[m - 1] * (1 - 1e-6), float(np.finfo(np.float32).eps))))


def delta_ball_graph(x: np.ndarray, delta: float, cells: np.ndarray | None = None, max_edges: int = 500_000_000,
                     chunk_bytes: int = CHUNK_BYTES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The δ-ball graph E = {(i, j) : ||x_i − x_j|| < δ} of Alg. 1 (self-loops included), sparse.

    Returns ``(starts, ends, indices)``: row i's neighbours are ``indices[starts[i]:ends[i]]`` (int32,
    ascending). The relation is symmetric, so a row is both the out-ball and the in-edges of a point.
    With ``cells`` (an integer label per row), only pairs inside the same cell are compared and kept.
    Distances are computed in row chunks (never N × N); more than ``max_edges`` edges raise
    AlbenchError (4 bytes per edge are kept).
    """
    n = len(x)
    if cells is None:
        groups = [np.arange(n)]
    else:
        cells = np.asarray(cells, dtype=np.int64)
        order = np.argsort(cells, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(cells[order])) + 1)
    starts = np.zeros(n, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    parts: list[np.ndarray] = []
    total, rows_done, d2_max = 0, 0, float(delta) ** 2
    for members in groups:
        m = len(members)
        if m == 0:
            continue
        t = torch.from_numpy(np.ascontiguousarray(x[members], dtype=np.float32))
        t = t - t.mean(0, keepdim=True)  # translation-invariant; keeps float32 distances of near points accurate
        sq = (t * t).sum(1)
        step = max(1, chunk_bytes // (4 * m))
        for s in range(0, m, step):
            e = min(m, s + step)
            mask = sq_dists(t[s:e], sq[s:e], t, sq) < d2_max
            mask[torch.arange(e - s), torch.arange(s, e)] = True  # every point is in its own ball
            counts = to_numpy(mask.sum(1))
            cols = members[to_numpy(mask.nonzero()[:, 1])].astype(np.int32)
            offs = total + np.concatenate([[0], np.cumsum(counts)])
            starts[members[s:e]], ends[members[s:e]] = offs[:-1], offs[1:]
            total += len(cols)
            rows_done += e - s
            if total > max_edges:
                raise AlbenchError(
                    f"probcover: the δ-ball graph at δ={delta:g} exceeds max_edges={max_edges:,} "
                    f"(mean ball so far {total / rows_done:.0f} of {n:,} points); "
                    f"pass a smaller `delta` or raise `max_edges` (4 bytes per edge).")
            parts.append(cols)
    indices = np.empty(total, dtype=np.int32)
    at = 0
    while parts:  # move the chunks into one array, freeing each as it is copied
        p = parts.pop(0)
        indices[at:at + len(p)] = p
        at += len(p)
    return starts, ends, indices


def _gather(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated neighbour lists of ``rows`` (vectorised ranged gather)."""
    s = starts[rows]
    lengths = ends[rows] - s
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=indices.dtype)
    offs = np.repeat(s - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    return indices[offs]


def probcover_greedy(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, labelled: np.ndarray, k: int,
                     rng: np.random.Generator, rows_per_block: int = 65536) -> np.ndarray:
    """Alg. 1's loop on the graph of ``delta_ball_graph``: k row indices (never a ``labelled`` row), in
    pick order.

    Every point in a labelled point's ball is covered (its incoming edges are removed); then, k
    times, the unlabelled point with the most uncovered points in its ball (out-degree after the
    removals; ties to the lower row) is picked and the points of its ball become covered. When no
    uncovered point is left (every out-degree is 0), the rest of the k are drawn uniformly from the
    remaining unlabelled points with ``rng`` (the paper's fallback).
    """
    labelled = np.asarray(labelled, dtype=bool)
    n = len(starts)
    if k > int((~labelled).sum()):
        raise AlbenchError(f"ProbCover asked for {k} points but only {int((~labelled).sum())} are unlabelled.")
    covered = np.zeros(n, dtype=bool)
    covered[_gather(starts, ends, indices, np.flatnonzero(labelled))] = True
    degree = np.empty(n, dtype=np.int64)
    for s in range(0, n, rows_per_block):  # out-degree = uncovered points in the ball
        rows = np.arange(s, min(n, s + rows_per_block))
        lengths = ends[rows] - starts[rows]
        unc = (~covered[_gather(starts, ends, indices, rows)]).astype(np.int64)
        csum = np.concatenate([[0], np.cumsum(unc)])
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        degree[rows] = csum[bounds[1:]] - csum[bounds[:-1]]
    degree[labelled] = -1
    picks: list[int] = []
    while len(picks) < k:
        c = int(np.argmax(degree))
        if degree[c] <= 0:
            break
        picks.append(c)
        ball = indices[starts[c]:ends[c]]
        new = ball[~covered[ball]]
        covered[new] = True
        np.subtract.at(degree, _gather(starts, ends, indices, new), 1)  # their in-edges are removed
        degree[c] = -1
    if len(picks) < k:
        left = np.ones(n, dtype=bool)
        left[labelled] = False
        left[picks] = False
        picks += rng.choice(np.flatnonzero(left), k - len(picks), replace=False).tolist()
    return np.asarray(picks, dtype=np.int64)


@register_method("probcover")
class ProbCover(QueryStrategy):
    """ProbCover (Yehuda, Dekel, Hacohen & Weinshall, NeurIPS 2022, §4, Alg. 1).

    Embedding (``embedding``): ``"self_supervised"`` (default) selects in the pool's self-supervised
    embedding, learnt once per setting from the unlabelled images before any label
    (``Needs(ssl_embeddings=True)``; SimCLR as in the paper, sized for a CPU: a small CNN trained for
    minutes, see ``benchmark.learn.contrastive``, where the paper trains a ResNet-18 for 500 epochs);
    ``"learner"`` in the current task model's penultimate representation h(x) (``Needs(embeddings=True)``;
    in one-shot scenarios the source model's features F_S, the only choice there). L2-normalised as in
    the official code.
    Alg. 1: G = {(x, x') : ||x − x'|| < δ} over labelled + unlabelled points (sparse, self-loops
    included: a point covers itself); the edges into points covered by the labelled set are removed;
    then B times the unlabelled point of highest out-degree is picked and the edges into the points
    its ball covers are removed; ties to the lower position (the official code's arg-max). When
    everything is covered, the remaining picks are uniformly random (the paper's fallback).
    δ (§4.1): ``delta`` if given; otherwise k-means on the embeddings into C = num_classes clusters
    (pseudo-labels; KMeans up to 50 clusters, MiniBatchKMeans above, greedy k-means++ seeding on a
    15,000-point sample as in TypiClust's file), purity(δ) = fraction of points whose δ-ball holds
    only their own cluster, and δ = the largest δ with purity ≥ ``alpha`` = 0.95, found exactly as an
    order statistic of the points' distances to their nearest other-cluster point (version 2 searched the
    grid 0.05, 0.10, ..., 2.00: on MNIST's SimCLR embedding purity falls from 1.00 at 0.05 to 0.85 at
    0.10, so the grid gave 0.05, balls of one point, and batches of a single digit). It is computed once
    per cell, in the first round, and kept in ``delta_`` (purities on that grid in ``purity_``) for the later
    rounds (with ``embedding: learner`` although the embedding changes); ``graph_edges_`` records each round's graph size.

    Scale (the official code builds the full graph on a GPU in batches of 500 rows, with no cap; on a
    CPU an N × N pass over 1.2M points is out of reach):
    - purity is estimated on ``purity_sample`` = 3,000 random query points (all points when there are
      fewer), each against the *whole* pool (an unbiased estimate; standard error about 0.004 at purity 0.95);
    - up to ``exact_limit`` = 50,000 points the graph is exact; above, edges (and so the labelled
      set's coverage too) are only searched inside the cells of a k-means partition into
      max(C, ⌈N / 10,000⌉) clusters: in the first round the purity clustering itself when that count
      is C (e.g. 1,000 classes at 1.2M), otherwise, and in every later round, a new k-means. Since δ
      is chosen so that a fraction ≥ α of the balls is pure, i.e. holds no point of another cluster,
      the dropped edges are only those of the ≤ 1 − α impure balls (with an explicit ``delta``, or
      finer cells, or in later rounds, that fraction is not controlled);
    - more than ``max_edges`` = 500M edges (2 GB) raise an error that asks for a smaller δ.
    Cost at 1.2M × 512 and 1,000 classes: k-means, 3,000 × N distances for purity, Σ n_c² within
    cells; memory O(N·d + edges).
    """

    version = "3"  # 3: δ the exact largest with purity ≥ α (2: on a 0.05 grid); 2: the SSL embedding by default
    search_space = {"alpha": ("float", 0.5, 0.99)}  # albench tune

    def __init__(self, delta: float | None = None, alpha: float = 0.95, purity_sample: int = 3000,
                 exact_limit: int = 50_000, max_edges: int = 500_000_000, embedding: str = "self_supervised"):
        if delta is not None and (isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0):
            raise AlbenchError(f"probcover: delta must be a positive number (a ball radius on the unit sphere, "
                               f"at most 2 is meaningful) or null for the purity rule, got {delta!r}.")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
            raise AlbenchError(f"probcover: alpha (the purity threshold) must be in (0, 1], got {alpha!r}.")
        for name, value in (("purity_sample", purity_sample), ("exact_limit", exact_limit), ("max_edges", max_edges)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise AlbenchError(f"probcover: {name} must be a positive integer, got {value!r}.")
        self.delta = None if delta is None else float(delta)
        self.alpha = float(alpha)
        self.purity_sample = int(purity_sample)
        self.exact_limit = int(exact_limit)
        self.max_edges = int(max_edges)
        self.embedding = check_embedding(embedding, "probcover")

    def needs(self) -> Needs:
        return embedding_needs(self.embedding, Needs(embeddings=True))

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        unl, lab = selection_space(view, self.embedding, "embeddings", "probcover")
        n_lab = len(lab) if lab is not None and np.asarray(lab).size else 0
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        x = l2_normalize(lab if n_lab else None, unl)
        n = len(x)
        n_classes = max(1, min(int(view.num_classes), n))
        delta = self.delta if self.delta is not None else getattr(self, "delta_", None)
        pseudo = None
        if delta is None:
            pseudo = kmeans_labels(x, n_classes, seed=int(rng.integers(2**31 - 1)))
            queries = np.arange(n) if n <= self.purity_sample else np.sort(
                rng.choice(n, self.purity_sample, replace=False))
            d_other = nearest_other_cluster_distance(x, pseudo, queries)
            self.purity_ = ball_purity(d_other, DELTA_GRID)
            self.delta_ = delta = largest_pure_delta(d_other, self.alpha)
        cells = None
        if n > self.exact_limit:
            n_cells = max(n_classes, math.ceil(n / CELL_SIZE))
            cells = pseudo if pseudo is not None and n_cells == n_classes else kmeans_labels(
                x, n_cells, seed=int(rng.integers(2**31 - 1)))
        starts, ends, indices = delta_ball_graph(x, delta, cells, self.max_edges)
        self.graph_edges_ = len(indices)  # diagnostics: size of this round's graph
        labelled = np.zeros(n, dtype=bool)
        labelled[:n_lab] = True
        picks = probcover_greedy(starts, ends, indices, labelled, k, rng)
        return view.unlabelled[picks - n_lab]
