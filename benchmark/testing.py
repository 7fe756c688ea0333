"""Conformance checks for AL methods, in the spirit of scikit-learn's ``check_estimator``.

``check_method(factory)`` runs every check on a method class (or a registry factory, such as a
``+bal`` twin) over a tiny synthetic cell wired exactly as ``run_cell`` wires a round, and raises
:class:`MethodCheckError` on the first check it fails, saying which and why. The project's contract
tests call it over every registered method; a plugin author calls it on theirs::

    from benchmark.testing import check_method
    check_method(MyMethod, params={"temperature": 0.5})
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from benchmark.core.errors import AlbenchError
from benchmark.core.profiling import CellLog, PassCounter, PhaseTimer
from benchmark.core.spec import CellSpec, Component
from benchmark.data.oracle import Oracle, RoundOracle
from benchmark.scenarios.base import Episode
from benchmark.scenarios.iterative import IterativeScenario
from benchmark.scenarios.runner import round_view
from benchmark.select.api import Needs, QueryStrategy, SelectionView

K = 7
TINY_DATASET = {"name": "synthetic", "train_per_class": 30, "test_per_class": 5}
TINY_LEARNER = {"model": "small_cnn", "epochs": 3, "batch_size": 8, "lr": 0.05}
# a seconds-long self-supervised embedding for the methods that select in one (TypiClust, ProbCover)
TINY_SSL = {"steps": 4, "batch_size": 32, "width": 4, "eval_batch_size": 256}
TINY_SCENARIO = {"initial": 10, "rounds": 2, "per_round": 5, "val_per_class": 3, "ssl": TINY_SSL}
VIEW_ARRAYS = ("unlabelled", "labelled", "labelled_y", "probs", "labelled_probs", "embeddings",
               "labelled_embeddings", "ssl_embeddings", "labelled_ssl_embeddings", "features", "labelled_features", "mc_probs", "images", "labelled_images",
               "val_y", "val_probs", "val_features", "val_images", "ensemble_probs", "hidden_y")


class MethodCheckError(AssertionError):
    """A method failed a conformance check; the message names the check and the fix."""


def _fail(name: str, check: str, why: str) -> None:
    raise MethodCheckError(f"{name}: {check}: {why}")


def tiny_spec(method: str = "random", seed: int = 0, initial: int | None = None) -> CellSpec:
    scenario = dict(TINY_SCENARIO, **({} if initial is None else {"initial": initial}))
    return CellSpec(dataset=Component.parse(TINY_DATASET, "dataset"), imbalance=Component("step", {"ratio": 3}),
                    method=Component(method), learner=TINY_LEARNER, scenario=scenario, seed=seed)


def tiny_round(method: QueryStrategy, initial: int | None = None, permute_hidden: bool = False,
               ) -> tuple[SelectionView, Episode]:
    """The view of round 0 of a tiny synthetic iterative cell, built by the runner's own wiring.
    ``permute_hidden`` shuffles the labels the oracle has not revealed (to show they are never read)."""
    spec = tiny_spec(initial=initial)
    scenario = IterativeScenario.from_mapping(spec.to_dict()["scenario"])
    counter = PassCounter()
    timer = PhaseTimer(counter)
    episode = scenario.prepare(spec, None, timer, counter, CellLog())
    labelled = np.asarray(episode.splits.initial, dtype=np.int64)
    if permute_hidden:
        hidden = np.setdiff1d(np.arange(len(episode.splits.pool_idx)), labelled)
        y = np.array(episode.splits.pool_y, copy=True)
        y[hidden] = np.random.default_rng(5).permutation(y[hidden])
        episode.oracle = Oracle(y, budget=episode.oracle.budget)
    needs = method.needs()
    episode.start(needs)
    labelled_y = episode.oracle.reveal(labelled)
    episode.fit(labelled, labelled_y, 0)
    view = round_view(episode, needs, method, labelled, labelled_y, 0, timer, counter,
                      RoundOracle(copy.deepcopy(episode.oracle), limit=K))
    return view, episode


def _snapshot(view: SelectionView) -> dict[str, np.ndarray]:
    return {f: np.array(getattr(view, f), copy=True) for f in VIEW_ARRAYS if getattr(view, f) is not None}


def _select(name: str, method: QueryStrategy, view: SelectionView, k: int, seed: int,
            episode: Episode | None = None, offset: int = 0) -> np.ndarray:
    """One selection; a method that labels inside select gets a fresh oracle for it (in the view's ids)."""
    if view.oracle is not None and episode is not None:
        round_oracle = RoundOracle(copy.deepcopy(episode.oracle), limit=k)
        view = replace(view, oracle=lambda pos: round_oracle(np.asarray(pos) - offset))
    try:
        chosen = method.select(view, k, np.random.default_rng(seed))
    except AlbenchError as exc:
        _fail(name, "select", f"raised {exc}")
    except ValueError as exc:
        if "read-only" not in str(exc):
            raise
        _fail(name, "view", f"select wrote into the view ({exc}); the view's arrays are read-only and shared by "
                            "every method of the round: copy what you change, e.g. np.array(view.probs, copy=True)")
    except (TypeError, AttributeError) as exc:
        missing = _undeclared(view)
        if "NoneType" not in str(exc) or not missing:
            raise
        _fail(name, "needs", f"select failed on a view field that is None ({type(exc).__name__}: {exc}); the "
                             f"runner computes only what needs() declares, and {', '.join(missing)} "
                             f"{'is' if len(missing) == 1 else 'are'} None here. Declare what select reads in needs(): "
                             + ", ".join(f"Needs({_NEED_OF[m.removeprefix('view.')]}) for {m}" for m in missing[:3]))
    return np.asarray(chosen)


# view fields that are None unless needs() asks for them, and the Needs flag that asks
_NEED_OF = {"probs": "probs=True", "embeddings": "embeddings=True", "features": "features=True",
            "ssl_embeddings": "ssl_embeddings=True", "mc_probs": "mc_dropout=K", "images": "images=True",
            "val_probs": "validation=True", "ensemble_probs": "ensemble=E"}


def _undeclared(view: SelectionView) -> list[str]:
    """The view's data fields that are None in this round (what a method may have read without declaring)."""
    return [f"view.{f}" for f in _NEED_OF if hasattr(view, f) and getattr(view, f) is None]


def _position_hint(chosen: np.ndarray, view: SelectionView) -> str:
    """What the wrong positions look like: already labelled, or indices into view.unlabelled."""
    hints = []
    labelled = np.isin(chosen, view.labelled)
    if labelled.any():
        hints.append(f" {int(labelled.sum())} of them are already labelled (in view.labelled): select among "
                     f"view.unlabelled only.")
    outside = ~labelled & ~np.isin(chosen, view.unlabelled)
    if outside.any() and chosen.min() >= 0 and chosen.max() < len(view.unlabelled):
        hints.append(" They look like positions within view.unlabelled: return view.unlabelled[idx].")
    return "".join(hints)


def check_method(factory: Callable[..., QueryStrategy], params: Mapping[str, Any] | None = None,
                 name: str | None = None) -> None:
    """Run every conformance check on ``factory(**params)``; raise MethodCheckError on the first failure.

    Checks: a docstring and a string ``version``; the constructor stores its parameters (scikit-learn
    style); ``needs()`` returns Needs; select returns k distinct pool positions from
    ``view.unlabelled`` (pool positions, not positions within ``view.unlabelled``), with and without
    labelled points; the same seed gives the same selection; the view is not mutated; the selection
    does not depend on labels that were never revealed (unless the method is a declared oracle
    ablation, whose name must say 'oracle').
    """
    name = name or str(getattr(factory, "registered_name", getattr(factory, "__name__", "method")))
    params = dict(params or getattr(factory, "contract_params", {}) or {})
    if not (factory.__doc__ or "").strip():
        _fail(name, "docstring", "a method needs a docstring citing its paper and equation")
    method = factory(**params)
    if not isinstance(method, QueryStrategy):
        _fail(name, "type", f"{type(method).__name__} is not a QueryStrategy subclass")
    own_version = any("version" in vars(k) for k in type(method).__mro__ if k is not QueryStrategy)
    if not own_version or not isinstance(getattr(method, "version", None), str):
        _fail(name, "version", "set a string class attribute `version` on the method (bump it when results "
                               "change: it is part of every cell id); the base class's default does not count")
    signature = inspect.signature(type(method).__init__).parameters.values()
    init_params = [p.name for p in signature if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = [p for p in init_params if not hasattr(method, p)]
    if missing and type(method).__init__ is not QueryStrategy.__init__:
        _fail(name, "constructor", f"store each parameter as an attribute of the same name; missing {missing}")
    space = getattr(factory, "search_space", None)
    if space:
        from benchmark.tune import parse_search_space

        try:
            parse_search_space(space, name, factory)
        except AlbenchError as exc:
            _fail(name, "search_space", str(exc))
    needs = method.needs()
    if not isinstance(needs, Needs):
        _fail(name, "needs", f"needs() must return benchmark.Needs, got {type(needs).__name__}")
    if method.uses_hidden_labels and "oracle" not in name:
        _fail(name, "hidden labels", "a method that reads hidden labels is an oracle ablation; its name must say 'oracle'")

    view, episode = tiny_round(method)
    before = _snapshot(view)
    chosen = _select(name, method, view, K, 0, episode)
    if chosen.shape != (K,):
        _fail(name, "select", f"returned shape {chosen.shape}, expected ({K},)")
    if len(np.unique(chosen)) != K:
        _fail(name, "select", "returned duplicate positions")
    if not np.isin(chosen, view.unlabelled).all():
        _fail(name, "select", f"returned positions that are not in view.unlabelled.{_position_hint(chosen, view)}")
    for field, value in before.items():
        now = getattr(view, field)
        if not np.array_equal(now, value) or now.flags.writeable:
            _fail(name, "view", f"view.{field} was modified or made writeable; views are read-only")
    again = _select(name, factory(**params), view, K, 0, episode)
    if not np.array_equal(chosen, again):
        _fail(name, "determinism", "two fresh instances with the same rng seed chose differently; take all "
                                   "randomness from the rng argument (and seed torch from it)")
    offset = 1_000_000  # pool positions are opaque ids: shifting them all must shift the selection alike
    shifted = replace(view, unlabelled=view.unlabelled + offset, labelled=view.labelled + offset)
    moved = _select(name, factory(**params), shifted, K, 0, episode, offset)
    if not np.array_equal(moved, chosen + offset):
        hint = _position_hint(moved, shifted) or (" They are not the unshifted choice shifted: treat pool positions "
                                                  "as opaque ids and return members of view.unlabelled.")
        _fail(name, "select", f"returned positions that are not in view.unlabelled when the pool positions were "
                              f"shifted.{hint}")
    cold, cold_episode = tiny_round(factory(**params), initial=0)
    cold_chosen = _select(name, factory(**params), cold, K, 0, cold_episode)
    if len(np.unique(cold_chosen)) != K or not np.isin(cold_chosen, cold.unlabelled).all():
        _fail(name, "empty labelled set", "with nothing labelled, select must still return k distinct unlabelled positions")
    if not method.uses_hidden_labels and not needs.oracle:
        view2, _ = tiny_round(factory(**params), permute_hidden=True)
        if not np.array_equal(chosen, _select(name, factory(**params), view2, K, 0)):
            _fail(name, "hidden labels", "the selection changed when only unrevealed labels changed: it reads "
                                         "labels it was not given")
