"""GALAXY (Zhang, Katz-Samuels & Nowak, ICML 2022): S² bisection on one linear graph per class."""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView

FALLBACKS = ("random", "score")


def _missing_rank(ranks: np.ndarray, j: int) -> int:
    """The j-th (0-based) integer ≥ 0 that is not in the sorted, distinct array ``ranks``."""
    shifted = ranks - np.arange(len(ranks))  # non-decreasing: how many gaps precede each labelled rank
    return int(j + np.searchsorted(shifted, j, side="right"))


def s2_query(ranks: np.ndarray, positive: np.ndarray, n: int, rng: np.random.Generator,
             fallback: str = "random") -> tuple[int, str]:
    """One query on a path of n nodes 0..n−1 (one class's linear graph), given the sorted, distinct ranks of
    its labelled nodes and whether each is a positive (y == c). Returns (rank to query, rule):

    ``"bisect"``: S² (Dasarathy et al. 2015) on the path: a shortest path between oppositely labelled nodes runs
    between two labelled nodes adjacent in rank with different labels; its length is the number of unlabelled
    nodes g ≥ 1 between them. The shortest such cut is bisected (ties: uniform, ``rng``); the node queried is
    the (g+2)//2-th from the negative end, i.e. the exact middle for odd g and the middle node nearer the
    positive end for even g (the authors' ``path[len(path) // 2]``, path listed from the negative end).
    ``"boundary"``: both labels are known but every cut is closed (no unlabelled node between oppositely
    labelled neighbours). The authors then connect nodes up to m apart (order-m graph) until a path exists; the
    first such path has two edges, through the unlabelled node u that minimises max(d₊(u), d₋(u)), its rank
    distances to the nearest positive and negative. That node is queried (ties: uniform, ``rng``).
    ``"random"`` / ``"score"``: the path lacks one of the two labels (no path exists at any order): a uniformly
    random unlabelled node (the authors' code, and S²'s random phase), or with ``fallback="score"`` the
    unlabelled node of highest rank when no positive is known (the most likely positive) and of lowest rank
    when no negative is known.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    positive = np.asarray(positive, dtype=bool)
    if len(ranks) >= n:
        raise AlbenchError(f"GALAXY: no unlabelled node left on a path of {n} nodes.")
    has_pos, has_neg = bool(positive.any()), bool((~positive).any())
    if has_pos and has_neg:
        gaps = np.diff(ranks) - 1
        cut = (positive[1:] != positive[:-1]) & (gaps >= 1)
        if cut.any():
            best = np.flatnonzero(cut & (gaps == gaps[cut].min()))
            i = int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
            step = (int(gaps[i]) + 2) // 2
            return (int(ranks[i]) + step if not positive[i] else int(ranks[i + 1]) - step), "bisect"
        cand = np.unique(np.concatenate([ranks - 1, ranks + 1]))
        cand = cand[(cand >= 0) & (cand < n)]
        at = np.searchsorted(ranks, cand)
        cand = cand[(at >= len(ranks)) | (ranks[np.minimum(at, len(ranks) - 1)] != cand)]  # unlabelled only
        far = np.maximum(_distance_to(ranks[positive], cand), _distance_to(ranks[~positive], cand))
        best = cand[far == far.min()]
        return (int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])), "boundary"
    if fallback == "score":
        if not has_pos:  # the unlabelled node of highest rank
            top = ranks[::-1] == (n - 1 - np.arange(len(ranks)))
            return n - 1 - (int(np.argmin(top)) if not top.all() else len(ranks)), "score"
        low = ranks == np.arange(len(ranks))  # no negative: the unlabelled node of lowest rank
        return (int(np.argmin(low)) if not low.all() else len(ranks)), "score"
    return _missing_rank(ranks, int(rng.integers(n - len(ranks)))), "random"


def _distance_to(sorted_ranks: np.ndarray, query: np.ndarray) -> np.ndarray:
    """|query − nearest element of sorted_ranks| for every query (sorted_ranks non-empty)."""
    at = np.searchsorted(sorted_ranks, query)
    left = sorted_ranks[np.maximum(at - 1, 0)]
    right = sorted_ranks[np.minimum(at, len(sorted_ranks) - 1)]
    return np.minimum(np.abs(query - left), np.abs(right - query))


def top_two(probs: np.ndarray, chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """argmax, largest and second largest probability per row, in chunks (float64 for float64 input,
    else float32)."""
    n = len(probs)
    dtype = np.float64 if np.asarray(probs[:1]).dtype == np.float64 else np.float32
    arg = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=dtype)
    second = np.zeros(n, dtype=dtype)
    for s in range(0, n, chunk_rows):
        p = np.asarray(probs[s:s + chunk_rows], dtype=dtype)
        arg[s:s + len(p)] = p.argmax(1)
        if p.shape[1] >= 2:
            part = np.partition(p, -2, axis=1)
            first[s:s + len(p)], second[s:s + len(p)] = part[:, -1], part[:, -2]
        else:
            first[s:s + len(p)] = p[:, 0]
    return arg, first, second


def class_margin(probs: np.ndarray, top: tuple[np.ndarray, np.ndarray, np.ndarray], c: int) -> np.ndarray:
    """δ_c = p_c − max_{j≠c} p_j for every row (``score="margin"``): class c's one-vs-rest margin."""
    arg, first, second = top
    return np.asarray(probs[:, c], dtype=np.float32) - np.where(arg == c, second, first)


def class_top_gap(probs: np.ndarray, top: tuple[np.ndarray, np.ndarray, np.ndarray], c: int) -> np.ndarray:
    """p_c − max_j p_j + 10⁻⁸ · max_j p_j for every row, in float64 (``score="top"``): the authors' code
    (``create_linear_graphs`` in ``multiclass/multi_linear_graph.py``). It equals the margin for a point
    not predicted c; the points predicted c, all at gap 0, are ordered by 10⁻⁸ · p_c, i.e. by p_c."""
    arg, first, _ = top
    most = first.astype(np.float64)
    gap = np.where(arg == c, 0.0, np.asarray(probs[:, c], dtype=np.float64) - most)  # exactly 0 where c is ŷ
    return gap + 1e-8 * most


SCORES = {"top": class_top_gap, "margin": class_margin}


@register_method("galaxy")
class Galaxy(QueryStrategy):
    """GALAXY (Zhang, Katz-Samuels & Nowak, "GALAXY: Graph-based Active Learning at the eXtrEme", ICML 2022),
    with the one-vs-rest linear graphs of its multi-class version; details checked against the authors' code
    (github.com/jifanz/GALAXY: ``multiclass/multi_linear_graph.py``, ``graph.py``, ``s2algorithm.py``).

    Graph construction (per round): for every class c, all pool points, labelled and unlabelled, are sorted by
    a score of class c (softmax p of the current model) into a path; a node's label on it is 1{y = c}. The
    score, ``score``: ``"top"`` (default) is the authors' code, p_c − max_j p_j + 10⁻⁸ · max_j p_j (the
    points predicted c come last on the path, ordered by p_c); ``"margin"`` is the one-vs-rest margin
    δ_c = p_c − max_{j≠c} p_j (the points predicted c ordered by p_c − p_(2)). The two orders differ only
    among the points predicted c. The paper's own text (arXiv 2202.01402) was not available to check when
    this default was set, so it is what the authors ran: the code behind the paper's results. Query loop (k times per round, labels revealed one at a time through ``view.oracle``, so each
    query sees the previous answers): classes are visited round-robin, one per query; on class c's path the
    S² bisection step of ``s2_query`` picks the unlabelled node at the middle of the shortest path between
    oppositely labelled nodes; its label is revealed and added to every class's path. Cost: one O(N log N)
    sort per class (cached while ``cache_mb`` allows; otherwise redone at each visit) and O(L log L) per
    query, L the labelled count; no N×N or per-query O(C·N) work.

    Differences from the paper / the authors' code: (1) with ``score="margin"`` (albench's default before
    version 2) the points predicted c are ordered by their margin, not by p_c as in the authors' code. (2) When the visited class
    has no path, the authors raise the order m of all graphs by one (connect nodes up to m apart; it stays raised
    for the rest of the batch, and also rises for classes lacking a label) and search once more. Here each class
    uses the smallest order at which it has a path: open cuts (order 1) are always bisected first, and a class
    whose cuts are all closed queries the node of rule "boundary" of ``s2_query``, the midpoint of the two-edge
    path that appears at that smallest order; so a class's queries do not depend on how often other classes
    failed. Ties between equally short paths, arbitrary in the authors' priority queue, are broken uniformly with
    ``rng``. (3) Without a path at any order (class c lacks positives or negatives, e.g. with an empty labelled
    set) the authors query a uniformly random unlabelled point (default, ``fallback="random"``);
    ``fallback="score"`` queries the unlabelled point of highest score instead when no positive is known (lowest
    when no negative is). (4) The round-robin class pointer starts at class 0 in the cell's first round and
    continues across rounds (``self.next_class_``), where the authors restart at class 0 every batch (which never
    visits classes ≥ k when k < #classes). (5) The paper's initial set is random; here it is the scenario's
    initial labelled set (possibly empty).
    """

    version = "2"  # 2: score "top" (the authors' code) by default; 1 sorted by the margin ("margin")
    contract_params: dict = {}

    def __init__(self, fallback: str = "random", cache_mb: float = 2048.0, score: str = "top"):
        if fallback not in FALLBACKS:
            raise AlbenchError(f"galaxy: fallback must be one of {FALLBACKS} (what to query on a class path with "
                               f"only one label known); got {fallback!r}.")
        if not (isinstance(cache_mb, (int, float)) and cache_mb >= 0):
            raise AlbenchError(f"galaxy: cache_mb must be a number >= 0 (MiB of per-class sort orders kept "
                               f"during a selection); got {cache_mb!r}.")
        if score not in SCORES:
            raise AlbenchError(f"galaxy: score must be one of {tuple(SCORES)} (top: p_c − max_j p_j, the authors' "
                               f"code; margin: p_c − max_(j≠c) p_j); got {score!r}.")
        self.fallback = fallback
        self.cache_mb = cache_mb
        self.score = score

    def needs(self) -> Needs:
        return Needs(probs=True, labelled_probs=True, oracle=True)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        oracle = view.oracle
        if oracle is None:
            raise AlbenchError("galaxy reveals labels one at a time inside select and needs the oracle "
                               "(Needs(oracle=True)); this view has view.oracle = None.")
        pu = view.require("probs", "galaxy")
        pl = view.require("labelled_probs", "galaxy")
        n_u, n_l, classes = len(view.unlabelled), len(view.labelled), pu.shape[1]
        if classes != view.num_classes:
            raise AlbenchError(f"galaxy sorts the pool by each class's probability: it needs probs over the "
                               f"{view.num_classes} classes being labelled, got {classes} columns.")
        if k > n_u:
            raise AlbenchError(f"galaxy: asked for {k} points but only {n_u} are unlabelled.")
        n = n_u + n_l  # node i < n_u: unlabelled row i; node n_u + j: labelled row j
        top_u, top_l = top_two(pu), top_two(pl)
        known = np.empty(n_l + k, dtype=np.int64)
        known[:n_l] = n_u + np.arange(n_l)
        known_y = np.empty(n_l + k, dtype=np.int64)
        known_y[:n_l] = view.labelled_y
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        per_class = n * 2 * (4 if n < 2**31 else 8)
        max_cached = int(self.cache_mb * 2**20 // max(per_class, 1))
        c = int(getattr(self, "next_class_", 0)) % classes
        rules: dict[str, int] = {}
        chosen = np.empty(k, dtype=np.int64)
        for t in range(k):
            order, rank = cache.get(c) or self._sort(pu, pl, top_u, top_l, c, SCORES[self.score])
            if c not in cache and len(cache) < max_cached:
                cache[c] = (order, rank)
            m = n_l + t
            r = rank[known[:m]]
            srt = np.argsort(r)
            q, rule = s2_query(r[srt], known_y[:m][srt] == c, n, rng, self.fallback)
            node = int(order[q])
            rules[rule] = rules.get(rule, 0) + 1
            chosen[t] = view.unlabelled[node]
            known[m] = node
            known_y[m] = int(np.asarray(oracle(np.array([chosen[t]], dtype=np.int64))).ravel()[0])
            c = (c + 1) % classes
        self.next_class_ = c
        self.rules_ = rules  # how many queries each rule of s2_query made in the last selection
        return chosen

    @staticmethod
    def _sort(pu, pl, top_u, top_l, c: int, class_score) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        score = np.concatenate([class_score(pu, top_u, c), class_score(pl, top_l, c)])
        dtype = np.int32 if len(score) < 2**31 else np.int64
        order = np.argsort(score, kind="stable").astype(dtype)
        rank = np.empty(len(score), dtype=dtype)
        rank[order] = np.arange(len(score), dtype=dtype)
        return order, rank
