"""What a method may tune: its ``search_space`` declaration, validated into Dimensions, and a trial's
suggestions over them."""
from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.core.describe import constructor_signature
from benchmark.core.errors import AlbenchError

KINDS = ("int", "float", "categorical")
SCALAR = (type(None), bool, int, float, str)  # what optuna stores as a categorical choice


@dataclass(frozen=True)
class Dimension:
    """One tunable constructor parameter: ``int``/``float`` in [low, high] (``log`` scale or not) or
    ``categorical`` over ``choices``."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The ``trial.suggest_*`` call for this dimension."""
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))

    def distribution(self) -> Any:
        """The optuna distribution (for ``optuna.trial.create_trial``)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return FloatDistribution(float(self.low), float(self.high), log=self.log)
        return CategoricalDistribution(list(self.choices))

    def contains(self, value: Any) -> bool:
        if self.kind == "categorical":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"kind": self.kind, "choices": list(self.choices)}
        return {"kind": self.kind, "low": self.low, "high": self.high, "log": self.log}


def _number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if integer else isinstance(value, (int, float)) and math.isfinite(value)


def parse_search_space(space: Any, method: str, factory: Any = None) -> dict[str, Dimension]:
    """Validate a ``search_space`` declaration; every mistake is an AlbenchError naming the method and
    the parameter. With ``factory``, every name must be one of its constructor's parameters."""
    where = f"Method {method!r}: search_space"
    form = ('("int", low, high[, "log"]), ("float", low, high[, "log"]) or ("categorical", [choice, ...])')
    if space is None or (isinstance(space, Mapping) and not space):
        raise AlbenchError(f"Method {method!r} declares no search space: nothing to tune. Give its class a "
                           f"`search_space` attribute, e.g. {{\"samples\": (\"int\", 8, 128, \"log\")}} "
                           f"(see benchmark/tune/space.py), or tune another method.")
    if not isinstance(space, Mapping):
        raise AlbenchError(f"{where} must be a mapping of parameter name to {form}, got {type(space).__name__}.")
    accepted = _constructor_parameters(factory) if factory is not None else None
    dims: dict[str, Dimension] = {}
    for name, decl in space.items():
        at = f"{where}[{name!r}]"
        if not isinstance(name, str) or not name.isidentifier():
            raise AlbenchError(f"{where}: parameter names must be identifiers, got {name!r}.")
        if accepted is not None and name not in accepted:
            raise AlbenchError(f"{at}: {method} takes no parameter {name!r}; its parameters are "
                               f"{', '.join(sorted(accepted)) or '(none)'}.")
        if not isinstance(decl, (tuple, list)) or not decl or decl[0] not in KINDS:
            raise AlbenchError(f"{at} = {decl!r}: expected {form}.")
        kind = decl[0]
        if kind == "categorical":
            if len(decl) != 2 or not isinstance(decl[1], (list, tuple)) or not decl[1]:
                raise AlbenchError(f"{at} = {decl!r}: a categorical dimension is (\"categorical\", [choice, ...]) "
                                   f"with at least one choice.")
            choices = tuple(decl[1])
            bad = [c for c in choices if not isinstance(c, SCALAR)]
            if bad:
                raise AlbenchError(f"{at}: choices must be None, bool, int, float or str (a suite value), got {bad!r}.")
            if len({(type(c), c) for c in choices}) != len(choices):
                raise AlbenchError(f"{at}: duplicate choices in {list(choices)!r}.")
            dims[name] = Dimension(name, kind, choices=choices)
            continue
        integer = kind == "int"
        if len(decl) not in (3, 4) or (len(decl) == 4 and decl[3] != "log"):
            raise AlbenchError(f"{at} = {decl!r}: expected ({kind!r}, low, high) or ({kind!r}, low, high, \"log\").")
        low, high, log = decl[1], decl[2], len(decl) == 4
        if not (_number(low, integer) and _number(high, integer)):
            raise AlbenchError(f"{at}: bounds must be {'integers' if integer else 'finite numbers'}, got {low!r} and {high!r}.")
        if not low < high:
            raise AlbenchError(f"{at}: low must be below high, got low={low!r}, high={high!r}.")
        if log and low <= 0:
            raise AlbenchError(f"{at}: a log-scale dimension needs low > 0, got {low!r}.")
        dims[name] = Dimension(name, kind, low=low, high=high, log=log)
    return dims


def suggest(trial: Any, dims: Mapping[str, Dimension]) -> dict[str, Any]:
    """One trial's parameters: ``trial.suggest_*`` for every dimension, in declaration order."""
    return {name: dim.suggest(trial) for name, dim in dims.items()}


def _constructor_parameters(factory: Any) -> set[str] | None:
    """Keyword parameters of a method class's constructor; None when it takes ``**kwargs`` (or cannot be read)."""
    params = constructor_signature(factory)
    if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def search_space_of(method: str) -> dict[str, Dimension]:
    """The validated search space a registered method declares (a ``+bal`` twin: its base method's)."""
    from benchmark.core.registry import METHODS

    factory = METHODS.get(method)
    space = getattr(factory, "search_space", None)
    if space is None and hasattr(factory, "base_factory"):
        space = getattr(factory.base_factory, "search_space", None)
    return parse_search_space(space, method, factory)
