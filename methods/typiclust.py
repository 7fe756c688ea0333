"""TypiClust (Hacohen, Dekel & Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High
and Low Budgets", ICML 2022, §4 and Alg. 1): the most typical point of the largest uncovered cluster.

Core steps as module-level functions (numpy in, numpy out): ``l2_normalize``, ``kmeans_labels``
(§4 step 2, clustering for diversity), ``knn_mean_distance`` / ``typicality`` (§4's Typicality(x)) and
``typiclust_select`` (§4 step 3 and Alg. 1's loop: the most typical point of the largest uncovered cluster).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView

CHUNK_BYTES = 64 * 2**20  # one (rows × cluster) float32 distance block at a time
KMEANS_INIT_SAMPLE = 15_000  # k-means++ seeding sample (MiniBatchKMeans' default init_size = 3 × 5000)
KMEANS_FULL_MAX = 50  # the official code: KMeans up to 50 clusters, MiniBatchKMeans(batch_size=5000) above


def l2_normalize(*parts: np.ndarray | None, rows_per_chunk: int = 65536) -> np.ndarray:
    """Row-wise L2-normalised float32 copy of the row-concatenation of ``parts`` (None / empty parts are
    skipped); all-zero rows stay zero. Chunked, so the only full-size allocation is the output."""
    parts = [np.asarray(p) for p in parts if p is not None and np.asarray(p).size]
    if not parts:
        return np.zeros((0, 0), np.float32)
    out = np.empty((sum(len(p) for p in parts), parts[0].shape[1]), np.float32)
    at = 0
    for p in parts:
        for s in range(0, len(p), rows_per_chunk):
            block = np.asarray(p[s:s + rows_per_chunk], dtype=np.float32)
            norm = np.sqrt(np.einsum("ij,ij->i", block, block))[:, None]
            out[at:at + len(block)] = block / np.maximum(norm, 1e-12)
            at += len(block)
    return out


def _sq_dists(q: torch.Tensor, q_sq: torch.Tensor, p: torch.Tensor, p_sq: torch.Tensor) -> torch.Tensor:
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
    closest = _sq_dists(t[chosen], sq[chosen], t, sq)[0]
    t_T = t.T.contiguous()
    for _ in range(1, k):
        cum = np.cumsum(closest.numpy(), dtype=np.float64)
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


def knn_mean_distance(x: np.ndarray, k: int, chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """For every row of ``x`` (n, d), the mean Euclidean distance to its ``k`` nearest *other* rows.

    Exact, in row chunks of ``chunk_bytes`` (a 100k-point cluster never forms a 100k × 100k matrix);
    the rows are centred first, which keeps float32 distances between near points accurate.
    """
    n = len(x)
    if not 1 <= k < n:
        raise ValueError(f"k-NN with k={k} among {n} points")
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    t = t - t.mean(0, keepdim=True)
    sq = (t * t).sum(1)
    out = np.empty(n, np.float64)
    step = max(1, chunk_bytes // (4 * n))
    for s in range(0, n, step):
        e = min(n, s + step)
        d2 = _sq_dists(t[s:e], sq[s:e], t, sq)
        d2[torch.arange(e - s), torch.arange(s, e)] = float("inf")  # not its own neighbour
        near = torch.topk(d2, k, dim=1, largest=False).values
        out[s:e] = near.sqrt().double().mean(1).numpy()
    return out


def typicality(x: np.ndarray, k: int, chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """Typicality(x) = (1/K Σ_{x_i ∈ K-NN(x)} ||x − x_i||₂)⁻¹ (§4), with the official code's
    +1e-5 in the denominator so that duplicate points do not divide by zero."""
    return 1.0 / (knn_mean_distance(x, k, chunk_bytes) + 1e-5)


def typiclust_select(x: np.ndarray, clusters: np.ndarray, labelled: np.ndarray, k: int, k_nn: int = 20,
                     min_cluster_size: int = 5, chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """§4 step 3 / Alg. 1's loop: k row indices of ``x`` (never a ``labelled`` row), in pick order.

    ``clusters``: cluster index per row of ``x``; ``labelled``: boolean mask of labelled rows.
    Each pick takes, among the clusters of more than ``min_cluster_size`` points (labelled ones
    counted), the one holding the fewest labelled-or-picked points, ties to the largest, then to
    the lower cluster index; in it, the most typical point among its still-unlabelled points,
    with K = min(k_nn, n_c // 2) neighbours (n_c: those unlabelled points; K ≥ 1; a lone point is
    taken as it is); ties to the lower row. When every such cluster is used up, the smaller ones
    are used the same way.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    available = ~np.asarray(labelled, dtype=bool)
    if k > int(available.sum()):
        raise AlbenchError(f"TypiClust asked for {k} points but only {int(available.sum())} are unlabelled.")
    n_c = int(clusters.max()) + 1 if len(clusters) else 0
    sizes = np.bincount(clusters, minlength=n_c)
    counts = np.bincount(clusters[~available], minlength=n_c)
    remaining = np.bincount(clusters[available], minlength=n_c)
    eligible = sizes > min_cluster_size  # the official code keeps cluster_size > MIN_CLUSTER_SIZE = 5
    order = np.argsort(clusters, kind="stable")
    members_of = np.split(order, np.cumsum(sizes)[:-1])
    picks: list[int] = []
    for _ in range(k):
        cand = eligible & (remaining > 0)
        if not cand.any():
            cand = remaining > 0
        ids = np.flatnonzero(cand)
        c = int(ids[np.lexsort((ids, -sizes[ids], counts[ids]))[0]])
        members = members_of[c][available[members_of[c]]]
        if len(members) == 1:
            pick = int(members[0])
        else:
            kk = max(1, min(k_nn, len(members) // 2))
            pick = int(members[int(np.argmax(typicality(x[members], kk, chunk_bytes)))])
        picks.append(pick)
        available[pick] = False
        counts[c] += 1
        remaining[c] -= 1
    return np.asarray(picks, dtype=np.int64)


@register_method("typiclust")
class TypiClust(QueryStrategy):
    """TypiClust (Hacohen, Dekel & Weinshall, ICML 2022, §4, Alg. 1; "TPC_RP", the K-means variant).

    Step 1 (representation): the paper embeds with self-supervised SimCLR / DINO features, which
    albench does not have; we use the current model's penultimate representation h(x)
    (``Needs(embeddings=True)``), or, in one-shot scenarios, the source model's features F_S.
    Embeddings are L2-normalised, as the official code does with its features.
    Step 2: K-means over labelled + unlabelled points into min(|L| + B, ``max_clusters``) clusters,
    re-clustered every round; the official code caps at 500 (``MAX_NUM_CLUSTERS``) and uses KMeans up
    to 50 clusters, MiniBatchKMeans(batch_size=5000) above. The seed comes from ``rng``.
    Step 3: typicality = inverse mean Euclidean distance to the K nearest neighbours,
    computed inside the cluster among its unlabelled points, K = min(``k_nn`` = 20, n_c // 2) as in
    the official code ("in case we have too small cluster, calculate density among half of the
    cluster"), exact k-NN in row chunks (the official code uses exact faiss search on a GPU).
    Alg. 1's loop: repeatedly the cluster with the fewest labelled (or already picked) points, ties
    to the largest, and in it the most typical point. Clusters of at most ``min_cluster_size`` = 5 points
    are skipped, as in the official code (``cluster_size > MIN_CLUSTER_SIZE``).

    Differences from the paper / official code, and why:
    - embedding: penultimate features instead of SimCLR / DINO (see above);
    - typicality uses Euclidean distances as §4 defines it; the official code averages the squared
      distances faiss' IndexFlatL2 returns (the arg-max can differ);
    - the official code sorts the clusters once by (labelled count, −size) and cycles through them;
      we recount after every pick (a picked point counts as labelled), i.e. always "the largest cluster
      with the fewest labelled points", the same order whenever the labelled counts start equal;
    - when B exceeds the clusters that still hold unlabelled points of more than 5 points, the
      smaller clusters are used too (the official code would fail); k is always met;
    - k-means: one initialisation, greedy k-means++ seeding (scikit-learn's default algorithm) computed
      in float32 on min(N, max(15,000, 3 × clusters)) random points (``kmeans_plusplus``), because
      scikit-learn's own seeding upcasts to float64 and took longer than the clustering itself
      (the official code used the library default, then n_init=10 for KMeans).
    Scale: k-means on 1.2M × 512 uses MiniBatchKMeans (500 clusters at most); the k-NN stays inside
    one cluster and is chunked, so memory is O(N·d + chunk) and time O(Σ_visited n_c²·d).
    """

    version = "1"
    search_space = {"k_nn": ("int", 5, 50, "log")}  # albench tune

    def __init__(self, k_nn: int = 20, max_clusters: int = 500, min_cluster_size: int = 5):
        for name, value, low in (("k_nn", k_nn, 1), ("max_clusters", max_clusters, 1),
                                 ("min_cluster_size", min_cluster_size, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise AlbenchError(f"typiclust: {name} must be an integer >= {low}, got {value!r}.")
        self.k_nn = int(k_nn)
        self.max_clusters = int(max_clusters)
        self.min_cluster_size = int(min_cluster_size)

    def needs(self) -> Needs:
        return Needs(embeddings=True)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        unl = view.require("embeddings", "typiclust")
        lab = view.labelled_embeddings
        n_lab = len(lab) if lab is not None and np.asarray(lab).size else 0
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        x = l2_normalize(lab if n_lab else None, unl)
        labelled = np.zeros(len(x), dtype=bool)
        labelled[:n_lab] = True
        n_clusters = min(n_lab + k, self.max_clusters, len(x))
        clusters = kmeans_labels(x, n_clusters, seed=int(rng.integers(2**31 - 1)))
        picks = typiclust_select(x, clusters, labelled, k, self.k_nn, self.min_cluster_size)
        return view.unlabelled[picks - n_lab]
