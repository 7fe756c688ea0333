"""``albench tune``: an optuna study per (method, setting) over the search space the method declares.

A method declares what may be tuned as a class attribute, one entry per constructor parameter::

    search_space = {"samples": ("int", 8, 128, "log"),        # int in [8, 128], log scale
                    "temperature": ("float", 0.1, 10.0, "log"),
                    "weight": ("float", 0.0, 1.0),             # uniform
                    "labels": ("categorical", ["pred", "pyz"])}

For each setting of the suite (dataset, imbalance, learner, scenario) one study runs: a trial
suggests parameters, runs the method's cell on the suite's first seed (or first ``seeds``) with
``evaluate_on: validation`` (every round is scored on the balanced validation split; the test images
are never read) and returns the validation AUBC of balanced accuracy (the mean over the seeds).
After each evaluated round the running AUBC is reported (``run_cell``'s ``on_round``); optuna's
MedianPruner stops a trial that falls below the median of the finished trials at that round.

Storage: ``<results>/tune/<suite>.db`` (SQLite), one study per (method, setting) named
``<method>-<hash>``, the hash of everything that defines the objective (method, its version, fixed
parameters, search space, setting, seeds, engine versions), so a rerun resumes its study and
several workers (``albench tune`` started several times) share it. The tuning cells go to the tune
store ``<results>/tune/cells/`` (never the suite's results), so a trial that repeats parameters reads
its cells back instead of training again. The sampler is TPE seeded from ``--sampler-seed``, the
study and its trial count, so a study is reproducible given the same trial order.

Output: the best parameters as a suite fragment, ``<results>/tune/<suite>.<method>.yaml``: a
``method:`` list entry ``{name: X, <best params>, label: "X (tuned, N trials)"}`` to append to the
suite's ``method:`` list, or, for a suite of several settings (each tuned apart), ``grids:`` entries
pinning each setting. ``--merge PATH`` writes the suite merged with the fragment (a suite
``albench run`` takes). The leaderboard marks "(tuned, N trials)" rows and states the budget.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.errors import AlbenchError, SuiteError

TUNE_VERSION = "1"  # bump when the objective changes: it is part of every study's name
KINDS = ("int", "float", "categorical")
OBJECTIVE = "AUBC of balanced accuracy on the validation split"
SCALAR = (type(None), bool, int, float, str)  # what optuna stores as a categorical choice


# ----------------------------------------------------------------------------- search space
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
                           f"(see benchmark/tune.py), or tune another method.")
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
    """Keyword parameters of a method class's constructor; None when it takes ``**kwargs``."""
    target = getattr(factory, "base_factory", None) or factory  # a +bal twin passes its parameters on
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _defaults(factory: Any) -> dict[str, Any]:
    target = getattr(factory, "base_factory", None) or factory
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def search_space_of(method: str) -> dict[str, Dimension]:
    """The validated search space a registered method declares (a ``+bal`` twin: its base method's)."""
    from benchmark.core.registry import METHODS

    factory = METHODS.get(method)
    space = getattr(factory, "search_space", None)
    if space is None and hasattr(factory, "base_factory"):
        space = getattr(factory.base_factory, "search_space", None)
    return parse_search_space(space, method, factory)


# ----------------------------------------------------------------------------- settings and studies
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
    start = {n: v for n, v in {**_defaults(METHODS.get(method)), **suite_start}.items()
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


# ----------------------------------------------------------------------------- running studies
@dataclass
class StudyOutcome:
    plan: StudyPlan
    study_name: str
    best_params: dict[str, Any]
    best_value: float
    complete: int
    pruned: int
    failed: int

    @property
    def trials(self) -> int:
        """Trials spent: finished (complete) and stopped early (pruned)."""
        return self.complete + self.pruned

    def entry(self) -> dict[str, Any]:
        """The suite ``method:`` entry: the tuned parameters, labelled "(tuned, N trials)"."""
        from benchmark.report.leaderboard import tuned_label

        return {"name": self.plan.method, **dict(self.plan.params), **self.best_params,
                "label": tuned_label(self.plan.method, self.trials)}


@dataclass
class TuneReport:
    suite_name: str
    suite_path: Path
    method: str
    db: Path
    studies: list[StudyOutcome] = field(default_factory=list)
    fragment_path: Path | None = None


def storage_url(db: Path) -> str:
    return f"sqlite:///{db.resolve()}"


def _storage(db: Path) -> Any:
    import optuna

    db.parent.mkdir(parents=True, exist_ok=True)
    # several workers may share the file: wait for SQLite's lock rather than fail
    return optuna.storages.RDBStorage(storage_url(db), engine_kwargs={"connect_args": {"timeout": 600}})


def _require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise AlbenchError("albench tune needs optuna: pip install 'albench[tune]' (or pip install optuna).") from None
    return optuna


def open_study(p: StudyPlan, db: Path, sampler_seed: int = 0, pruner: Any = None,
               enqueue_defaults: bool = True) -> Any:
    """The plan's study in ``db`` (created or resumed), with a seeded TPE sampler and ``pruner``."""
    optuna = _require_optuna()
    from benchmark.core.seeding import derive_seed

    name = p.name
    study = optuna.create_study(study_name=name, storage=_storage(db), direction="maximize", load_if_exists=True,
                                pruner=pruner or optuna.pruners.NopPruner())
    existing = len(study.trials)
    # seeded from the trial count too: a resumed study draws new parameters, not the first call's again
    study.sampler = optuna.samplers.TPESampler(seed=derive_seed("tune", sampler_seed, name, existing) % 2**32)
    if existing == 0:
        for key, value in {"method": p.method, "params": dict(p.params), "setting": p.setting.title(),
                           "seeds": list(p.seeds), "objective": OBJECTIVE,
                           "space": {n: d.to_dict() for n, d in p.dims.items()}}.items():
            study.set_user_attr(key, value)
        if enqueue_defaults and p.start:  # the first trial: the untuned values, where the space holds them
            study.enqueue_trial(dict(p.start), skip_if_exists=True)
    return study


def objective(p: StudyPlan, store: Any, data_root: str | Path | None = None,
              prune: bool = True) -> Callable[[Any], float]:
    """The trial function: run (or read back from the tune store) the plan's validation cells and return
    their mean AUBC; report the running AUBC after each evaluated round and stop when told to prune."""
    import optuna

    from benchmark.core.metrics import area_under_budget_curve
    from benchmark.scenarios.runner import run_cell

    class Reporter:
        """run_cell's on_round: the running AUBC (mean with the seeds done) as the next intermediate value."""

        def __init__(self, trial: Any, seed: int, done: list[float], step: int):
            self.trial, self.seed, self.done, self.step = trial, seed, done, step
            self.curve: list[tuple[float, float]] = []

        def __call__(self, row: Mapping[str, Any]) -> None:
            self.curve.append((float(row["labels_used"]), float(row["balanced_accuracy"])))
            running = area_under_budget_curve([c[0] for c in self.curve], [c[1] for c in self.curve])
            self.trial.report((sum(self.done) + running) / (len(self.done) + 1), self.step)
            self.step += 1
            if prune and self.trial.should_prune():
                raise optuna.TrialPruned(f"validation AUBC {running:.4f} after round {int(row['round'])} of seed "
                                         f"{self.seed} is below the median of the finished trials there")

    def run(trial: Any) -> float:
        component = p.component(suggest(trial, p.dims))
        done: list[float] = []
        step = 0
        specs = [p.setting.spec(component, seed) for seed in p.seeds]
        trial.set_user_attr("cells", [spec.cell_id for spec in specs])
        for spec in specs:
            report = Reporter(trial, spec.seed, done, step)
            if store.is_done(spec.cell_id):  # the same parameters ran before: replay their rounds
                for row in store.read_rounds(spec.cell_id).sort_values("round").to_dict("records"):
                    report(row)
                done.append(float(store.read_summary(spec.cell_id)["aubc"]))
            else:
                result = run_cell(spec, data_root, on_round=report)
                store.write_cell(result)
                done.append(float(result.summary["aubc"]))
            step = report.step
        trial.set_user_attr("aubc_per_seed", done)
        return float(sum(done) / len(done))

    return run


def tune(suite: str | Path, method: str, trials: int, *, results: str | Path = "results",
         params: Mapping[str, Any] | None = None, seeds: int = 1, data_root: str | Path | None = None,
         sampler_seed: int = 0, prune: bool = True, prune_startup: int = 5, prune_warmup: int = 1,
         max_trials: int | None = None, enqueue_defaults: bool = True, fragment: str | Path | None = None,
         merge: str | Path | None = None, on_trial: Callable[[StudyPlan, Any], None] | None = None) -> TuneReport:
    """Run ``trials`` more trials of the study of every setting of ``suite`` for ``method`` (optuna's
    n_trials: a rerun adds trials to the same studies), then write the best parameters as a suite
    fragment (``fragment``, default ``<results>/tune/<suite>.<method>.yaml``) and, with ``merge``, the suite
    merged with it. ``max_trials`` caps a study's total (complete + pruned) trials: workers sharing a
    study stop there. Pruning: MedianPruner(n_startup_trials=prune_startup, n_warmup_steps=prune_warmup)."""
    optuna = _require_optuna()
    from benchmark.execute.store import ResultStore
    from benchmark.execute.suite import load_suite, resolve_suite_path

    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 0:
        raise AlbenchError(f"--trials must be a non-negative integer, got {trials!r}.")
    the_suite = load_suite(suite)
    plans = plan(the_suite, method, params, seeds)
    _check_data(plans, data_root)
    root = Path(results) / "tune"
    db = root / f"{the_suite.name}.db"
    store = ResultStore(root)
    store.clean_stale()
    report = TuneReport(the_suite.name, resolve_suite_path(suite), method, db)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    for p in plans:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=prune_startup, n_warmup_steps=prune_warmup)
        study = open_study(p, db, sampler_seed, pruner if prune else None, enqueue_defaults)
        n = trials
        if max_trials is not None:
            n = min(n, max(0, max_trials - len(study.get_trials(deepcopy=False, states=finished))))
        callbacks = [] if max_trials is None else [optuna.study.MaxTrialsCallback(max_trials, states=finished)]
        if on_trial is not None:
            callbacks.append(lambda _study, frozen, p=p: on_trial(p, frozen))
        if n:
            study.optimize(objective(p, store, data_root, prune), n_trials=n, callbacks=callbacks, catch=())
        report.studies.append(outcome(p, study))
    report.fragment_path = write_fragment(report, Path(fragment) if fragment else root / f"{the_suite.name}.{method}.yaml")
    if merge is not None:
        write_merged(report, Path(merge))
    return report


def outcome(p: StudyPlan, study: Any) -> StudyOutcome:
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    complete = states.count(TrialState.COMPLETE)
    if not complete:
        raise AlbenchError(f"Study {study.study_name} has no complete trial yet ({len(states)} trial(s): "
                           f"{', '.join(sorted({s.name.lower() for s in states})) or 'none'}); run more trials.")
    best = study.best_trial
    return StudyOutcome(p, study.study_name, dict(best.params), float(best.value), complete,
                        states.count(TrialState.PRUNED), states.count(TrialState.FAIL))


def _check_data(plans: Sequence[StudyPlan], data_root: str | Path | None) -> None:
    from benchmark.data.loading import check_data

    for dataset in {p.setting.dataset.name: p.setting.dataset for p in plans}.values():
        check_data(dataset, data_root)


# ----------------------------------------------------------------------------- suite fragments
def fragment_of(report: TuneReport) -> dict[str, Any]:
    """The tuned entries as suite keys: ``method: [entry]`` for a suite of one setting, otherwise one
    ``grids:`` entry per setting (the setting pinned, its seeds, ``method: [entry]``)."""
    if len(report.studies) == 1:
        return {"method": [report.studies[0].entry()]}
    return {"grids": [{**o.plan.setting.axes(), "method": [o.entry()]} for o in report.studies]}


def _header(report: TuneReport) -> str:
    lines = [f"albench tune {report.suite_name} --method {report.method}: objective {OBJECTIVE}",
             f"(the test split is never scored); optuna studies in {report.db}."]
    for o in report.studies:
        lines.append(f"{o.plan.setting.title()}: study {o.study_name}, {o.trials} trials ({o.complete} complete, "
                     f"{o.pruned} pruned), seeds {list(o.plan.seeds)}, best validation AUBC {o.best_value:.4f}")
    if len(report.studies) == 1:
        lines.append("Append the method entry to the suite's method: list, in place of an entry with the same "
                     "parameters (or use --merge to write the merged suite).")
    else:
        lines.append("Put these grids first in the suite's grids: (a suite without grids: follow them with `{}`, "
                     "the suite's own grid), or use --merge.")
    return "".join(f"# {line}\n" for line in lines)


def _dump(data: Mapping[str, Any], header: str) -> str:
    import yaml

    return header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)


def write_fragment(report: TuneReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dump(fragment_of(report), _header(report)))
    tmp.replace(path)
    return path


def _is_tuned_entry(value: Any, method: str) -> bool:
    from benchmark.report.leaderboard import tuned_trials

    return isinstance(value, Mapping) and value.get("name") == method and bool(tuned_trials(str(value.get("label", ""))))


def _same_cell_entry(value: Any, entry: Mapping[str, Any]) -> bool:
    """Whether a suite method entry is ``entry`` up to its label (label is not part of a cell's identity)."""
    from benchmark.core.spec import Component

    try:
        return Component.parse(value, "method") == Component.parse(dict(entry), "method")
    except AlbenchError:
        return False


def merge_fragment(raw: Mapping[str, Any], report: TuneReport) -> dict[str, Any]:
    """The suite mapping ``raw`` with the tuned entries of ``report``; earlier tuned entries of the same
    method are replaced. One setting and no grids: the entry joins the top-level method list (an
    untuned entry with the very parameters found best is relabelled, not duplicated); otherwise every
    setting gets a grid of its own, listed before the suite's grids (``{}``: the suite's own grid) so
    that a tuned cell equal to an untuned one keeps the tuned label."""
    out = dict(raw)
    method = report.method
    grids = [g for g in out.get("grids", []) or []
             if not (isinstance(g.get("method"), list) and g["method"] and all(_is_tuned_entry(m, method) for m in g["method"]))]
    methods = out.get("method", [])
    methods = [m for m in (methods if isinstance(methods, list) else [methods]) if not _is_tuned_entry(m, method)]
    out["method"] = methods
    if "grids" not in out and len(report.studies) == 1:
        entry = report.studies[0].entry()
        out["method"] = [m for m in methods if not _same_cell_entry(m, entry)] + [entry]
        return out
    out["grids"] = [{**o.plan.setting.axes(), "method": [o.entry()]} for o in report.studies] + (grids or [{}])
    return out


def write_merged(report: TuneReport, path: Path) -> Path:
    """Write the suite merged with the fragment to ``path`` (into ``path`` itself when it exists, so
    tuning several methods accumulates there); the result loads with ``albench run``."""
    import yaml

    from benchmark.execute.suite import expand

    base = path if path.is_file() else report.suite_path
    raw = yaml.safe_load(base.read_text())
    merged = merge_fragment(raw, report)
    if not path.is_file():
        merged["name"] = f"{raw.get('name', report.suite_path.stem)}-tuned"
    expand(merged, path)  # refuse to write a suite albench run would reject
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dump(merged, f"# {report.suite_name} with tuned entries from albench tune (see "
                                  f"{report.fragment_path}).\n"))
    return path


# ----------------------------------------------------------------------------- command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    """``albench tune``'s arguments (without --results / --plugins, which cli.py's _common adds)."""
    p.add_argument("suite", help="suite name (suites/<name>.yaml) or path to a YAML file")
    p.add_argument("--method", required=True, help="registered method with a search_space (e.g. mc_entropy)")
    p.add_argument("--trials", type=int, required=True, help="trials this call adds to each study (a rerun resumes)")
    p.add_argument("--max-trials", type=int, default=None,
                   help="stop when a study holds this many trials in all (for several workers sharing it)")
    p.add_argument("--seeds", type=int, default=1, help="tune on the first k seeds of each setting (mean AUBC)")
    p.add_argument("--params", default=None,
                   help="fixed parameters as JSON (default: the suite's entry for the method); not searched")
    p.add_argument("--sampler-seed", type=int, default=0, help="TPE sampler seed (default 0)")
    p.add_argument("--no-prune", action="store_true", help="run every trial to the end (no MedianPruner)")
    p.add_argument("--prune-startup", type=int, default=5, help="complete trials before pruning starts (default 5)")
    p.add_argument("--no-defaults-first", action="store_true",
                   help="do not make the method's defaults the first trial of a new study")
    p.add_argument("--fragment", default=None, help="where to write the suite fragment "
                                                    "(default <results>/tune/<suite>.<method>.yaml)")
    p.add_argument("--merge", default=None, metavar="PATH",
                   help="also write the suite merged with the tuned entries to PATH (merged into PATH if it exists)")
    p.add_argument("--data-root", default=None, help="where dataset files live (else $ALBENCH_DATA)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def run_from_args(args: argparse.Namespace) -> int:
    """``albench tune``: run the studies, print the best parameters and where the fragment is."""
    import json

    from benchmark.core.registry import discover

    _require_optuna().logging.set_verbosity(30)  # WARNING: one line per trial below instead of optuna's
    discover(getattr(args, "plugins", []) or [])
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        params = json.loads(args.params) if args.params is not None else None
    except json.JSONDecodeError as exc:
        raise AlbenchError(f"--params must be a JSON object, e.g. '{{\"layers\": [\"conv2\"]}}': {exc}") from None
    if params is not None and not isinstance(params, dict):
        raise AlbenchError(f"--params must be a JSON object, got {args.params!r}.")
    started = time.perf_counter()

    def on_trial(p: StudyPlan, frozen: Any) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in frozen.params.items())
        value = f"validation AUBC {frozen.value:.4f}" if frozen.value is not None else \
            f"stopped after {len(frozen.intermediate_values)} round(s)"
        print(f"trial {frozen.number} [{p.method} · {p.setting.title()}]: {shown} → {frozen.state.name.lower()}, "
              f"{value} ({time.perf_counter() - started:.0f}s)", flush=True)

    report = tune(args.suite, args.method, args.trials, results=args.results, params=params, seeds=args.seeds,
                  data_root=args.data_root, sampler_seed=args.sampler_seed, prune=not args.no_prune,
                  prune_startup=args.prune_startup, max_trials=args.max_trials,
                  enqueue_defaults=not args.no_defaults_first, fragment=args.fragment, merge=args.merge,
                  on_trial=on_trial)
    for o in report.studies:
        best = ", ".join(f"{k}={v}" for k, v in o.best_params.items())
        print(f"{o.plan.setting.title()}: best {best} (validation AUBC {o.best_value:.4f}) after {o.trials} trials "
              f"({o.complete} complete, {o.pruned} pruned) — study {o.study_name} in {report.db}")
    print(f"wrote {report.fragment_path}" + (f" and {args.merge}" if args.merge else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark.tune", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(p)
    p.add_argument("--results", default="results", help="result store folder (default: results/); studies go to <results>/tune/")
    p.add_argument("--plugins", action="append", default=[], metavar="DIR", help="extra plugin folder (repeatable)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_from_args(args)
    except AlbenchError as exc:
        print(f"albench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("albench: interrupted. Finished trials are in the study; run the same command again to resume.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
