"""``tune()``: run every setting's study for a method, then write the suite fragment (and the merged suite)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.core.errors import AlbenchError
from benchmark.tune.fragment import write_fragment, write_merged
from benchmark.tune.outcome import TuneReport, outcome
from benchmark.tune.plan import StudyPlan, plan
from benchmark.tune.study import _require_optuna, objective, open_study


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


def _check_data(plans: Sequence[StudyPlan], data_root: str | Path | None) -> None:
    from benchmark.data.loading import check_data

    for dataset in {p.setting.dataset.name: p.setting.dataset for p in plans}.values():
        check_data(dataset, data_root)
