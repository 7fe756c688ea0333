"""Consolidate a suite's finished cells into one flat long table (benchopt style)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.describe import constructor_defaults
from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS
from benchmark.core.seeding import canonical_json
from benchmark.core.spec import FULL_POOL_METHOD, CellSpec, Component
from benchmark.execute.store import ResultStore
from benchmark.select.api import embedding_label


def component_label(comp: Component) -> str:
    """The suite's ``label``, else ``name`` or ``name(k=v, ...)``: how a component appears in tables."""
    if comp.label:
        return comp.label
    params = comp.to_dict()["params"]
    if not params:
        return comp.name
    return f"{comp.name}({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})"


def _flat(value: Any) -> Any:
    """A parameter value as one parquet cell: scalars as they are, lists and mappings as canonical JSON."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else canonical_json(value)


def effective_params(comp: Component, registry: Any) -> dict[str, Any]:
    """The parameters a component ran with: its constructor's defaults, overridden by the suite's."""
    try:
        factory = registry.get(comp.name)
    except Exception:  # noqa: BLE001  (a plugin no longer installed: the suite's parameters are what is known)
        factory = None
    out: dict[str, Any] = constructor_defaults(factory) if factory is not None else {}
    out.update(comp.to_dict()["params"])
    return {k: _flat(v) for k, v in out.items()}


def method_embedding(spec: CellSpec) -> str:
    """The representation the cell's method selects in (``benchmark.select.api.embedding_label``)."""
    if spec.method.name == FULL_POOL_METHOD or spec.method.name not in METHODS:
        return "–"
    try:
        needs = METHODS.create(spec.method.name, **spec.method.to_dict()["params"]).needs()
    except AlbenchError:
        return "?"
    return embedding_label(needs, str(spec.scenario.get("kind", "iterative")))


def spec_columns(spec: CellSpec) -> dict[str, Any]:
    """The spec's columns of the flat table; the method's and the imbalance's parameters (defaults
    included) as one column each, ``method.<name>`` and ``imbalance.<name>``, for ``groupby``."""
    from benchmark.core.registry import IMBALANCES, METHODS

    params = {f"method.{k}": v for k, v in effective_params(spec.method, METHODS).items()}
    params.update({f"imbalance.{k}": v for k, v in effective_params(spec.imbalance, IMBALANCES).items()})
    return {
        "cell_id": spec.cell_id,
        "dataset": component_label(spec.dataset),
        "imbalance": component_label(spec.imbalance),
        "method": component_label(spec.method),
        "method_name": spec.method.name,
        "embedding": method_embedding(spec),
        "model": spec.learner.get("model", "small_cnn"),
        "learner": canonical_json(spec.to_dict()["learner"]),
        "scenario": canonical_json(spec.to_dict()["scenario"]),
        "seed": spec.seed,
        **params,
    }


def consolidate(cells: tuple[CellSpec, ...] | list[CellSpec], store: ResultStore,
                out: str | Path | None = None) -> pd.DataFrame:
    """One row per (cell, round) with the spec's columns in front. Missing cells are skipped."""
    frames = []
    for spec in cells:
        if not store.is_done(spec.cell_id):
            continue
        rounds = store.read_rounds(spec.cell_id).drop(columns=["cell_id"], errors="ignore")
        summary = store.read_summary(spec.cell_id)
        meta = spec_columns(spec)
        meta["uses_hidden_labels"] = bool(summary.get("uses_hidden_labels", False))
        meta["extra_labels"] = int(summary.get("extra_labels", 0))
        meta["pool_ir"] = summary.get("pool_ir")
        meta["cell_seconds"] = summary.get("seconds")
        meta["store_seconds"] = store.write_seconds(spec.cell_id)
        for key, value in reversed(list(meta.items())):
            rounds.insert(0, key, value)
        frames.append(rounds)
    table = _parquet_safe(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()
    if out is not None and not table.empty:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.parquet")
        table.to_parquet(tmp, index=False)
        tmp.replace(out)
    return table


def _parquet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Parameter columns whose values differ in type across methods (an int here, a string there) as text,
    so the table writes to parquet; columns of one type keep it."""
    for col in [c for c in table.columns if c.startswith(("method.", "imbalance."))]:
        kinds = {type(v) for v in table[col] if v is not None and not (isinstance(v, float) and v != v)}
        if len(kinds) > 1 and not kinds <= {int, float}:
            table[col] = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in table[col]]
    return table


def setting_columns() -> list[str]:
    """Columns that define a comparable setting (everything but method and seed)."""
    return ["dataset", "imbalance", "model", "learner", "scenario"]


def describe_setting(key: tuple) -> str:
    dataset, imbalance, model, learner, scenario = key
    sc = json.loads(scenario)
    parts = [f"{k}={v}" for k, v in sc.items() if k in ("initial", "rounds", "per_round", "pool_size", "budget")]
    init = json.loads(learner).get("init")
    model_part = f"{model} ({init} init)" if init else str(model)
    return f"{dataset} · {imbalance} · {model_part} · {' '.join(parts)}"
