"""Cluster-Margin (Citovsky et al., NeurIPS 2021): lowest-margin candidates spread over HAC clusters."""
from __future__ import annotations

import math

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView

_EPS_PAIRS_POINTS = 2000  # the default ε is a quantile of the pairwise distances among this many sample points


def pairwise_distance_quantile(x: np.ndarray, q: float, rng: np.random.Generator,
                               max_points: int = _EPS_PAIRS_POINTS) -> float:
    """The q-quantile of the Euclidean distances between distinct rows of ``x`` (at most ``max_points``
    rows, drawn with ``rng``); 0.0 with fewer than two rows."""
    from scipy.spatial.distance import pdist

    if len(x) < 2:
        return 0.0
    rows = np.sort(rng.choice(len(x), size=min(len(x), max_points), replace=False))
    return float(np.quantile(pdist(np.asarray(x[rows], dtype=np.float64)), q))


def nearest_centroid(x: np.ndarray, centroids: np.ndarray, chunk_rows: int = 8192) -> np.ndarray:
    """Index of the nearest centroid (Euclidean) for every row of ``x``, computed ``chunk_rows`` rows at a
    time in float32 (argmin of ||c||² − 2 x·c); ties go to the lower centroid index."""
    c = np.asarray(centroids, dtype=np.float32)
    c_sq = (c * c).sum(1)
    out = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), chunk_rows):
        block = np.asarray(x[s:s + chunk_rows], dtype=np.float32)
        out[s:s + len(block)] = np.argmin(c_sq[None, :] - 2.0 * (block @ c.T), axis=1)
    return out


def hac_clusters(blocks: list[np.ndarray], eps: float | None, eps_quantile: float, max_sample: int,
                 rng: np.random.Generator, chunk_rows: int = 8192) -> tuple[np.ndarray, float]:
    """Average-linkage HAC with distance threshold ε over the rows of ``blocks`` (read as one array, in order,
    without concatenating them), at scale (Cluster-Margin Alg. 1, the clustering step).

    A uniform sample of at most ``max_sample`` rows (drawn with ``rng``) is clustered exactly with
    scikit-learn's ``AgglomerativeClustering(linkage="average", distance_threshold=ε)``: clusters are merged
    while their average pairwise distance is below ε. Every row outside the sample joins the sample cluster
    whose centroid (mean of its members) is nearest, in chunks. ``eps=None`` takes ε as the
    ``eps_quantile``-quantile of pairwise distances among (at most 2,000 of) the sample rows. ε is raised to
    the smallest positive float when it would be 0, so that exact duplicates still merge.
    Returns (cluster id per row, numbered 0..K−1, the ε used).
    """
    from sklearn.cluster import AgglomerativeClustering

    sizes = [len(b) for b in blocks]
    n = sum(sizes)
    if n == 0:
        return np.zeros(0, dtype=np.int64), float(eps or 0.0)
    offsets = np.cumsum([0] + sizes)
    sample = np.sort(rng.choice(n, size=min(n, max_sample), replace=False))
    which = np.searchsorted(offsets, sample, side="right") - 1
    xs = np.concatenate([np.asarray(blocks[b][sample[which == b] - offsets[b]], dtype=np.float64)
                         for b in range(len(blocks))])
    if eps is None:
        eps = pairwise_distance_quantile(xs, eps_quantile, rng)
    eps = max(float(eps), float(np.nextafter(0.0, 1.0)))
    if len(xs) < 2:
        sample_labels = np.zeros(len(xs), dtype=np.int64)
    else:
        sample_labels = AgglomerativeClustering(n_clusters=None, linkage="average",
                                                distance_threshold=eps).fit(xs).labels_.astype(np.int64)
    k = int(sample_labels.max()) + 1
    centroids = np.zeros((k, xs.shape[1]), dtype=np.float64)
    np.add.at(centroids, sample_labels, xs)
    centroids /= np.bincount(sample_labels, minlength=k)[:, None]
    labels = np.empty(n, dtype=np.int64)
    for b, block in enumerate(blocks):
        labels[offsets[b]:offsets[b + 1]] = nearest_centroid(block, centroids, chunk_rows)
    labels[sample] = sample_labels  # sampled rows keep their own HAC cluster
    return labels, eps


def round_robin_by_cluster(cluster_ids: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster-Margin Alg. 2: indices of k of the candidates, spread over their clusters.

    The candidates' clusters are sorted by how many candidates they hold, smallest first (ties in a random
    order from ``rng``); passes go round the clusters in that order taking one candidate at random from
    each non-empty cluster, until k are taken. Returns indices into ``cluster_ids``, in pick order.
    """
    cluster_ids = np.asarray(cluster_ids)
    if k > len(cluster_ids):
        raise AlbenchError(f"round robin asked for {k} candidates among {len(cluster_ids)}")
    uniq, inv, counts = np.unique(cluster_ids, return_inverse=True, return_counts=True)
    perm = rng.permutation(len(uniq))
    cluster_rank = np.empty(len(uniq), dtype=np.int64)
    cluster_rank[perm[np.argsort(counts[perm], kind="stable")]] = np.arange(len(uniq))
    # a random order inside every cluster: pass number = position in that order
    within = np.lexsort((rng.random(len(cluster_ids)), inv))
    pass_no = np.empty(len(cluster_ids), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pass_no[within] = np.arange(len(cluster_ids)) - np.repeat(starts, counts)
    return np.lexsort((cluster_rank[inv], pass_no))[:k]


def margins(probs: np.ndarray, chunk_rows: int = 65536) -> np.ndarray:
    """p_(1) − p_(2) per row (the margin score of Cluster-Margin Alg. 1), in chunks."""
    out = np.empty(len(probs), dtype=np.float64)
    if probs.shape[1] < 2:
        out[:] = probs[:, 0] if probs.shape[1] else 0.0
        return out
    for s in range(0, len(probs), chunk_rows):
        part = np.partition(probs[s:s + chunk_rows], -2, axis=1)
        out[s:s + len(part)] = part[:, -1].astype(np.float64) - part[:, -2]
    return out


@register_method("cluster_margin")
class ClusterMargin(QueryStrategy):
    """Cluster-Margin (Citovsky, DeSalvo, Gentile, Karydas, Rajagopalan, Rostamizadeh, Kumar, "Batch Active
    Learning at Scale", NeurIPS 2021), Algorithm 1 with the round-robin sampling of Algorithm 2.

    Alg. 1, clustering (once per cell): the first ``select`` of a cell (round 0) clusters the whole pool
    (labelled and unlabelled points) by average-linkage HAC with distance threshold ε on ``view.embeddings``
    (the classifier's input h(x) of the model trained on the initial labelled set, the paper's "model trained
    on the seed set P1"), and keeps the cluster of every pool position on ``self.clusters_`` (with
    ``self.eps_``, ``self.n_clusters_``) for the later rounds, as the paper clusters once. Alg. 1, each round:
    the k_m = ceil(m_factor·k) unlabelled points of smallest margin p_(1) − p_(2) (ties: lower pool position)
    are grouped by cluster; Alg. 2 sorts those groups by size, smallest first, and goes round them taking one
    point at random from each until k are chosen.

    Differences from the paper: (1) at scale the paper runs an approximate, distributed HAC; here an exact
    average-linkage HAC (scikit-learn) clusters a random sample of at most ``max_sample`` pool points (default
    10,000: about 1 GB peak and 20 s on one core; both grow as n²) and every other point joins the nearest sample
    cluster's centroid, computed in chunks (the pool × pool matrix is never formed). (2) ε is a hyperparameter in
    the paper; ``eps=None`` (default) sets it to the ``eps_quantile`` = 0.05 quantile of the pairwise distances
    among 2,000 sample points, so clusters are tight neighbourhoods whatever the embedding's scale (on
    scikit-learn's digits pixels: 93 clusters for 10 classes, 99% pure; with many more classes a lower quantile
    keeps clusters within classes). (3) The paper's seed set P1 is random; here it is the scenario's initial
    labelled set; with none, the embeddings and margins come from the untrained model. (4) Ties between clusters
    of equal size are ordered at random (the paper does not say). k_m defaults to 10·k as in the paper's
    large-scale experiments, and is capped at the number of unlabelled points.
    """

    version = "1"
    contract_params = {"max_sample": 500}
    search_space = {"m_factor": ("float", 1.0, 20.0, "log"), "eps_quantile": ("float", 0.01, 0.2, "log")}  # albench tune

    def __init__(self, m_factor: float = 10.0, eps: float | None = None, eps_quantile: float = 0.05,
                 max_sample: int = 10_000, chunk_rows: int = 8192):
        if not (isinstance(m_factor, (int, float)) and m_factor >= 1):
            raise AlbenchError(f"cluster_margin: m_factor must be a number >= 1 (k_m = ceil(m_factor * k) "
                               f"candidates for k picks); got {m_factor!r}.")
        if eps is not None and not (isinstance(eps, (int, float)) and eps > 0):
            raise AlbenchError(f"cluster_margin: eps must be a positive distance or None (then the eps_quantile "
                               f"of pairwise distances); got {eps!r}.")
        if not (isinstance(eps_quantile, (int, float)) and 0 < eps_quantile <= 1):
            raise AlbenchError(f"cluster_margin: eps_quantile must be in (0, 1]; got {eps_quantile!r}.")
        if not (isinstance(max_sample, int) and max_sample >= 2):
            raise AlbenchError(f"cluster_margin: max_sample must be an integer >= 2 (points clustered by HAC); "
                               f"got {max_sample!r}.")
        if not (isinstance(chunk_rows, int) and chunk_rows >= 1):
            raise AlbenchError(f"cluster_margin: chunk_rows must be a positive integer; got {chunk_rows!r}.")
        self.m_factor = m_factor
        self.eps = eps
        self.eps_quantile = eps_quantile
        self.max_sample = max_sample
        self.chunk_rows = chunk_rows

    def needs(self) -> Needs:
        return Needs(probs=True, embeddings=True)

    def _covers(self, view: SelectionView) -> bool:
        clusters = getattr(self, "clusters_", None)
        if clusters is None:
            return False
        positions = np.concatenate([view.unlabelled, view.labelled])
        return bool(len(positions) == 0 or (positions.max() < len(clusters) and (clusters[positions] >= 0).all()))

    def _cluster(self, view: SelectionView, rng: np.random.Generator) -> None:
        emb = view.require("embeddings", "cluster_margin")
        blocks = [emb]
        if len(view.labelled):
            blocks.append(view.require("labelled_embeddings", "cluster_margin"))
        labels, eps = hac_clusters(blocks, self.eps, self.eps_quantile, self.max_sample, rng, self.chunk_rows)
        positions = np.concatenate([view.unlabelled, view.labelled]).astype(np.int64)
        clusters = np.full(int(positions.max()) + 1 if len(positions) else 0, -1, dtype=np.int64)
        clusters[positions] = labels
        self.clusters_ = clusters
        self.eps_ = eps
        self.n_clusters_ = int(labels.max()) + 1 if len(labels) else 0
        self.clustered_round_ = int(view.round)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        probs = view.require("probs", "cluster_margin")
        n = len(view.unlabelled)
        if k > n:
            raise AlbenchError(f"cluster_margin: asked for {k} points but only {n} are unlabelled.")
        if not self._covers(view):  # round 0 of the cell (or a pool this object has not clustered)
            self._cluster(view, rng)
        km = min(n, math.ceil(self.m_factor * k))
        order = np.lexsort((view.unlabelled, margins(probs)))[:km]  # smallest margin first, ties: lower position
        picks = round_robin_by_cluster(self.clusters_[view.unlabelled[order]], k, rng)
        return view.unlabelled[order[picks]]
