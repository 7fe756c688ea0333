"""BADGE (Ash, Zhang, Krishnamurthy, Langford & Agarwal, ICLR 2020): k-means++ seeding over the
gradient embeddings g_x = (p(x) − onehot(ŷ(x))) ⊗ h(x), without ever forming the (N, C·d) matrix."""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView, check_embedding

FIRST_CENTRE = ("max_norm", "random")
_CHUNK_ROWS = 8192  # rows per block when reducing over a row (the float64 copy of a block stays ≤ 32 MB at d = 512)


def _float_rows(x: np.ndarray) -> np.ndarray:
    """C-contiguous float32/float64 view of ``x``; copies only when the layout or dtype needs it."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    return np.ascontiguousarray(x)


def _row_sq_norms(x: np.ndarray) -> np.ndarray:
    """Σ_j x_ij² per row in float64, block by block (no N×d temporary)."""
    out = np.empty(len(x), dtype=np.float64)
    for s in range(0, len(x), _CHUNK_ROWS):
        b = x[s:s + _CHUNK_ROWS].astype(np.float64)
        out[s:s + len(b)] = np.einsum("ij,ij->i", b, b)
    return out


def _prediction_and_sq_norms(p: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    yhat = p.argmax(axis=1)
    a_sq = np.maximum(_row_sq_norms(p) - 2.0 * p[np.arange(len(p)), yhat].astype(np.float64) + 1.0, 0.0)
    return yhat, a_sq * _row_sq_norms(h)


def gradient_embedding_sq_norms(probs: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """‖g_x‖² = ‖p(x) − e_ŷ(x)‖² · ‖h(x)‖² (the norm of an outer product is the product of norms).

    ŷ(x) = argmax_c p_c(x), ties to the lower class index; ‖p − e_ŷ‖² = ‖p‖² − 2 p_ŷ + 1.
    """
    return _prediction_and_sq_norms(_float_rows(probs), _float_rows(embeddings))[1]


def badge_kmeanspp(probs: np.ndarray, embeddings: np.ndarray, k: int, rng: np.random.Generator,
                   first: str = "max_norm") -> np.ndarray:
    """k-means++ seeding (D² sampling) over g_i = (p_i − e_ŷ_i) ⊗ h_i; returns k distinct rows, in pick order.

    ``probs`` (N, C) softmax outputs and ``embeddings`` (N, d) the classifier's inputs h, row-aligned.
    First centre: ``"max_norm"`` = argmax_i ‖g_i‖ (ties → lowest row; the official BADGE code),
    ``"random"`` = uniform from ``rng`` (Arthur & Vassilvitskii 2007). Every later centre is drawn
    with probability D²(i)/Σ D², D²(i) the squared distance from g_i to its nearest chosen centre;
    chosen rows have D² = 0 and are never drawn again. When every remaining D² is 0 (the rest of
    the pool coincides with chosen centres in gradient space) the centre is uniform over the rows
    not yet chosen. One ``rng.random()`` per D² draw.

    Squared distances to a new centre j come from
    ‖a_i⊗h_i − a_j⊗h_j‖² = ‖a_i‖²‖h_i‖² + ‖a_j‖²‖h_j‖² − 2 (a_i·a_j)(h_i·h_j), with
    a_i·a_j = p_i·p_j − p_i[ŷ_j] − p_j[ŷ_i] + [ŷ_i = ŷ_j]: two matrix-vector products (P p_j and
    H h_j) and O(N) work per centre, O(N(C + d)) time and O(N) extra memory; no (N, C·d) matrix,
    not even the (N, C) matrix of a_i.
    """
    if first not in FIRST_CENTRE:
        raise AlbenchError(f"badge: first={first!r}; allowed: {', '.join(repr(f) for f in FIRST_CENTRE)}.")
    p, h = _float_rows(probs), _float_rows(embeddings)
    if p.ndim != 2 or h.ndim != 2 or len(p) != len(h):
        raise AlbenchError(f"badge: probs {p.shape} and embeddings {h.shape} must be 2-D with the same rows.")
    n = len(p)
    if not 0 <= k <= n:
        raise AlbenchError(f"badge: asked for {k} centres among {n} unlabelled points.")
    if k == 0:
        return np.zeros(0, dtype=np.int64)

    yhat, g_sq = _prediction_and_sq_norms(p, h)

    chosen = np.zeros(n, dtype=bool)
    d2 = np.full(n, np.inf)
    picks: list[int] = []
    j = int(np.argmax(g_sq)) if first == "max_norm" else int(rng.integers(n))
    while True:
        picks.append(j)
        chosen[j] = True
        if len(picks) == k:
            break
        # squared distances from every g_i to the new centre g_j
        aa = (p @ p[j]).astype(np.float64)
        aa -= p[:, yhat[j]]
        aa -= p[j][yhat]
        aa += yhat == yhat[j]
        aa *= h @ h[j]
        aa *= -2.0
        aa += g_sq
        aa += g_sq[j]
        np.maximum(aa, 0.0, out=aa)
        np.minimum(d2, aa, out=d2)
        d2[j] = 0.0  # exact zero for the centre itself, whatever the rounding
        cdf = np.cumsum(d2)
        total = cdf[-1]
        if total > 0 and np.isfinite(total):
            j = int(np.searchsorted(cdf, rng.random() * total, side="right"))
            if j >= n:  # u rounded up to the total: the last row with D² > 0
                j = int(np.flatnonzero(d2 > 0)[-1])
        else:  # all remaining D² = 0: uniform over the rows not chosen yet
            rest = np.flatnonzero(~chosen)
            j = int(rest[rng.integers(len(rest))])
    return np.asarray(picks, dtype=np.int64)


def kmeanspp_rows(x: np.ndarray, k: int, rng: np.random.Generator, first: str = "max_norm") -> np.ndarray:
    """k-means++ seeding (D² sampling, Arthur & Vassilvitskii 2007) over the rows of ``x`` itself: k
    distinct rows in pick order, the first by ``first`` as in ``badge_kmeanspp``.

    It is ``badge_kmeanspp`` with one constant gradient factor: with a single class and p ≡ 0, every
    a_i = p_i − e_ŷ = −1, so ‖a_i⊗x_i − a_j⊗x_j‖ = ‖x_i − x_j‖ and ‖g_i‖ = ‖x_i‖ exactly.
    """
    return badge_kmeanspp(np.zeros((len(x), 1), np.float32), x, k, rng, first=first)


@register_method("badge")
class Badge(QueryStrategy):
    """BADGE (Ash et al., "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds",
    ICLR 2020), Algorithm 1.

    Gradient-embedding step of Algorithm 1: g_x = ∂ℓ_CE(f(x;θ), ŷ)/∂W_out, i.e.
    (g_x)_i = (p_i(x) − 1(ŷ(x) = i)) h(x) for the weights W_out of the last linear layer at the
    model's own prediction ŷ(x) = argmax p(x) (Sec. 3 of the paper); the sign is irrelevant to
    distances. p = ``view.probs``, h = ``view.embeddings`` (the last layer's input). Selection step
    of Algorithm 1: the batch is the k-MEANS++ seeding of {g_x : x ∈ U} (``badge_kmeanspp``);
    labelled points are never centres (Algorithm 1 seeds the unlabelled pool only).

    First centre: ``first="max_norm"`` (default) takes argmax ‖g_x‖ deterministically, as the
    authors' code (``init_centers`` in JordanAsh/badge) does; ``first="random"`` draws it uniformly
    from ``rng`` as textbook k-means++ (Arthur & Vassilvitskii 2007) does. Later centres: D²
    sampling with the round's ``rng`` (the official code draws from scipy's global state). Where
    every remaining D² is 0 the official code stops in a debugger; here the centre is uniform over
    the not-yet-chosen points (from ``rng``).

    Differences from the paper: no bias-gradient block (the paper's g_x covers the weights only, as
    here); distances use the exact identity ‖a_i⊗h_i − a_j⊗h_j‖² = |a_i|²|h_i|² + |a_j|²|h_j|² −
    2(a_i·a_j)(h_i·h_j) instead of materialised (N, C·d) embeddings, so each centre costs
    O(N(C + d)) and memory stays O(N) beyond the inputs (the official code forms the N × C·d matrix,
    which for 1.2M × 100 × 512 would be 246 GB). In the one-shot scenario p and h are the source
    model's outputs, so the C in g_x is the source model's classes.

    ``embedding: self_supervised`` (default ``learner``): in a round where nothing is labelled yet (a
    cold start's round 0, whose classifier never saw a label, so its gradient embedding says nothing),
    the batch is the k-means++ seeding of the pool's self-supervised embedding z(x) instead
    (``kmeanspp_rows``); later rounds use the gradient embedding above, which must be of the
    classifier's own input h(x).
    """

    version = "1"
    search_space = {"first": ("categorical", ["max_norm", "random"])}  # albench tune

    def __init__(self, first: str = "max_norm", embedding: str = "learner"):
        if first not in FIRST_CENTRE:
            raise AlbenchError(f"badge: first={first!r} is not a first-centre rule; allowed: "
                               f"{', '.join(repr(f) for f in FIRST_CENTRE)}.")
        self.first = first
        self.embedding = check_embedding(embedding, "badge")

    def needs(self) -> Needs:
        return Needs(probs=True, embeddings=True, ssl_embeddings=self.embedding == "self_supervised")

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        if self.embedding == "self_supervised" and not len(view.labelled):
            z = view.require("ssl_embeddings", "badge")
            return view.unlabelled[kmeanspp_rows(z, k, rng, first=self.first)]
        probs = view.require("probs", "badge")
        emb = view.require("embeddings", "badge")
        return view.unlabelled[badge_kmeanspp(probs, emb, k, rng, first=self.first)]
