"""CellSpec: one cell of a benchmark grid, pure frozen data with a stable content hash."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from benchmark.core.seeding import canonical_json

FULL_POOL_METHOD = "full_pool"  # the one-shot acc_full reference cell: labels the whole pool, never selects

# Bump when the loop, the metrics or the store format change in a way that changes results.
ENGINE_VERSION = "1"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in sorted(value.items())})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Component:
    """A registered component by name plus its parameters (read-only).

    ``label`` is how reports show it (a suite may write ``label: "R_z,g pyz L80"``); it is not part
    of the cell's identity, so relabelling never invalidates stored results.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze(dict(self.params)))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": _thaw(self.params)}

    def __hash__(self) -> int:
        return hash(canonical_json(self.to_dict()))

    @classmethod
    def parse(cls, value: Any, kind: str) -> Component:
        """Accept ``"name"``, ``{"name": ..., "params": {...}}`` or ``{"name": ..., **params}``."""
        from benchmark.core.errors import SuiteError

        if isinstance(value, Component):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping) and "name" in value:
            params = dict(value.get("params", {}))
            params.update({k: v for k, v in value.items() if k not in ("name", "params", "label")})
            label = value.get("label")
            return cls(str(value["name"]), params, str(label) if label is not None else None)
        raise SuiteError(
            f"A {kind} must be a name or a mapping with a 'name' key (and parameters), got {value!r}."
        )


@dataclass(frozen=True)
class CellSpec:
    """Everything that determines one run: data, imbalance, method, learner, scenario and seed.

    ``learner`` and ``scenario`` are plain mappings (the training recipe and the AL protocol);
    see ``benchmark.learn.learner.LearnerRecipe`` and ``benchmark.scenarios.iterative.IterativeScenario``.
    """

    dataset: Component
    imbalance: Component
    method: Component
    learner: Mapping[str, Any]
    scenario: Mapping[str, Any]
    seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "learner", _freeze(dict(self.learner)))
        object.__setattr__(self, "scenario", _freeze(dict(self.scenario)))

    def __hash__(self) -> int:
        return hash(canonical_json(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dict(),
            "imbalance": self.imbalance.to_dict(),
            "method": self.method.to_dict(),
            "learner": _thaw(self.learner),
            "scenario": _thaw(self.scenario),
            "seed": int(self.seed),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CellSpec:
        return cls(
            dataset=Component.parse(d["dataset"], "dataset"),
            imbalance=Component.parse(d["imbalance"], "imbalance"),
            method=Component.parse(d["method"], "method"),
            learner=dict(d.get("learner", {})),
            scenario=dict(d.get("scenario", {})),
            seed=int(d["seed"]),
        )

    def versions(self) -> dict[str, str]:
        """The ``version`` attribute of each registered component plus the engine's."""
        from benchmark.core.registry import DATASETS, IMBALANCES, METHODS, MODELS

        model = str(self.learner.get("model", ""))
        return {
            "engine": ENGINE_VERSION,
            "dataset": str(getattr(DATASETS.get(self.dataset.name), "version", "1")),
            "imbalance": str(getattr(IMBALANCES.get(self.imbalance.name), "version", "1")),
            "method": "full" if self.method.name == FULL_POOL_METHOD else str(getattr(METHODS.get(self.method.name), "version", "1")),
            "model": str(getattr(MODELS.get(model), "version", "1")) if model in MODELS else "external",
        }

    @cached_property
    def cell_id(self) -> str:
        payload = canonical_json({"spec": self.to_dict(), "versions": self.versions()})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def paired_key(self) -> dict[str, Any]:
        """What the pool, splits, initial set and model init may depend on: never the method."""
        d = self.to_dict()
        d.pop("method")
        return d

    def label(self) -> str:
        return f"{self.dataset.name}/{self.imbalance.name}/{self.method.name}/seed={self.seed}"
