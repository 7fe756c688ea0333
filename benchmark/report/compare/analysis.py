"""Everything ``albench compare`` reports for a set of suites: the penalty matrix, the ranks, label
efficiency and seeds advice, plus one line for everything it had to skip."""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.core.errors import CompareError
from benchmark.report.compare import pairwise, power, ranks
from benchmark.report.compare.data import CompareData, collect
from benchmark.report.compare.efficiency import setting_efficiency


@dataclass
class Comparison:
    name: str
    suites: list[str]
    data: CompareData
    penalty: pairwise.Penalty
    ranks: ranks.Ranks | None
    efficiency: pd.DataFrame
    seeds: pd.DataFrame
    baseline: str = "random"
    targets: list[float] = field(default_factory=list)
    alpha: float = pairwise.ALPHA
    skipped: list[str] = field(default_factory=list)
    min_seeds: int = pairwise.MIN_SEEDS  # the fewest common seeds a pair is tested on


def seeds_advice(aubc: pd.DataFrame, alpha: float = pairwise.ALPHA, target_power: float = power.POWER) -> pd.DataFrame:
    """Per setting, each pair of adjacent methods in the AUBC ranking: the paired difference, its paired
    t-test now (``scipy.stats.ttest_rel``) and the seeds a paired t-test would need at ``target_power``."""
    rows = []
    for setting, s in aubc.groupby("setting", sort=False):
        mean = s.groupby("method")["aubc"].mean()
        order = sorted(mean.index, key=lambda m: (-round(float(mean[m]), 12), m))
        wide = s.pivot_table(index="seed", columns="method", values="aubc", aggfunc="mean")
        for rank, (upper, lower) in enumerate(zip(order, order[1:]), start=1):
            d = (wide[upper] - wide[lower]).dropna().to_numpy()
            p = np.nan
            if len(d) >= 2 and np.any(d != d[0]):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    p = float(stats.ttest_rel(*_paired(wide, upper, lower)).pvalue)
            rows.append({"setting": setting, "rank": rank, "method": upper, "next": lower,
                         "aubc_gap": float(d.mean()) if len(d) else np.nan,
                         "gap_sd": float(d.std(ddof=1)) if len(d) >= 2 else np.nan,
                         "common_seeds": len(d), "p_now": p,
                         "seeds_needed": power.seeds_to_separate(d, alpha=alpha, power=target_power)})
    return pd.DataFrame(rows, columns=["setting", "rank", "method", "next", "aubc_gap", "gap_sd", "common_seeds",
                                       "p_now", "seeds_needed"])


def _paired(wide: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    both = wide[[a, b]].dropna()
    return both[a].to_numpy(float), both[b].to_numpy(float)


def _seed_notes(data: CompareData, min_seeds: int) -> list[str]:
    out = []
    counts = data.aubc.groupby(["setting", "method"], sort=False)["seed"].nunique()
    for (setting, method), n in counts.items():
        if n < min_seeds:
            out.append(f"{method} has {n} seed{'s' if n != 1 else ''} in {setting}: left out of that setting's "
                       f"paired tests (they need {min_seeds} seeds both methods share)")
    return out


def _shared_settings_note(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    if len([t for t in tables.values() if len(t)]) < 2:
        return []
    from benchmark.report.consolidate import setting_columns

    per_suite = {name: set(map(tuple, t[setting_columns()].drop_duplicates().itertuples(index=False)))
                 for name, t in tables.items() if len(t)}
    names = list(per_suite)
    if set.intersection(*per_suite.values()):
        return []
    return [f"suites {', '.join(names)} share no setting: their methods meet only inside each setting, and the "
            f"ranks use the largest block of methods and settings in which every method ran in every setting"]


def analyse(name: str, tables: Mapping[str, pd.DataFrame], *, baseline: str = "random",
            targets: Sequence[float] = (), blocks: str = "auto", posthoc: str = "nemenyi",
            alpha: float = pairwise.ALPHA, min_seeds: int = pairwise.MIN_SEEDS,
            skipped: Sequence[str] = ()) -> Comparison:
    """``tables``: suite name → its consolidated table (finished cells only). A CompareError when no
    suite has a finished cell; anything less is skipped and said so in ``Comparison.skipped``."""
    data = collect(tables)
    if data.rounds.empty:
        raise CompareError(f"no finished cells in suite(s) {', '.join(tables)}: nothing to compare "
                           f"(run `albench run SUITE` first)")
    notes = list(skipped) + data.skipped + _shared_settings_note(tables) + _seed_notes(data, min_seeds)
    penalty = pairwise.penalty_matrix(data.rounds, alpha=alpha, min_seeds=min_seeds)
    few = {(s, m) for s, m, n in data.aubc.groupby(["setting", "method"])["seed"].nunique().reset_index()
           .itertuples(index=False) if n < min_seeds}
    for setting, i, j, n in penalty.skipped:
        if (setting, i) not in few and (setting, j) not in few:
            notes.append(f"{i} vs {j} in {setting}: {n} common seed(s); pair skipped in the penalty matrix")
    if not penalty.settings:
        notes.append("penalty matrix: no setting has two methods with "
                     f"{min_seeds} common seeds and a round after the first selection")
    try:
        result = ranks.rank_methods(data.aubc, blocks=blocks, posthoc=posthoc, alpha=alpha)
        notes += result.left_out
        ranked: ranks.Ranks | None = result
    except CompareError as exc:
        ranked = None
        notes.append(f"ranks and critical-difference diagram skipped: {exc}")
    eff = [setting_efficiency(data.rounds[data.rounds["setting"] == s], baseline, targets, key=data.keys[s])
           .assign(setting=s) for s in data.settings]
    efficiency = pd.concat([e for e in eff if len(e)], ignore_index=True) if any(len(e) for e in eff) else pd.DataFrame()
    no_base = [s for s in data.settings if baseline not in set(data.rounds.loc[data.rounds["setting"] == s, "method"])]
    if no_base:
        notes.append(f"{len(no_base)} setting(s) have no {baseline!r} row, so no labels saved vs {baseline}: "
                     + "; ".join(no_base))
    return Comparison(name, list(tables), data, penalty, ranked, efficiency, seeds_advice(data.aubc, alpha),
                      baseline, list(targets), alpha, notes, min_seeds)
