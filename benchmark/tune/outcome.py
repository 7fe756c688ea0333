"""What studies found: one StudyOutcome per study (best parameters, trial counts) and the
TuneReport of an ``albench tune`` call."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.errors import AlbenchError
from benchmark.tune.plan import StudyPlan


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
