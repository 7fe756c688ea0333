"""What one study tunes: the suite's settings (everything but the method and the seed) and a
StudyPlan per setting (method, fixed parameters, searched dimensions, seeds, first trial)."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.core.describe import constructor_defaults
from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.tune.space import Dimension, search_space_of

TUNE_VERSION = "1"  # bump when the objective changes: it is part of every study's name
OBJECTIVE = "AUBC of balanced accuracy on the validation split"


@dataclass(frozen=True)
class Setting:
    """A comparable setting of a suite (everything but the method and the seed) and its seeds."""

    dataset: Any  # Component
    imbalance: Any  # Component
    learner: dict[str, Any]  # plain (thawed) mappings, as a suite writes them
    scenario: dict[str, Any]
    seeds: tuple[int, ...]

    def spec(self, method: Any, seed: int) -> Any:
        """The tuning cell: this setting, scored on the validation split."""
        from benchmark.core.spec import CellSpec

        return CellSpec(dataset=self.dataset, imbalance=self.imbalance, method=method, learner=dict(self.learner),
                        scenario={**dict(self.scenario), "evaluate_on": "validation"}, seed=seed)

    def title(self) -> str:
        from benchmark.report.consolidate import component_label

        sc = dict(self.scenario)
        parts = " ".join(f"{k}={sc[k]}" for k in ("initial", "rounds", "per_round", "val_per_class") if k in sc)
        return (f"{component_label(self.dataset)} · {component_label(self.imbalance)} · "
                f"{self.learner.get('model', 'small_cnn')} · {parts}")

    def axes(self) -> dict[str, Any]:
        """The setting as suite keys (a ``grids:`` entry pins it)."""
        return {"dataset": _as_suite_value(self.dataset), "imbalance": _as_suite_value(self.imbalance),
                "learner": dict(self.learner), "scenario": dict(self.scenario), "seeds": list(self.seeds)}


def _as_suite_value(comp: Any) -> Any:
    params = comp.to_dict()["params"]
    if not params and not comp.label:
        return comp.name
    return {"name": comp.name, **params, **({"label": comp.label} if comp.label else {})}


def settings_of(suite: Any, method: str | None = None) -> list[Setting]:
    """The suite's settings in order of appearance, each with its seeds (reference cells left out); with
    ``method``, only the settings that list it, when the suite lists it at all."""
    from benchmark.core.seeding import canonical_json
    from benchmark.core.spec import FULL_POOL_METHOD

    found: dict[str, tuple[Any, list[int]]] = {}
    listing: set[str] = set()
    for cell in suite.cells:
        if cell.method.name == FULL_POOL_METHOD:
            continue
        key = cell.paired_key()
        key.pop("seed")
        _, seeds = found.setdefault(canonical_json(key), (cell, []))
        if cell.seed not in seeds:
            seeds.append(int(cell.seed))
        if cell.method.name == method:
            listing.add(canonical_json(key))
    return [Setting(c.dataset, c.imbalance, c.to_dict()["learner"], c.to_dict()["scenario"], tuple(seeds))
            for key, (c, seeds) in found.items() if not listing or key in listing]


@dataclass(frozen=True)
class StudyPlan:
    """What one study tunes: a method with fixed parameters over ``dims`` in one setting, on ``seeds``."""

    method: str
    params: Mapping[str, Any]  # fixed: never searched (the suite's other parameters and --params)
    dims: Mapping[str, Dimension]
    setting: Setting
    seeds: tuple[int, ...]
    start: Mapping[str, Any] = field(default_factory=dict)  # a new study's first trial (defaults / the suite's values)

    @property
    def name(self) -> str:
        """``<method>-<hash>``: the same objective always gives the same study."""
        from benchmark.core.seeding import canonical_json
        from benchmark.core.spec import Component

        spec = self.setting.spec(Component(self.method, dict(self.params)), self.seeds[0])
        setting = spec.paired_key()
        setting.pop("seed")
        payload = {"tune": TUNE_VERSION, "objective": OBJECTIVE, "method": self.method, "params": dict(self.params),
                   "space": {n: d.to_dict() for n, d in self.dims.items()}, "setting": setting,
                   "seeds": list(self.seeds), "versions": spec.versions()}
        return f"{self.method}-{hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:12]}"

    def component(self, chosen: Mapping[str, Any]) -> Any:
        from benchmark.core.spec import Component

        return Component(self.method, {**dict(self.params), **dict(chosen)})


def _suite_params(suite: Any, method: str, searched: Mapping[str, Dimension]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fixed, start): the parameters the suite's entries for ``method`` give outside the search space
    (kept fixed; entries that differ there are an error) and inside it (a new study's first trial, when
    the suite lists one entry)."""
    from benchmark.core.seeding import canonical_json

    entries = {canonical_json(c.to_dict()["params"]): c.to_dict()["params"]
               for c in (cell.method for cell in suite.cells) if c.name == method}
    outside = {canonical_json({k: v for k, v in e.items() if k not in searched}) for e in entries.values()}
    if len(outside) > 1:
        raise AlbenchError(f"Suite {suite.name!r} lists {method!r} with different parameters outside its search "
                           f"space ({'; '.join(sorted(outside))}). Say which to keep fixed with --params (JSON).")
    if not entries:
        return {}, {}
    first = next(iter(entries.values()))
    start = {k: v for k, v in first.items() if k in searched} if len(entries) == 1 else {}
    return {k: v for k, v in first.items() if k not in searched}, start


def plan(suite: Any, method: str, params: Mapping[str, Any] | None = None, seeds: int = 1) -> list[StudyPlan]:
    """One StudyPlan per setting of ``suite`` (those that list ``method``, if any do). The search space's parameters are searched, except those
    ``params`` pins; the suite's entry for the method (if any) fixes its other parameters, and its values
    inside the space (else the constructor's defaults) are a new study's first trial. ``seeds``: the first
    that many seeds of each setting."""
    from benchmark.core.registry import METHODS, SCENARIOS

    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise AlbenchError(f"--seeds must be a positive integer (the first k seeds of the suite), got {seeds!r}.")
    dims = search_space_of(method)
    pinned = dict(params or {})
    free = {n: d for n, d in dims.items() if n not in pinned}
    if not free:
        raise AlbenchError(f"Method {method!r}: --params fixes every parameter of its search space "
                           f"({', '.join(dims)}): nothing to tune.")
    from_suite, suite_start = _suite_params(suite, method, dims)
    fixed = {**from_suite, **pinned}
    start = {n: v for n, v in {**constructor_defaults(METHODS.get(method)), **suite_start}.items()
             if n in free and free[n].contains(v)}
    try:
        METHODS.create(method, **fixed, **start)
    except AlbenchError as exc:
        raise AlbenchError(f"Fixed parameters of {method!r}: {exc}") from None
    plans = []
    for setting in settings_of(suite, method):
        kind = str(setting.scenario.get("kind", "iterative"))
        scenario_cls: Any = SCENARIOS.get(kind)
        if "evaluate_on" not in getattr(scenario_cls, "__dataclass_fields__", {}):
            raise SuiteError(f"albench tune scores the validation split (scenario key evaluate_on), which the "
                             f"{kind!r} scenario has no notion of; tune a suite of iterative or coldstart cells.")
        scenario_cls.from_mapping({**dict(setting.scenario), "evaluate_on": "validation"})  # val_per_class > 0
        if seeds > len(setting.seeds):
            raise AlbenchError(f"--seeds {seeds}: setting {setting.title()} has only {len(setting.seeds)} seed(s) "
                               f"({list(setting.seeds)}).")
        plans.append(StudyPlan(method, fixed, free, setting, setting.seeds[:seeds], start))
    if not plans:
        raise AlbenchError(f"Suite {suite.name!r} has no cells to tune in.")
    return plans
