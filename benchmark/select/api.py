"""QueryStrategy (an AL method), what it declares it needs, and the read-only view it selects from.

A method's constructor stores hyperparameters only; ``select(view, k, rng)`` returns k distinct
pool positions from ``view.unlabelled``. The loop computes only what ``needs()`` declares, once per
round, and times it as the *infer* phase. The view never holds labels the oracle has not revealed.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.core.errors import AlbenchError


@dataclass(frozen=True)
class Needs:
    """What the loop must infer for a method before ``select``.

    probs: softmax outputs on the unlabelled pool. features: pooled descriptors of labelled and
    unlabelled points (``feature_layers`` picks layers; None = the model's default).
    mc_dropout: K stochastic passes on the unlabelled pool (the learner then trains with dropout).
    validation: the balanced validation set (images, trusted labels, probs, features).
    images: raw unlabelled images. learner: the trained Learner itself (for gradients).
    ensemble: train this many members (the task model is member 0; the others start from their own
    seeds) in the *train* phase and give their softmax outputs on the pool (Beluch et al. 2018).
    hidden_labels: the true labels of the unlabelled pool. Only for oracle ablations: the loop
    refuses it unless the method sets ``uses_hidden_labels = True``.
    embeddings: the penultimate representation h(x), the classifier's input, of the unlabelled and
    labelled points (BADGE's gradient embedding is (p − onehot(ŷ)) ⊗ h). In one-shot scenarios
    it is the source model's F_S. labelled_probs: softmax outputs on the labelled points too.
    ssl_embeddings: a self-supervised embedding of the pool (``benchmark.learn.contrastive``), learnt once
    per setting from the unlabelled images only, before any label; the same in every round and for
    every method of the setting (TypiClust's and ProbCover's representation). Scenarios that have no
    pool images to learn it from (one-shot) refuse it when the suite loads.
    """

    probs: bool = False
    features: bool = False
    embeddings: bool = False
    labelled_probs: bool = False
    feature_layers: tuple[str, ...] | None = None
    mc_dropout: int = 0
    validation: bool = False
    images: bool = False
    learner: bool = False
    ensemble: int = 0
    hidden_labels: bool = False
    oracle: bool = False  # label points one at a time inside select (WACV balancing, GALAXY): view.reveal
    ssl_embeddings: bool = False


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class SelectionView:
    """What a method sees in one round. Arrays are read-only; rows align with the index arrays.

    ``unlabelled``/``labelled`` are pool positions. ``labelled_y`` are labels the oracle revealed.
    """

    unlabelled: np.ndarray
    labelled: np.ndarray
    labelled_y: np.ndarray
    num_classes: int
    round: int
    probs: np.ndarray | None = None  # (n_unlabelled, classes)
    labelled_probs: np.ndarray | None = None  # (n_labelled, classes)
    embeddings: np.ndarray | None = None  # (n_unlabelled, d): the classifier's input h(x)
    labelled_embeddings: np.ndarray | None = None  # (n_labelled, d)
    ssl_embeddings: np.ndarray | None = None  # (n_unlabelled, d'): the self-supervised embedding
    labelled_ssl_embeddings: np.ndarray | None = None  # (n_labelled, d')
    features: np.ndarray | None = None  # (n_unlabelled, d)
    labelled_features: np.ndarray | None = None  # (n_labelled, d)
    mc_probs: np.ndarray | None = None  # (K, n_unlabelled, classes)
    images: np.ndarray | None = None  # (n_unlabelled, C, H, W) uint8
    labelled_images: np.ndarray | None = None
    val_y: np.ndarray | None = None
    val_probs: np.ndarray | None = None
    val_features: np.ndarray | None = None
    val_images: np.ndarray | None = None
    ensemble_probs: np.ndarray | None = None  # (E, n_unlabelled, classes)
    hidden_y: np.ndarray | None = None  # true labels of the unlabelled pool (oracle ablations only)
    learner: Any = None
    oracle: Any = None  # reveal(positions) -> labels, counted against the budget (Needs.oracle)
    counter: Any = None  # PassCounter: methods that run their own networks (VAAL) count passes here
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("unlabelled", "labelled", "labelled_y", "probs", "labelled_probs", "embeddings",
                     "labelled_embeddings", "ssl_embeddings", "labelled_ssl_embeddings", "features",
                     "labelled_features",
                     "mc_probs", "images", "labelled_images", "val_y", "val_probs", "val_features", "val_images",
                     "ensemble_probs", "hidden_y"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))

    def reveal(self, positions: np.ndarray) -> np.ndarray:
        """True labels of these pool positions, counted against this round's labels (``Needs(oracle=True)``)."""
        if self.oracle is None:
            raise AlbenchError("view.reveal needs the oracle: declare Needs(oracle=True).")
        labels: np.ndarray = self.oracle(positions)
        return labels

    def require(self, name: str, method: str) -> np.ndarray:
        value = getattr(self, name)
        if value is None:
            raise AlbenchError(f"Method {method!r} read view.{name} but did not declare it in needs().")
        return value


class QueryStrategy:
    """Base class. Subclasses set ``version``, store parameters in ``__init__``, implement ``select``.

    ``uses_hidden_labels`` must be True only for oracle ablations; reports mark such methods.
    ``first_round``: ``"method"`` (the method selects round 0 too) or ``"random"`` (round 0's batch is
    drawn uniformly at random from the cell's paired seed; the method takes over from round 1): the
    FK paper's official code does the latter for its uncertainty baselines, whose first batch would
    otherwise come from an untrained classifier. Methods that offer it take it as a parameter.
    ``pool_pseudo_labels_``: a method that labels the pool itself (the FK kernel's S) may leave those
    labels here in ``select``, aligned with ``view.unlabelled``; the harness scores them against the
    hidden labels into the round's ``pseudo_label_accuracy`` (a diagnostic; the method never sees them).
    Attributes ending in ``_`` are fitted state, not parameters (scikit-learn's convention).
    """

    version: str = "1"
    uses_hidden_labels: bool = False
    first_round: str = "method"
    pool_pseudo_labels_: np.ndarray | None = None

    def needs(self) -> Needs:
        return Needs()

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and not k.endswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


FIRST_ROUND = ("method", "random")


def check_first_round(value: str, method: str) -> str:
    """``value`` if it is a valid ``first_round``, else an AlbenchError saying what is allowed."""
    if value not in FIRST_ROUND:
        raise AlbenchError(f"{method}: first_round must be one of {FIRST_ROUND} (who picks round 0's batch), "
                           f"got {value!r}.")
    return value


EMBEDDINGS = ("self_supervised", "learner")


def check_embedding(value: str, method: str) -> str:
    """``value`` if it is a valid ``embedding`` (the representation a method selects in), else an
    AlbenchError saying what is allowed."""
    if value not in EMBEDDINGS:
        raise AlbenchError(f"{method}: embedding must be one of {EMBEDDINGS} (self_supervised: the pool's "
                           f"self-supervised embedding; learner: the task model's representation), got {value!r}.")
    return value


def embedding_needs(embedding: str, learner: Needs) -> Needs:
    """The needs of a method that selects in ``embedding``: ``learner`` (what it asks of the task model
    for the ``learner`` choice) or the self-supervised embedding alone."""
    return learner if embedding == "learner" else Needs(ssl_embeddings=True)


def selection_space(view: SelectionView, embedding: str, learner_field: str,
                    method: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(unlabelled rows, labelled rows or None) of the representation a method selects in: the
    self-supervised embedding, or the view's ``learner_field`` (``embeddings`` or ``features``)."""
    field = "ssl_embeddings" if embedding == "self_supervised" else learner_field
    labelled = getattr(view, f"labelled_{field}")
    return view.require(field, method), labelled


def embedding_label(needs: Needs, scenario_kind: str = "iterative") -> str:
    """What a method with these needs selects in, as reports state it: ``self-supervised``, ``learner``
    (the task model's representation; ``source`` in a one-shot scenario: the source model's F_S), both
    (BADGE's self-supervised round 0), or ``–`` (scores only)."""
    learner = "source" if scenario_kind == "oneshot" else "learner"
    parts = (["self-supervised"] if needs.ssl_embeddings else []) + ([learner] if needs.embeddings or needs.features else [])
    return " + ".join(parts) or "–"


def top_k(scores: np.ndarray, k: int, candidates: np.ndarray) -> np.ndarray:
    """The k candidates with the highest scores; ties broken by lower pool position (stable)."""
    order = np.lexsort((candidates, -np.asarray(scores, dtype=np.float64)))
    return candidates[order[:k]]


def validate_selection(chosen: np.ndarray, view: SelectionView, k: int, method: str) -> np.ndarray:
    chosen = np.asarray(chosen).astype(np.int64).ravel()
    if len(chosen) != k:
        raise AlbenchError(f"Method {method!r} returned {len(chosen)} indices, expected {k}.")
    if len(np.unique(chosen)) != k:
        raise AlbenchError(f"Method {method!r} returned duplicate indices.")
    if not np.isin(chosen, view.unlabelled).all():
        raise AlbenchError(f"Method {method!r} returned indices that are not in view.unlabelled.")
    return chosen
