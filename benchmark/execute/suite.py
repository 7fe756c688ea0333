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

import inspect
import itertools
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from benchmark.core.errors import AlbenchError, Rule, SuiteError, check_fields, check_value, did_you_mean, shown
from benchmark.core.registry import (
    DATASETS,
    IMBALANCES,
    METHODS,
    SCENARIOS,
    Registry,
    builtin_folder,
)
from benchmark.core.seeding import canonical_json
from benchmark.core.spec import CellSpec, Component
from benchmark.learn.learner import LearnerRecipe
from benchmark.scenarios.runner import scenario_of

AXES = ("dataset", "imbalance", "method", "learner", "scenario", "seeds")
OPTIONAL = ("name", "description", "executor", "notes", "report", "grids")
SUITES_DIR = builtin_folder("suites")
EXECUTOR_NAMES = ("inline", "local", "slurm")
SEEDS_ALLOWED = "a positive integer n (seeds 0..n-1) or a non-empty list of distinct integers >= 0"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    cells: tuple[CellSpec, ...]
    report: dict[str, Any] = field(default_factory=dict)  # options for `albench curves` (see benchmark.report.curves)


@dataclass(frozen=True)
class ReportOptions:
    """The ``report:`` keys (read by ``albench curves``)."""

    minority_classes: list[int] | None = None  # default: the classes the imbalance decimated
    confusion_round: int = 3
    confusion_methods: list[str] = field(default_factory=list)  # method labels as the reports show them

    rules: ClassVar[Mapping[str, Rule]] = {"minority_classes": Rule(low=0, distinct=True),
                                           "confusion_round": Rule(low=0), "confusion_methods": Rule(distinct=True)}


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
        raise SuiteError(f"suite {path} is not valid YAML{where}: {problem}. Check the brackets and "
                         f"indentation there (see suites/quick.yaml for the format).") from None
    suite = expand(raw, path)
    _check_not_shadowing(suite)
    return suite


def _check_not_shadowing(suite: Suite) -> None:
    """A suite file outside the built-in folder may not reuse a built-in suite's name with other content:
    its reports would land on (and overwrite) the built-in's ``reports/<name>/`` and parquet."""
    for builtin in (SUITES_DIR / f"{suite.name}.yaml", SUITES_DIR / f"{suite.name}.yml"):
        if not builtin.is_file() or builtin.resolve() == suite.path.resolve():
            continue
        if builtin.read_bytes() == suite.path.read_bytes():
            return  # an unchanged copy writes exactly what the built-in writes
        raise SuiteError(f"suite {suite.path}: name: {suite.name} is the name of the built-in suite {builtin}, so its "
                         f"reports would overwrite reports/{suite.name}/ and results/{suite.name}.parquet. Give "
                         f"it a name of its own (e.g. name: {suite.name}-{suite.path.stem}"
                         f"{'-copy' if suite.path.stem == suite.name else ''}).")


def expand(raw: Any, path: Path = Path("<inline>")) -> Suite:
    """Expand a suite mapping into its cells. ``grids:`` (a list of partial suites) gives the union of
    several grids, each one the top-level keys overridden by its own (e.g. a per-dataset imbalance).

    Every key is checked before a cell exists; any error is one SuiteError ``suite <path>: <what is
    wrong, the key, what is allowed>``."""
    try:
        suite = _expand_grids(raw, path)
        _check_confusion_methods(suite)
        return suite
    except AlbenchError as exc:
        raise SuiteError(f"suite {path}: {exc}") from None


def _expand_grids(raw: Any, path: Path) -> Suite:
    if not (isinstance(raw, dict) and "grids" in raw):
        return _expand_one(raw, path)
    grids = raw["grids"]
    if not isinstance(grids, list) or not grids or not all(isinstance(g, dict) for g in grids):
        raise SuiteError(f"grids must be a non-empty list of mappings (partial suites), got {shown(grids)}.")
    base = {k: v for k, v in raw.items() if k != "grids"}
    parts = []
    for i, grid in enumerate(grids):
        try:
            if "grids" in grid:
                raise SuiteError("a grid cannot hold grids itself.")
            parts.append(_expand_one({**base, **grid}, path))
        except AlbenchError as exc:
            raise SuiteError(f"grids[{i}]: {exc}") from None
    seen: dict[str, CellSpec] = {}
    for part in parts:
        for cell in part.cells:
            seen.setdefault(cell.cell_id, cell)
    first = parts[0]
    return Suite(name=first.name, path=path, description=first.description, cells=tuple(seen.values()),
                 report=first.report)


def _expand_one(raw: Any, path: Path) -> Suite:
    if not isinstance(raw, dict):
        raise SuiteError(f"must be a YAML mapping with keys {list(AXES)}, got {type(raw).__name__}.")
    if "seed" in raw:
        raise SuiteError(f"seed: is not a suite key (seed: {shown(raw['seed'])} would be read as a seed count). "
                         f"seeds: takes a count (seeds: 3 runs seeds 0, 1, 2) or a list of seed values "
                         f"(seeds: [{shown(raw['seed'])}] runs that one seed).")
    _check_keys(raw)
    seeds = _seeds(raw)
    datasets = _components(raw, "dataset", DATASETS, None)
    imbalances = _components(raw, "imbalance", IMBALANCES, "none")
    methods = _components(raw, "method", METHODS, None)
    learners = _learners(raw.get("learner", {}))
    scenarios = _scenarios(raw.get("scenario", {}), methods)
    cells = tuple(
        CellSpec(dataset=d, imbalance=i, method=m, learner=lr, scenario=s, seed=seed)
        for d, i, s, lr, seed, (m, _) in itertools.product(
            [c for c, _ in datasets], [c for c, _ in imbalances], scenarios, learners, seeds, methods)
    )
    cells = cells + _reference_cells(cells)
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        raise SuiteError("the grid contains duplicate cells (the same entry listed twice).")
    report = raw.get("report") or {}
    check_fields(report, ReportOptions, "report", "the report section", ReportOptions.rules)
    return Suite(name=_suite_name(raw, path), path=path, description=_text(raw, "description"),
                 cells=cells, report=dict(report))


def _check_keys(raw: dict[str, Any]) -> None:
    allowed = AXES + OPTIONAL
    unknown = sorted((k for k in raw if k not in allowed), key=str)
    if unknown:
        hints = "".join(did_you_mean(k, allowed) for k in unknown)
        raise SuiteError(f"unknown key(s) {unknown}.{hints} Allowed: {list(allowed)}.")
    missing = [k for k in ("dataset", "method") if k not in raw]
    if missing:
        raise SuiteError(f"missing required key(s) {missing}. A suite needs at least a dataset and a method.")
    executor = raw.get("executor")
    if isinstance(executor, dict):  # a block: {name: slurm, partition: ..., ...} (checked by execute.slurm)
        executor = executor.get("name", "slurm")
    if executor is not None:
        check_value(executor, str, "executor", Rule(choices=EXECUTOR_NAMES))


def _suite_name(raw: dict[str, Any], path: Path) -> str:
    """``name`` names the report folder and ``results/<name>.parquet``: a plain folder name."""
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\"):
        raise SuiteError(f"name must be a non-empty string usable as a folder name (no '/' or '\\'), "
                         f"got {shown(name)}.")
    return name


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key, "")
    check_value(value, str, key)
    return str(value)


def _seeds(raw: dict[str, Any]) -> list[int]:
    key = "seeds"
    value = raw.get(key, 1)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SuiteError(f"{key} must be {SEEDS_ALLOWED}, got {value} (no seed, no cell).")
        return list(range(value))
    if not isinstance(value, list) or not value or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                             for s in value):
        raise SuiteError(f"{key} must be {SEEDS_ALLOWED}, got {shown(value)}.")
    twice = sorted({s for s in value if value.count(s) > 1})
    if twice:
        raise SuiteError(f"{key} must be {SEEDS_ALLOWED}; {twice} listed more than once (duplicate cells).")
    return list(value)


def _axis(raw: dict[str, Any], key: str, default: Any) -> list[Any]:
    """The entries of one axis: a list, or one value; an empty list is refused."""
    value = raw.get(key, default)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SuiteError(f"{key} is an empty list; give at least one {key} (a name, a mapping, or a list of them).")
    return items


def _components(raw: dict[str, Any], kind: str, registry: Registry[Any], default: Any) -> list[tuple[Component, Any]]:
    """The axis ``kind`` parsed, looked up and created (so a wrong name or parameter fails here), with
    no entry listed twice and no two entries shown under the same label."""
    items = _axis(raw, kind, default)
    created = []
    for i, value in enumerate(items):
        where = kind if len(items) == 1 else f"{kind}[{i}]"
        comp = _component(value, kind, where)
        created.append((comp, _create(registry, comp, kind)))
    comps = [c for c, _ in created]
    for i, comp in enumerate(comps):
        if comp in comps[:i]:
            raise SuiteError(f"{kind} {shown_as(Component(comp.name, comp.params))!r} is listed twice ({kind}[{comps.index(comp)}] and {kind}[{i}]); "
                             f"every entry must differ (a repeated entry gives duplicate cells).")
    labels = [shown_as(c) for c in comps]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise SuiteError(f"{kind}[{labels.index(label)}] and {kind}[{i}] are both shown as {label!r}; give each a "
                             f"distinct label (reports group results by it).")
    return created


def shown_as(comp: Component) -> str:
    """How reports label a component: its ``label``, else ``name`` or ``name(k=v, ...)`` (the same rule as
    ``benchmark.report.consolidate.component_label``)."""
    if comp.label:
        return comp.label
    params = comp.to_dict()["params"]
    return f"{comp.name}({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})" if params else comp.name


def _component(value: Any, kind: str, where: str) -> Component:
    form = f"a {kind} name or a mapping with a 'name' key (and parameters)"
    if isinstance(value, str) and value.strip():
        return Component(value)
    if not isinstance(value, Mapping) or "name" not in value:
        raise SuiteError(f"{where} must be {form}, got {shown(value)}.")
    check_value(value["name"], str, f"{where}.name")
    if value.get("label") is not None:
        check_value(value["label"], str, f"{where}.label")
    if "params" in value:
        check_value(value["params"], Mapping[str, Any], f"{where}.params")
    return Component.parse(value, kind)


def _create(registry: Registry[Any], comp: Component, kind: str) -> Any:
    """The component built from its parameters, after they are checked against its constructor."""
    factory = registry.get(comp.name)
    params = comp.to_dict()["params"]
    check_params(getattr(factory, "base_factory", factory), params, f"{kind} {comp.name!r}")
    try:
        return registry.create(comp.name, **params)
    except (TypeError, ValueError, KeyError) as exc:
        raise SuiteError(f"{kind} {comp.name!r} cannot be created with parameters {params}: {exc}") from None


def check_params(factory: Callable[..., Any], params: Mapping[str, Any], what: str) -> None:
    """SuiteError when ``params`` has a name the constructor does not take (listing the ones it takes)
    or a value that does not fit the parameter's annotation."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    accepted = [p for p in signature.parameters.values()
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [k for k in params if k not in {p.name for p in accepted}]
    if unknown and not open_ended:
        names = [p.name for p in accepted]
        close = "".join(did_you_mean(k, names) for k in unknown)
        takes = ("It accepts " + ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}"
                                           for p in accepted) if accepted else "It takes no parameters")
        raise SuiteError(f"Cannot create {what}: it has no parameter {', '.join(map(repr, unknown))}.{close} {takes}.")
    annotations = _annotations(factory)
    for key, value in params.items():
        check_value(value, annotations.get(key, Any), f"{what} parameter {key}")


def _annotations(factory: Callable[..., Any]) -> dict[str, Any]:
    """The constructor's resolved annotations ({} when they cannot be resolved: no type check then)."""
    fn = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return {}


def _learners(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SuiteError("learner is an empty list; give at least one learner recipe (a mapping).")
    for i, learner in enumerate(items):
        LearnerRecipe.from_mapping(learner, "learner" if len(items) == 1 else f"learner[{i}]")
    _reject_repeats(items, "learner")
    return items


def _scenarios(value: Any, methods: list[tuple[Component, Any]]) -> list[Any]:
    """Each scenario mapping checked by its kind's ``from_mapping``; every method's needs checked by it."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SuiteError("scenario is an empty list; give at least one scenario (a mapping).")
    for i, scenario in enumerate(items):
        where = "scenario" if len(items) == 1 else f"scenario[{i}]"
        try:
            if not isinstance(scenario, dict):
                raise SuiteError(f"scenario must be a mapping of scenario keys (with kind: one of "
                                 f"{', '.join(SCENARIOS.names())}), got {shown(scenario)}.")
            kind = scenario.get("kind", "iterative")
            check_value(kind, str, "scenario.kind")
            scenario_cls: Any = SCENARIOS.get(kind)
            sc = scenario_cls.from_mapping(scenario)
            for comp, method in methods:
                sc.check_method(comp.name, method.needs())
        except AlbenchError as exc:
            if len(items) == 1:
                raise
            raise SuiteError(f"{where}: {exc}") from None
    _reject_repeats(items, "scenario")
    return items


def _reject_repeats(items: list[Any], key: str) -> None:
    texts = [canonical_json(i) for i in items]
    for i, text in enumerate(texts):
        if text in texts[:i]:
            raise SuiteError(f"{key}[{texts.index(text)}] and {key}[{i}] are the same {key}; every entry must differ "
                             f"(a repeated entry gives duplicate cells).")


def _check_confusion_methods(suite: Suite) -> None:
    """``report.confusion_methods`` must name methods of the suite, as the reports label them."""
    wanted = suite.report.get("confusion_methods") or []
    labels = sorted({shown_as(c.method) for c in suite.cells})
    missing = [m for m in wanted if m not in labels]
    if missing:
        hints = "".join(did_you_mean(m, labels) for m in missing)
        raise SuiteError(f"report.confusion_methods {missing} are not methods of this suite.{hints} "
                         f"Its methods are labelled {labels}.")
