"""The optuna side of a study: its SQLite storage, creating or resuming it with a seeded TPE sampler,
and the trial function (run or read back the validation cells, report the running AUBC, prune)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmark.core.errors import AlbenchError
from benchmark.tune.plan import OBJECTIVE, StudyPlan
from benchmark.tune.space import suggest


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
