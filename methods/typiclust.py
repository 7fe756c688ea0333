"""TypiClust (Hacohen, Dekel & Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High
and Low Budgets", ICML 2022, §4 and Alg. 1): the most typical point of the largest uncovered cluster.

Core steps as module-level functions (numpy in, numpy out): ``l2_normalize``, ``kmeans_labels``
(§4 step 2, clustering for diversity), ``knn_mean_distance`` / ``typicality`` (§4's Typicality(x)) and
``typiclust_select`` (§4 step 3 and Alg. 1's loop: the most typical point of the largest uncovered cluster).
"""
from __future__ import annotations

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

CHUNK_BYTES = 64 * 2**20  # one (rows × cluster) float32 distance block at a time


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
        d2 = sq_dists(t[s:e], sq[s:e], t, sq)
        d2[torch.arange(e - s), torch.arange(s, e)] = float("inf")  # not its own neighbour
        near = torch.topk(d2, k, dim=1, largest=False).values
        out[s:e] = to_numpy(near.sqrt().double().mean(1))
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

    Step 1 (representation), ``embedding``: ``"self_supervised"`` (default) selects in the pool's
    self-supervised embedding, learnt once per setting from the unlabelled images before any label
    (``Needs(ssl_embeddings=True)``; SimCLR, as the paper's §4 step 1, sized for a CPU: see
    ``benchmark.learn.contrastive``); ``"learner"`` in the current task model's penultimate
    representation h(x) (``Needs(embeddings=True)``; in one-shot scenarios the source model's features
    F_S, the only choice there). Embeddings are L2-normalised, as the official code does with its features.
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
    - embedding: a small CNN's SimCLR embedding trained for minutes on a CPU, not the paper's ResNet-18
      trained for 500 epochs (or DINO on ImageNet); ``embedding: learner`` is not the paper's method;
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

    version = "2"  # 2: selects in the self-supervised embedding by default (1: the task model's h(x))
    search_space = {"k_nn": ("int", 5, 50, "log")}  # albench tune

    def __init__(self, k_nn: int = 20, max_clusters: int = 500, min_cluster_size: int = 5,
                 embedding: str = "self_supervised"):
        for name, value, low in (("k_nn", k_nn, 1), ("max_clusters", max_clusters, 1),
                                 ("min_cluster_size", min_cluster_size, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise AlbenchError(f"typiclust: {name} must be an integer >= {low}, got {value!r}.")
        self.k_nn = int(k_nn)
        self.max_clusters = int(max_clusters)
        self.min_cluster_size = int(min_cluster_size)
        self.embedding = check_embedding(embedding, "typiclust")

    def needs(self) -> Needs:
        return embedding_needs(self.embedding, Needs(embeddings=True))

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        unl, lab = selection_space(view, self.embedding, "embeddings", "typiclust")
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
