"""Checks that need the data, run once per setting before any cell of a sweep starts.

What a suite can say about its budget is checked when it loads (``scenario.check_budget``); whether
the budget fits the *imbalanced* pool depends on the data. Without this check a budget too large for
the pool fails every cell of the setting at its start, and again on every rerun.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from benchmark.core.errors import AlbenchError, DataError, SuiteError
from benchmark.core.seeding import canonical_json
from benchmark.core.spec import CellSpec
from benchmark.scenarios.runner import scenario_of


def check_pools(cells: Iterable[CellSpec], data_root: str | Path | None, suite_path: str | Path = "<suite>") -> None:
    """Build the paired splits of one cell per (dataset, imbalance, scenario) (the first seed) and refuse
    the sweep, naming the setting and the numbers, when they cannot be made (the budget exceeds the
    imbalanced pool, a pool_size larger than the data, ...). Missing data raises DataError, as the data
    check does; pass only cells whose data is present to check the others."""
    seen: set[str] = set()
    for cell in cells:
        d = cell.to_dict()
        key = canonical_json([d["dataset"], d["imbalance"], d["scenario"]])
        if key in seen:
            continue
        seen.add(key)
        scenario = scenario_of(cell)
        try:
            scenario.load_splits(cell, data_root)
        except (SuiteError, DataError):
            raise
        except AlbenchError as exc:
            setting = (f"dataset {cell.dataset.name}, imbalance {cell.imbalance.name} {cell.imbalance.params or ''}, "
                       f"scenario {d['scenario']}")
            raise SuiteError(f"suite {suite_path}: the cells of {setting} cannot run: {exc} (checked on seed {cell.seed} before any cell "
                             f"started; nothing was run or stored).") from None
