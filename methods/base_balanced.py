"""BASE, Balanced Selection (Emam, Chu, Chiang, Czaja, Leapman, Goldblum & Goldstein, "Active Learning
at the ImageNet Scale", arXiv 2111.12880, 2021): the same number of points per class, each class
taking the unlabelled points closest to its decision boundary."""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView

SCORES = ("logit", "prob")
_CHUNK_ROWS = 8192  # rows per block for the second-largest probability (8192 × 1000 float32 = 32 MB)
_BLOCK_ELEMS = 2**21  # keys per row block of the candidate search (8 MB of float32)


class _BoundaryKeys:
    """Ranking keys of the unlabelled points for each class's decision boundary, by row or class block.

    The distance is d(x, c) = s_ŷ(x) − s_c(x) for c ≠ ŷ(x) (the gap to the pairwise boundary ŷ|c)
    and d(x, ŷ) = s_ŷ(x) − s_(2)(x) (the predicted class's nearest boundary, i.e. the margin), with
    s = log p (``"logit"``) or s = p (``"prob"``). The key is d itself for ``"prob"`` and
    exp(d) = p_ŷ / p_c (resp. p_ŷ / p_(2)) for ``"logit"``: log is increasing, so the order is the
    same and the N·C logarithms are never taken. Keys are in the probabilities' dtype (float32 from
    the engine). ŷ, p_ŷ and p_(2) come from one pass over row blocks: O(N) memory, O(N·C) time.
    """

    def __init__(self, probs: np.ndarray, score: str, norms: np.ndarray | None = None):
        p = np.asarray(probs)
        if p.dtype not in (np.float32, np.float64):
            p = p.astype(np.float32)
        self.p, self.score = p, score
        self.floor = np.finfo(p.dtype).tiny  # p = 0 (underflow) → tiny before a ratio: far, and finite
        n, c = p.shape
        self.yhat = p.argmax(axis=1)
        self.top1 = p[np.arange(n), self.yhat]
        # with the head's pairwise norms: d = (log p_ŷ − log p_c) / ‖w_ŷ − w_c‖, kept in float64 (no monotone
        # shortcut exists across rows of different ŷ); a zero norm (equal head rows) is no boundary: +inf
        self.inv_norm = None if norms is None else np.where(norms > 0, 1.0 / np.maximum(norms, 1e-300), np.inf)
        self.dtype = p.dtype if norms is None else np.dtype(np.float64)
        if c < 2:  # one class: no boundary at all, the margin is +inf for every row
            self.margin = np.full(n, np.inf, self.dtype)
        elif self.inv_norm is not None:
            self.margin = np.empty(n, np.float64)
            for s in range(0, n, _CHUNK_ROWS):
                e = min(n, s + _CHUNK_ROWS)
                self.margin[s:e] = self._normalised(s, e).min(axis=1)
        else:
            top2 = np.empty(n, dtype=p.dtype)
            for s in range(0, n, _CHUNK_ROWS):
                block = p[s:s + _CHUNK_ROWS].copy()
                block[np.arange(len(block)), self.yhat[s:s + _CHUNK_ROWS]] = -np.inf
                top2[s:s + len(block)] = block.max(axis=1)
            self.margin = self._key(top2[:, None], self.top1[:, None])[:, 0]
        order = np.argsort(self.yhat, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(self.yhat, minlength=c))])
        self.predicted_as = [order[bounds[i]:bounds[i + 1]] for i in range(c)]

    def _key(self, pc: np.ndarray, top1: np.ndarray) -> np.ndarray:
        """Key of the gap from ``top1`` down to ``pc`` (broadcast), computed in place in ``pc``."""
        if self.score == "logit":
            np.maximum(pc, self.floor, out=pc)
            return np.divide(top1, pc, out=pc)
        return np.subtract(top1, pc, out=pc)

    def _log_gap(self, pc: np.ndarray, top1: np.ndarray) -> np.ndarray:
        """log p_ŷ − log p_c (= z_ŷ − z_c) in float64, broadcast, p floored at the dtype's tiny."""
        return np.log(np.maximum(top1, self.floor).astype(np.float64)) - np.log(np.maximum(pc, self.floor).astype(np.float64))

    def _normalised(self, r0: int, r1: int) -> np.ndarray:
        """(z_ŷ − z_c) / ‖w_ŷ − w_c‖ for rows r0 ≤ r < r1 and every class c ≠ ŷ; +inf at c = ŷ."""
        assert self.inv_norm is not None
        yhat = self.yhat[r0:r1]
        with np.errstate(invalid="ignore"):  # 0 · inf at c = ŷ, overwritten below
            key = self._log_gap(self.p[r0:r1], self.top1[r0:r1, None]) * self.inv_norm[yhat]
        key[np.isnan(key)] = np.inf  # 0 · inf: a zero gap to a class whose head row equals ŷ's
        key[np.arange(r1 - r0), yhat] = np.inf
        return key

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Keys of rows r0 ≤ r < r1 for every class: an (r1 − r0, C) array (a contiguous read)."""
        if self.inv_norm is not None:
            key = self._normalised(r0, r1)
        else:
            key = self._key(self.p[r0:r1].copy(), self.top1[r0:r1, None])
        key[np.arange(r1 - r0), self.yhat[r0:r1]] = self.margin[r0:r1]
        return key

    def columns(self, c0: int, c1: int) -> np.ndarray:
        """Keys for classes c0 ≤ c < c1: a (c1 − c0, N) array (a strided read of ``p``)."""
        if self.inv_norm is not None:
            with np.errstate(invalid="ignore"):  # 0 · inf at c = ŷ: the margin, set below
                key = self._log_gap(self.p[:, c0:c1].T, self.top1[None, :]) * self.inv_norm[self.yhat, c0:c1].T
            key[np.isnan(key)] = np.inf
        else:
            key = self._key(self.p[:, c0:c1].T.copy(), self.top1[None, :])  # a copy even when C = 1
        for c in range(c0, c1):
            rows = self.predicted_as[c]
            key[c - c0, rows] = self.margin[rows]
        return key

    def distances(self, key: np.ndarray) -> np.ndarray:
        """d = log(key) (in float64, which keeps distinct float32 keys distinct) or key (``"prob"``, or
        normalised keys, which are already distances)."""
        if self.inv_norm is not None:
            return key
        return np.log(key.astype(np.float64)) if self.score == "logit" else key


def _smallest(col: np.ndarray, m: int) -> np.ndarray:
    """The m rows with the smallest values, ordered by (value, row): ties go to the lower row.

    O(N) and no partition of the whole column: the rows are dealt into ≥ m interleaved groups
    (row i into group i mod g); the m-th smallest group minimum is a value with at least m rows
    at or below it, so every row of the answer is ≤ it. Only those candidates are sorted.
    """
    n = len(col)
    if m >= n:
        return np.argsort(col, kind="stable")
    groups = min(n, 4 * m)
    mins = col[:n - n % groups].reshape(-1, groups).min(axis=0)
    cut = np.partition(mins, m - 1)[m - 1]
    cand = np.flatnonzero(col <= cut)  # in row order
    return cand[np.argsort(col[cand], kind="stable")[:m]]


def _candidates(keys: _BoundaryKeys, m: np.ndarray) -> list[np.ndarray]:
    """For every class c, its m[c] rows of smallest key ordered by (key, row), from two passes
    over row blocks of ``p`` (contiguous reads; the same bound as ``_smallest``, for all classes).

    Pass 1: rows are dealt into g ≥ max(m) interleaved groups (row i into group i mod g) and each
    class's group minima are kept, a (g, C) array; the m[c]-th smallest of class c's minima is a
    cut with at least m[c] rows at or below it. Pass 2 keeps the rows strictly below the cut and
    the first m[c] rows (lowest first) equal to it, so saturated probabilities (many equal keys)
    cannot flood the candidates. Memory: O(g·C) plus the candidates, about C·m of them.
    """
    n, num_classes = keys.p.shape
    g = int(min(n, 4 * m.max()))
    block = g * max(1, _BLOCK_ELEMS // (g * num_classes))
    mins = np.full((g, num_classes), np.inf, dtype=keys.dtype)
    usable = n - n % g
    for r0 in range(0, usable, block):
        r1 = min(r0 + block, usable)
        np.minimum(mins, keys.rows(r0, r1).reshape(-1, g, num_classes).min(axis=0), out=mins)
    mins.sort(axis=0)
    cut = np.where(m > 0, mins[np.maximum(m, 1) - 1, np.arange(num_classes)], -np.inf).astype(mins.dtype)
    ties = np.zeros(num_classes, dtype=np.int64)
    found_rows, found_class, found_key = [], [], []
    for r0 in range(0, n, block):
        key = keys.rows(r0, min(r0 + block, n))
        r, c = np.divmod(np.flatnonzero(key <= cut), num_classes)  # row-major: row order within a class
        k = key[r, c]
        tie = np.flatnonzero(k == cut[c])
        if len(tie):  # the i-th row equal to class c's cut (over all blocks so far) is kept if i < m[c]
            tc = c[tie]
            by_class = np.argsort(tc, kind="stable")
            first = np.searchsorted(tc[by_class], tc[by_class])
            rank = np.empty(len(tie), dtype=np.int64)
            rank[by_class] = np.arange(len(tie)) - first
            rank += ties[tc]
            ties += np.bincount(tc, minlength=num_classes)
            drop = tie[rank >= m[tc]]
            if len(drop):
                keep = np.ones(len(r), dtype=bool)
                keep[drop] = False
                r, c, k = r[keep], c[keep], k[keep]
        found_rows.append(r + r0)
        found_class.append(c)
        found_key.append(k)
    rows, cls, key = (np.concatenate(a) for a in (found_rows, found_class, found_key))
    order = np.lexsort((rows, key, cls))
    rows, cls = rows[order], cls[order]
    starts = np.searchsorted(cls, np.arange(num_classes + 1))
    return [rows[starts[c]:starts[c] + m[c]] for c in range(num_classes)]


def head_norms(weights: np.ndarray) -> np.ndarray:
    """‖w_i − w_j‖ for every pair of rows of the linear head's weight matrix W (C, d): a (C, C) array."""
    w = np.asarray(weights, dtype=np.float64)
    sq = np.einsum("ij,ij->i", w, w)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (w @ w.T), 0.0))


def _checked_norms(norms: np.ndarray | None, score: str, num_classes: int) -> np.ndarray | None:
    if norms is None:
        return None
    norms = np.asarray(norms, dtype=np.float64)
    if score != "logit":
        raise AlbenchError("base: the per-pair normaliser ‖w_ŷ − w_c‖ divides logit gaps; it needs score='logit'.")
    if norms.shape != (num_classes, num_classes):
        raise AlbenchError(f"base: norms must be ({num_classes}, {num_classes}) for {num_classes} classes, "
                           f"got {norms.shape}.")
    return norms


def boundary_distances(probs: np.ndarray, score: str = "logit", norms: np.ndarray | None = None) -> np.ndarray:
    """The dense (N, C) matrix of d(x, c) (see ``_BoundaryKeys``; with ``norms`` = ``head_norms(W)``, the
    logit gaps are divided by ‖w_ŷ − w_c‖): for inspection and tests on small inputs;
    ``balanced_selection`` never forms it."""
    if score not in SCORES:
        raise AlbenchError(f"base: score={score!r}; allowed: {', '.join(repr(s) for s in SCORES)}.")
    keys = _BoundaryKeys(probs, score, _checked_norms(norms, score, np.asarray(probs).shape[1]))
    return keys.distances(keys.columns(0, keys.p.shape[1])).T


def balanced_selection(probs: np.ndarray, quotas: np.ndarray, score: str = "logit",
                       norms: np.ndarray | None = None) -> np.ndarray:
    """Rows picked round-robin over classes, ``quotas[c]`` for class c, in pick order.

    Pass t = 0, 1, … visits, in ascending class index, every class c with quotas[c] > t; the
    visited class takes its not-yet-chosen row of smallest d(x, c) (ties → lower row). Returns
    sum(quotas) distinct rows. Memory: O(N) plus a candidate list per class (its 2·quota + 16
    closest rows, ``_candidates``; doubled, from the class's column, when conflicts with other
    classes exhaust it), never the (N, C) matrix. Time O(N·C).
    """
    if score not in SCORES:
        raise AlbenchError(f"base: score={score!r}; allowed: {', '.join(repr(s) for s in SCORES)}.")
    p = np.asarray(probs)
    if p.ndim != 2:
        raise AlbenchError(f"base: probs must be (N, classes), got shape {p.shape}.")
    n, num_classes = p.shape
    quotas = np.asarray(quotas, dtype=np.int64)
    if quotas.shape != (num_classes,) or (quotas < 0).any():
        raise AlbenchError(f"base: quotas must be {num_classes} non-negative counts, got {quotas.tolist()}.")
    k = int(quotas.sum())
    if k > n:
        raise AlbenchError(f"base: asked for {k} points among {n} unlabelled points.")
    if k == 0:
        return np.zeros(0, dtype=np.int64)

    keys = _BoundaryKeys(p, score, _checked_norms(norms, score, num_classes))
    active = np.flatnonzero(quotas > 0)
    size = np.where(quotas > 0, np.minimum(n, 2 * quotas + 16), 0)
    cand = _candidates(keys, size)
    ptr = np.zeros(num_classes, dtype=np.int64)
    chosen = np.zeros(n, dtype=bool)
    picks: list[int] = []
    for t in range(int(quotas.max())):
        for c in active[quotas[active] > t].tolist():
            while True:
                lst, i = cand[c], int(ptr[c])
                while i < len(lst) and chosen[lst[i]]:
                    i += 1
                if i < len(lst):
                    break
                # conflicts used up class c's list: its closest rows again, twice as many (the old
                # list is a prefix of the new one, all chosen); N rows always hold a free one
                ptr[c] = i
                size[c] = min(n, 2 * size[c])
                cand[c] = _smallest(keys.columns(c, c + 1)[0], int(size[c]))
            ptr[c] = i + 1
            chosen[lst[i]] = True
            picks.append(int(lst[i]))
    return np.asarray(picks, dtype=np.int64)


def class_quotas(k: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """k // C for every class, plus one for k mod C classes drawn uniformly without replacement
    from ``rng`` (no rng draw when C divides k)."""
    quotas = np.full(num_classes, k // num_classes, dtype=np.int64)
    r = k % num_classes
    if r:
        quotas[rng.choice(num_classes, r, replace=False)] += 1
    return quotas


@register_method("base")
class BalancedSelection(QueryStrategy):
    """BASE (Emam, Chu, Chiang, Czaja, Leapman, Goldblum & Goldstein, "Active Learning at the
    ImageNet Scale", arXiv 2111.12880, 2021): balanced selection of k ≈ k/C points per class,
    each class c taking the unlabelled points closest to its decision boundary.

    Distance, as the authors' code computes it (``mase_sampler.py`` and ``base_sampler.py`` in
    github.com/zeyademam/active_learning): for the linear head z = Wh + b and predicted class ŷ(x), the
    distance in feature space from h(x) to the pairwise boundary between ŷ and c is
    r(x, c) = (z_ŷ − z_c) / ‖w_ŷ − w_c‖; the class-c distance is d(x, c) = r(x, c) for c ≠ ŷ(x) and
    d(x, ŷ) = min_j r(x, j) (the point's nearest boundary). Selection (``base_sampler.py``): every
    class takes its k/C unchosen points of smallest d(·, c).

    Here, with ``score="logit"`` (default), s_c = log p_c, so s_ŷ − s_c = z_ŷ − z_c exactly (the
    softmax's per-row constant cancels), and ``normaliser`` (default: on with ``"logit"``) divides it by
    ‖w_ŷ − w_c‖, the rows of the task model's last linear layer (read from ``view.learner``,
    ``Needs(learner=True)``): d(x, c) = (s_ŷ − s_c) / ‖w_ŷ − w_c‖ and d(x, ŷ) = min_{j≠ŷ} d(x, j), the
    authors' distance (a zero norm, two equal head rows, is no boundary: +inf, as their NaN → inf).
    ``normaliser: false`` (albench's version 1) drops the normaliser: d(x, c) = s_ŷ − s_c,
    d(x, ŷ) = s_ŷ − s_(2), from the probabilities alone (``Needs(probs=True)``), which is what the
    one-shot scenario can run (its source features are not the input of a linear head over the
    classes of P_S, and it has no task model); a one-shot suite must say ``normaliser: false``.
    ``score="prob"`` uses s = p instead (d = p_ŷ − p_c, the margin in probability space; no
    normaliser). Probabilities that underflowed to 0 are floored at the dtype's smallest normal number
    (1.2e-38 in float32) before the ratio or the logarithm: far from the boundary, and finite. Without
    the normaliser, points are ranked by p_ŷ/p_c = exp(d), the same order, so no logarithm is taken at
    scale; with it, the logarithms are taken in row blocks (O(N·C) time, as before).

    Batch (``balanced_selection``): round-robin over classes in ascending index, each visit taking
    the class's closest not-yet-chosen point, ties to the lower pool position. Differences from the
    official code: it fills class 0's whole quota, then class 1's, … (a point wanted by two classes
    goes to the lower class index there, to the earlier pass here), and gives the k mod C extra
    points to classes 0 … (k mod C) − 1; here those classes are drawn from ``rng``
    (``class_quotas``), so small batches (k < C) are not biased to low class indices. Classes are
    those of ``view.probs`` (the source model's in one-shot scenarios). Cost: O(N·C) time and O(N)
    extra memory besides one candidate list per class; no (N, C) distance matrix is formed.
    """

    version = "2"  # 2: the per-pair normaliser ‖w_ŷ − w_c‖ by default (1: none)

    def __init__(self, score: str = "logit", normaliser: bool | None = None):
        if score not in SCORES:
            raise AlbenchError(f"base: score={score!r} is not a boundary score; allowed: "
                               f"{', '.join(repr(s) for s in SCORES)} (log-probabilities = logit margins, "
                               f"or probabilities).")
        if normaliser is not None and not isinstance(normaliser, bool):
            raise AlbenchError(f"base: normaliser must be true, false or null (on with score 'logit'), "
                               f"got {normaliser!r}.")
        if normaliser and score != "logit":
            raise AlbenchError("base: normaliser: true divides logit gaps by ‖w_ŷ − w_c‖; it needs score: logit "
                               f"(got score {score!r}).")
        self.score = score
        self.normaliser = normaliser

    @property
    def normalised(self) -> bool:
        """Whether the logit gaps are divided by ‖w_ŷ − w_c‖ (``normaliser``, default: with ``"logit"``)."""
        return self.score == "logit" if self.normaliser is None else self.normaliser

    def needs(self) -> Needs:
        return Needs(probs=True, learner=self.normalised)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        probs = view.require("probs", "base")
        learner: Any = view.require("learner", "base") if self.normalised else None
        norms = head_norms(learner.head_weights()) if learner is not None else None
        quotas = class_quotas(k, probs.shape[1], rng)
        return view.unlabelled[balanced_selection(probs, quotas, score=self.score, norms=norms)]
