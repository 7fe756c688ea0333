"""YAML suites: every list among the top-level axes expands into a grid of CellSpecs.

```yaml
name: quick
dataset: digits                         # a name, {name: ..., <params>}, or a list of them
imbalance: [{name: step, ratio: 10}]
method: [random, entropy, coreset]
learner: {model: small_cnn, epochs: 30}  # a mapping, or a list of mappings
scenario: {rounds: 5, per_round: 10, initial: 20}
seeds: 3                                # an int n (seeds 0..n-1) or a list
```
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.core.registry import (
    DATASETS,
    IMBALANCES,
    METHODS,
    SCENARIOS,
    builtin_folder,
)
from benchmark.core.spec import CellSpec, Component
from benchmark.learn.learner import LearnerRecipe
from benchmark.scenarios.runner import scenario_of

AXES = ("dataset", "imbalance", "method", "learner", "scenario", "seeds")
OPTIONAL = ("name", "description", "executor", "notes", "report", "grids")
SUITES_DIR = builtin_folder("suites")


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    cells: tuple[CellSpec, ...]
    report: dict[str, Any] = field(default_factory=dict)  # options for `albench curves` (see benchmark.report.curves)


def resolve_suite_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (SUITES_DIR / f"{name_or_path}.yaml", SUITES_DIR / f"{name_or_path}.yml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in SUITES_DIR.glob("*.y*ml"))
    import difflib

    close = difflib.get_close_matches(str(name_or_path), known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise SuiteError(f"No suite {str(name_or_path)!r}: not a file, and not a name in {SUITES_DIR}.{hint} "
                     f"Known suites: {', '.join(known) or '(none)'}.")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _reference_cells(cells: tuple[CellSpec, ...]) -> tuple[CellSpec, ...]:
    """Cells the scenarios add beside the grid's (one acc_full cell, WACV eq. 10, per one-shot pool)."""
    refs: dict[str, CellSpec] = {}
    for c in cells:
        for ref in scenario_of(c).reference_cells(c):
            refs.setdefault(ref.cell_id, ref)
    return tuple(refs.values())


def load_suite(name_or_path: str | Path) -> Suite:
    path = resolve_suite_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(f"Suite {path} is not valid YAML{where}: {problem}. Check the brackets and "
                         f"indentation there (see suites/quick.yaml for the format).") from None
    return expand(raw, path)


def expand(raw: Any, path: Path = Path("<inline>")) -> Suite:
    """Expand a suite mapping into its cells. ``grids:`` (a list of partial suites) gives the union of
    several grids, each one the top-level keys overridden by its own (e.g. a per-dataset imbalance)."""
    if isinstance(raw, dict) and "grids" in raw:
        grids = raw["grids"]
        if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
            raise SuiteError(f"Suite {path}: grids must be a list of mappings (partial suites).")
        base = {k: v for k, v in raw.items() if k != "grids"}
        parts = [expand({**base, **g}, path) for g in grids]
        seen: dict[str, CellSpec] = {}
        for part in parts:
            for cell in part.cells:
                seen.setdefault(cell.cell_id, cell)
        first = parts[0] if parts else expand(base, path)
        return Suite(name=first.name, path=path, description=first.description, cells=tuple(seen.values()),
                     report=first.report)
    if not isinstance(raw, dict):
        raise SuiteError(f"Suite {path} must be a YAML mapping with keys {list(AXES)}, got {type(raw).__name__}.")
    unknown = set(raw) - set(AXES) - set(OPTIONAL) - {"seed"}
    if unknown:
        raise SuiteError(f"Suite {path}: unknown key(s) {sorted(unknown)}. Allowed: {list(AXES + OPTIONAL)}.")
    missing = [k for k in ("dataset", "method") if k not in raw]
    if missing:
        raise SuiteError(f"Suite {path}: missing required key(s) {missing}. A suite needs at least a dataset and a method.")
    seeds_raw = raw.get("seeds", raw.get("seed", 1))
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        seeds = list(range(seeds_raw))
    elif isinstance(seeds_raw, list) and all(isinstance(s, int) for s in seeds_raw):
        seeds = seeds_raw
    else:
        raise SuiteError(f"Suite {path}: seeds must be an integer count or a list of integers, got {seeds_raw!r}.")
    datasets = [Component.parse(v, "dataset") for v in _as_list(raw["dataset"])]
    imbalances = [Component.parse(v, "imbalance") for v in _as_list(raw.get("imbalance", "none"))]
    methods = [Component.parse(v, "method") for v in _as_list(raw["method"])]
    learners = _as_list(raw.get("learner", {}))
    scenarios = _as_list(raw.get("scenario", {}))
    created = {}
    for registry, comps in ((DATASETS, datasets), (IMBALANCES, imbalances), (METHODS, methods)):
        for comp in comps:
            try:
                created[id(comp)] = registry.create(comp.name, **comp.to_dict()["params"])
            except AlbenchError as exc:
                raise SuiteError(f"Suite {path}: {exc}") from None
    for learner in learners:
        if not isinstance(learner, dict):
            raise SuiteError(f"Suite {path}: learner must be a mapping of recipe keys, got {learner!r}.")
        try:
            LearnerRecipe.from_mapping(learner)
        except AlbenchError as exc:
            raise SuiteError(f"Suite {path}: {exc}") from None
    for scenario in scenarios:
        if not isinstance(scenario, dict):
            raise SuiteError(f"Suite {path}: scenario must be a mapping, got {scenario!r}.")
        kind = str(scenario.get("kind", "iterative"))
        try:
            scenario_cls: Any = SCENARIOS.get(kind)
            sc = scenario_cls.from_mapping(scenario)
            for comp in methods:
                sc.check_method(comp.name, created[id(comp)].needs())
        except AlbenchError as exc:
            raise SuiteError(f"Suite {path}: {exc}") from None
    cells = tuple(
        CellSpec(dataset=d, imbalance=i, method=m, learner=lr, scenario=s, seed=seed)
        for d, i, s, lr, seed, m in itertools.product(datasets, imbalances, scenarios, learners, seeds, methods)
    )
    cells = cells + _reference_cells(cells)
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"Suite {path}: the grid contains duplicate cells (the same entry listed twice).")
    report = raw.get("report", {}) or {}
    if not isinstance(report, dict):
        raise SuiteError(f"Suite {path}: report must be a mapping of report options, got {report!r}.")
    return Suite(name=str(raw.get("name", path.stem)), path=path, description=str(raw.get("description", "")),
                 cells=cells, report=report)
