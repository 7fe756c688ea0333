"""albench: a benchmark harness for active learning under dataset bias and class imbalance.

Public surface (lazy, so that importing ``benchmark`` does not import torch): the specs, the
registries and their decorators, the method API (``QueryStrategy``, ``Needs``, ``SelectionView``,
``check_method``), the scenario API (``Scenario``, ``Episode``), ``run_cell``, ``load_suite`` and
``ResultStore``. The engine's modules underneath are layered (docs/architecture.md):
core → data → learn → select → scenarios → execute → report → tune → cli.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "CellSpec": "core.spec", "Component": "core.spec",
    "AlbenchError": "core.errors",
    "register_method": "core.registry", "register_dataset": "core.registry", "register_imbalance": "core.registry",
    "register_model": "core.registry", "register_scenario": "core.registry", "METHODS": "core.registry",
    "DATASETS": "core.registry", "IMBALANCES": "core.registry", "MODELS": "core.registry",
    "SCENARIOS": "core.registry", "discover": "core.registry",
    "QueryStrategy": "select.api", "Needs": "select.api", "SelectionView": "select.api", "top_k": "select.api",
    "Scenario": "scenarios.base", "Episode": "scenarios.base",
    "run_cell": "scenarios.runner",
    "load_suite": "execute.suite",
    "ResultStore": "execute.store",
    "check_method": "testing",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")


__all__ = list(_EXPORTS)
