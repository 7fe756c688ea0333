"""The stored cells of several suites as one comparison table: per round and per seed's AUBC.

Method labels are the leaderboard's (``leaderboard.mark``: † oracle, ‡ labels outside the budget);
settings are ``consolidate.setting_columns()`` and named by ``describe_setting`` (a number is added
when two different settings would read the same). A cell two suites share counts once; a second cell
with the same setting, label and seed but another spec is left out and said so.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from benchmark.report import leaderboard as lb
from benchmark.report.consolidate import describe_setting, setting_columns

ROUND_COLUMNS = ["setting", "method", "seed", "round", "labels_used", "balanced_accuracy"]


@dataclass
class CompareData:
    """``rounds``: one row per (setting, method, seed, round); ``aubc``: one per (setting, method, seed),
    the leaderboard's AUBC of balanced accuracy; ``keys``: setting name → its setting-column values."""

    rounds: pd.DataFrame
    aubc: pd.DataFrame
    keys: dict[str, tuple] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def settings(self) -> list[str]:
        return list(self.keys)

    @property
    def methods(self) -> list[str]:
        return sorted(self.rounds["method"].unique()) if len(self.rounds) else []


def _names(keys: list[tuple]) -> dict[tuple, str]:
    """A readable, unique name per setting key (``describe_setting``, numbered where two collide)."""
    titles = [describe_setting(k) for k in keys]
    seen: dict[str, int] = {}
    out = {}
    for key, title in zip(keys, titles):
        seen[title] = seen.get(title, 0) + 1
        out[key] = title if titles.count(title) == 1 else f"{title} ({seen[title]})"
    return out


def collect(tables: Mapping[str, pd.DataFrame]) -> CompareData:
    """One comparison table from each suite's consolidated table (``consolidate.consolidate``)."""
    frames = [t.assign(suite=name) for name, t in tables.items() if len(t)]
    if not frames:
        return CompareData(pd.DataFrame(columns=ROUND_COLUMNS), pd.DataFrame(columns=["setting", "method", "seed", "aubc"]))
    table = pd.concat(frames, ignore_index=True)
    skipped: list[str] = []
    table = table.drop_duplicates(["cell_id", "round"], keep="first")  # a cell two suites share counts once
    if "extra_labels" not in table:
        table = table.assign(extra_labels=0)
    table = table.assign(method=[lb.mark(str(m), bool(o), int(e)) for m, o, e in
                                 zip(table["method"], table["uses_hidden_labels"], table["extra_labels"])])
    cells = table.drop_duplicates("cell_id")
    twins = cells[cells.duplicated(setting_columns() + ["method", "seed"], keep="first")]
    if len(twins):
        for _, row in twins.iterrows():
            skipped.append(f"cell {row['cell_id']} of suite {row['suite']} ({row['method']}, seed {row['seed']}): "
                           f"another cell with the same setting, label and seed came first; left out")
        table = table[~table["cell_id"].isin(twins["cell_id"])]
    keys = list(dict.fromkeys(map(tuple, table[setting_columns()].itertuples(index=False))))
    names = _names(keys)
    setting = [names[k] for k in map(tuple, table[setting_columns()].itertuples(index=False))]
    table = table.assign(setting=setting)
    aubc = lb.per_seed_summary(table)  # the leaderboard's AUBC per (setting, method, seed)
    aubc = aubc.assign(setting=[names[k] for k in map(tuple, aubc[setting_columns()].itertuples(index=False))])
    rounds = table[ROUND_COLUMNS].sort_values(["setting", "method", "seed", "round"], kind="stable")
    return CompareData(rounds.reset_index(drop=True),
                       aubc[["setting", "method", "seed", "aubc"]].reset_index(drop=True),
                       {names[k]: k for k in keys}, skipped)
