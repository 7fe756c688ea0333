"""User-facing errors: one paragraph that says what was wrong and what would be right.

Also the typed-field checker that the recipe dataclasses (learner, scenario, source, target,
pretrain) and the suite's component parameters are validated with: each value is checked against
its annotation (``int`` never accepts a bool, ``float`` accepts an int) and an optional ``Rule``
(bounds, choices), and a ``SuiteError`` names the key, what is allowed and what was given.
"""
from __future__ import annotations

import difflib
import functools
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class AlbenchError(Exception):
    """An error caused by the user's input (suite, names, data). The CLI prints it and exits 2."""


class UnknownNameError(AlbenchError, KeyError):
    """A registry lookup for a name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        msg = (
            f"Unknown {kind} {name!r}.{hint} Registered {kind}s: {', '.join(known) or '(none)'}. "
            f"Run `albench list {kind}s` to see them, or add a plugin file (see docs/adding-a-method.md)."
        )
        super().__init__(msg)
        self.kind, self.name, self.close = kind, name, close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(AlbenchError):
    """A dataset file is missing, malformed or fails its checksum."""


class ReportError(AlbenchError):
    """A report cannot say what it claims: e.g. a figure with nothing to draw."""


class SuiteError(AlbenchError):
    """A suite file cannot be read or does not describe a valid grid."""


class CompareError(AlbenchError):
    """Stored results cannot carry a requested cross-setting statistic or figure (``albench compare``)."""


def did_you_mean(name: object, known: Iterable[object]) -> str:
    """`` Did you mean 'x'?`` for the known names close to ``name`` ('' when none is close)."""
    by_text = {str(k): k for k in known}
    close = difflib.get_close_matches(str(name), list(by_text), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(by_text[c]) for c in close)}?" if close else ""


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reject_unknown_keys(d: Mapping[str, object], recipe: type, where: str, what: str) -> None:
    """SuiteError naming the keys of ``d`` that the dataclass ``recipe`` has no field for.

    ``where`` is the suite path of the mapping (``learner``, ``scenario.target``); ``what`` says what
    takes the keys (``a learner recipe``).
    """
    from dataclasses import fields

    names = sorted(f.name for f in fields(recipe))
    unknown = sorted(set(d) - set(names), key=str)
    if unknown:
        hints = "".join(did_you_mean(k, names) for k in unknown)
        raise SuiteError(f"Unknown {where} key(s) {unknown}.{hints} {what[:1].upper() + what[1:]} takes {names}.")


@dataclass(frozen=True)
class Rule:
    """What a value may be beyond its type: bounds (``low <= v``, ``above < v``, ``v <= high``,
    ``v < below``; for a list, each element), allowed ``choices``, and for a list ``nonempty`` /
    ``distinct``."""

    low: float | None = None
    above: float | None = None
    high: float | None = None
    below: float | None = None
    choices: tuple[Any, ...] = ()
    nonempty: bool = False
    distinct: bool = False

    def bounds_text(self) -> str:
        parts = [f">= {self.low:g}" if self.low is not None else "", f"> {self.above:g}" if self.above is not None else "",
                 f"<= {self.high:g}" if self.high is not None else "", f"< {self.below:g}" if self.below is not None else ""]
        return " and ".join(p for p in parts if p)

    def admits(self, x: Any) -> bool:
        """Whether one scalar satisfies the bounds and choices."""
        if self.choices and not any(x == c and type(x) is type(c) for c in self.choices):
            return False
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return ((self.low is None or x >= self.low) and (self.above is None or x > self.above)
                    and (self.high is None or x <= self.high) and (self.below is None or x < self.below))
        return True


NO_RULE = Rule()
_SINGULAR = {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}
_PLURAL = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    return typing.get_args(tp) if origin is typing.Union or origin is types.UnionType else None


def _list_item(tp: Any) -> Any | None:
    """The element type of ``list[X]``, ``tuple[X, ...]`` or ``Sequence[X]`` (None: not a list type)."""
    origin = typing.get_origin(tp)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return args[0] if args else Any
    return None


def _is_mapping_type(tp: Any) -> bool:
    return tp in (dict, Mapping) or typing.get_origin(tp) in (dict, Mapping)


def matches(value: Any, tp: Any) -> bool:
    """Whether ``value`` (parsed YAML) fits the annotation ``tp``; unknown annotations accept anything."""
    if tp is Any:
        return True
    if tp is type(None) or tp is None:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    args = _union_args(tp)
    if args is not None:
        return any(matches(value, a) for a in args)
    if typing.get_origin(tp) is typing.Literal:
        return value in typing.get_args(tp)
    item = _list_item(tp)
    if item is not None:
        return isinstance(value, (list, tuple)) and all(matches(v, item) for v in value)
    if _is_mapping_type(tp):
        return isinstance(value, Mapping)
    return True


def describe(tp: Any, rule: Rule = NO_RULE) -> str:
    """What ``tp`` under ``rule`` allows, in words: ``an integer >= 0``, ``a list of numbers > 0``."""
    args = _union_args(tp)
    if args is not None:
        options = [a for a in args if a is not type(None)]
        text = " or ".join(describe(a, rule) for a in options)
        return text + (" or null" if len(options) < len(args) else "")
    if rule.choices and typing.get_origin(tp) is not list and _list_item(tp) is None:
        return "one of " + ", ".join(repr(c) for c in rule.choices)
    bounds = rule.bounds_text()
    item = _list_item(tp)
    if item is not None:
        plural = _PLURAL.get(item, "values")
        qualifiers = " ".join(q for q in ("non-empty" if rule.nonempty else "", "distinct" if rule.distinct else "") if q)
        return f"a {qualifiers + ' ' if qualifiers else ''}list of {plural}{' ' + bounds if bounds else ''}"
    if typing.get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(tp))
    if _is_mapping_type(tp):
        return "a mapping"
    base = _SINGULAR.get(tp, getattr(tp, "__name__", str(tp)))
    return f"{base} {bounds}" if bounds and tp in (int, float) else base


def _fits_rule(value: Any, rule: Rule) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple)):
        items = list(value)
        if rule.nonempty and not items:
            return False
        if rule.distinct and len(set(map(repr, items))) != len(items):
            return False
        return all(rule.admits(v) for v in items)
    return rule.admits(value)


def check_value(value: Any, tp: Any, where: str, rule: Rule = NO_RULE) -> None:
    """SuiteError ``<where> must be <what is allowed>, got <value>.`` unless ``value`` fits."""
    if matches(value, tp) and _fits_rule(value, rule):
        return
    hint = did_you_mean(value, rule.choices) if rule.choices and isinstance(value, str) else ""
    raise SuiteError(f"{where} must be {describe(tp, rule)}, got {shown(value)}.{hint}")


@functools.cache
def _field_types(recipe: type) -> dict[str, Any]:
    """The resolved annotations of a dataclass (cached: recipes are checked once per cell)."""
    return typing.get_type_hints(recipe)


def check_fields(d: Any, recipe: type, where: str, what: str, rules: Mapping[str, Rule] | None = None) -> None:
    """Check a suite mapping against the dataclass ``recipe``: a mapping, no unknown keys, and every
    value fits its field's annotation and ``rules[field]``."""
    if not isinstance(d, Mapping):
        from dataclasses import fields

        names = sorted(f.name for f in fields(recipe))
        raise SuiteError(f"{where} must be a mapping ({what}: keys {names}), got {shown(d)}.")
    bad_keys = [k for k in d if not isinstance(k, str)]
    if bad_keys:
        raise SuiteError(f"{where} keys must be strings, got {shown(bad_keys)}.")
    reject_unknown_keys(d, recipe, where, what)
    hints = _field_types(recipe)
    for key, value in d.items():
        check_value(value, hints.get(key, Any), f"{where}.{key}", (rules or {}).get(key, NO_RULE))
