"""Contract tests over every registered method and its +bal twin (a new plugin file is picked up
automatically): ``benchmark.testing.check_method``, the same checks a plugin author runs."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS, discover
from benchmark.select.api import Needs, QueryStrategy, SelectionView
from benchmark.testing import MethodCheckError, check_method, tiny_round

discover()
BASE_METHODS = METHODS.names()
ALL_METHODS = METHODS.names(variants=True)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_conforms(name):
    base = name.removesuffix("+bal")
    params = getattr(METHODS.get(base), "contract_params", {})
    check_method(METHODS.get(name), params=params, name=name)


def test_variants_are_listed():
    assert "entropy+bal" in ALL_METHODS and "entropy+bal" not in BASE_METHODS
    labels_inside = [n for n in BASE_METHODS if METHODS.create(n).needs().oracle]
    assert labels_inside == ["galaxy"]  # +bal cannot wrap a method that labels inside its own select
    assert set(ALL_METHODS) == set(BASE_METHODS) | {f"{n}+bal" for n in BASE_METHODS if n not in labels_inside}
    with pytest.raises(AlbenchError, match="does not apply to 'galaxy'"):
        METHODS.get("galaxy+bal")


class _PositionsWithinUnlabelled(QueryStrategy):
    """A broken method: returns positions within view.unlabelled instead of pool positions."""

    version = "1"

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return np.arange(k)


class _Unseeded(QueryStrategy):
    """A broken method: draws from the global numpy state instead of the rng it is given."""

    version = "1"

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return np.random.choice(view.unlabelled, k, replace=False)


class _NoVersion(QueryStrategy):
    """A broken method: relies on the base class's version."""

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return view.unlabelled[:k]


class _NoParams(QueryStrategy):
    """A broken method: does not store its constructor parameter."""

    version = "1"

    def __init__(self, temperature: float = 1.0):
        self.t = temperature

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return view.unlabelled[:k]


class _ReturnsLabelled(QueryStrategy):
    """A broken method: returns labelled positions."""

    version = "1"

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([view.labelled, view.unlabelled])[:k]


class _WritesIntoTheView(QueryStrategy):
    """A broken method: sorts the view's probabilities in place."""

    version = "1"

    def needs(self) -> Needs:
        return Needs(probs=True)

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        view.probs.sort(axis=1)
        return view.unlabelled[:k]


class _ForgetsToDeclareProbs(QueryStrategy):
    """A broken method: reads view.probs without asking for it in needs()."""

    version = "1"

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return view.unlabelled[np.argsort(view.probs.max(axis=1))[:k]]


class _SearchesAParameterItDoesNotTake(QueryStrategy):
    """A broken method: its search space names a parameter its constructor does not take."""

    version = "1"
    search_space = {"temperature": ("float", 0.1, 10.0, "log")}

    def __init__(self, samples: int = 4):
        self.samples = samples

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        return view.unlabelled[:k]


@pytest.mark.parametrize("broken, message", [
    (_PositionsWithinUnlabelled, "positions within view.unlabelled"),
    (_ReturnsLabelled, r"already labelled \(in view.labelled\)"),
    (_WritesIntoTheView, "view: select wrote into the view .*read-only.*copy what you change"),
    (_ForgetsToDeclareProbs, r"needs: .*view.probs, .* are None.*Needs\(probs=True\) for view.probs"),
    (_SearchesAParameterItDoesNotTake, "search_space.*takes no parameter 'temperature'; its parameters are samples"),
    (_Unseeded, "same rng seed"),
    (_NoParams, "missing \\['temperature'\\]"),
    (_NoVersion, "base class's default does not count"),
])
def test_check_method_catches_broken_methods(broken, message):
    with pytest.raises(MethodCheckError, match=message):
        check_method(broken, name="broken")


def test_check_method_catches_a_method_reading_unrevealed_labels(monkeypatch):
    from benchmark import testing

    episodes = []
    real_round_view = testing.round_view

    def spy(episode, *args, **kwargs):
        episodes.append(episode)
        return real_round_view(episode, *args, **kwargs)

    monkeypatch.setattr(testing, "round_view", spy)

    class Cheat(QueryStrategy):
        """A broken method: peeks at the oracle's hidden labels."""

        version = "1"

        def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
            y = episodes[-1].oracle._labels[view.unlabelled % 1_000_000]  # undo the ids shift check
            return view.unlabelled[np.argsort(-y, kind="stable")[:k]]

    with pytest.raises(MethodCheckError, match="unrevealed labels changed"):
        check_method(Cheat, name="cheat")


def test_hidden_labels_only_for_declared_oracles():
    class Sneaky(QueryStrategy):
        """Asks for hidden labels without declaring itself an oracle ablation."""

        def needs(self) -> Needs:
            return Needs(hidden_labels=True)

    with pytest.raises(Exception, match="hidden labels"):
        tiny_round(Sneaky())
    view, _ = tiny_round(METHODS.create("pfk_oracle"))
    assert view.hidden_y is not None and len(view.hidden_y) == len(view.unlabelled)


def test_uncertainty_methods_pick_the_most_uncertain():
    from benchmark.select.api import SelectionView

    probs = np.array([[0.98, 0.01, 0.01], [0.4, 0.3, 0.3], [0.45, 0.44, 0.11], [0.7, 0.2, 0.1]])
    view = SelectionView(unlabelled=np.array([10, 11, 12, 13]), labelled=np.zeros(0, np.int64),
                         labelled_y=np.zeros(0, np.int64), num_classes=3, round=0, probs=probs)
    rng = np.random.default_rng(0)
    assert METHODS.create("entropy").select(view, 1, rng).tolist() == [11]
    assert METHODS.create("least_confidence").select(view, 1, rng).tolist() == [11]
    assert METHODS.create("margin").select(view, 1, rng).tolist() == [12]  # margin 0.01
