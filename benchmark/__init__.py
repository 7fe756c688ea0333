"""albench: a benchmark harness for active learning under dataset bias and class imbalance.

Public surface (lazy, so that importing ``benchmark`` does not import torch):
``CellSpec``, ``Component``, ``run_cell``, ``load_suite``, ``ResultStore``, the registries and
their decorators, ``QueryStrategy``, ``Needs``, ``SelectionView``.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "CellSpec": "spec", "Component": "spec",
    "run_cell": "loop",
    "load_suite": "suite",
    "ResultStore": "store",
    "QueryStrategy": "strategy", "Needs": "strategy", "SelectionView": "strategy",
    "register_method": "registry", "register_dataset": "registry", "register_imbalance": "registry",
    "register_model": "registry", "METHODS": "registry", "DATASETS": "registry", "IMBALANCES": "registry",
    "MODELS": "registry", "discover": "registry",
    "AlbenchError": "errors",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")


__all__ = list(_EXPORTS)
