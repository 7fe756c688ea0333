"""The leaderboard's two statistics columns, one setting at a time (called from ``leaderboard.build``).

- **labels saved vs the baseline** (``efficiency``): the labels the baseline needs to reach its own
  final accuracy minus the labels the method needs, with a 95% bootstrap interval over seeds;
  "—" where the method's mean curve never reaches it.
- **seeds to separate from the next row** (``power``): for each pair of adjacent rows of the ranking,
  the seeds a paired t-test on the per-seed AUBC needs to separate them at 80% power (α = 0.05),
  given the differences observed on the seeds both have.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from benchmark.report.colors import method_key
from benchmark.report.compare.efficiency import LEVEL, setting_efficiency
from benchmark.report.compare.power import ALPHA, POWER, seeds_to_separate

SAVED = "labels_saved"
SEEDS_NEXT = "seeds_to_separate_next"
MISSING = "—"


def add(ranking: pd.DataFrame, per_seed: pd.DataFrame, rounds: pd.DataFrame, baseline: str, key: Any) -> pd.DataFrame:
    """``ranking`` (best first, marked method names) with ``labels_saved`` (+ ``_lo``/``_hi``) and
    ``seeds_to_separate_next``. ``per_seed``: method, seed, aubc; ``rounds``: the setting's rows with
    method, seed, round, labels_used, balanced_accuracy (method names marked as in ``ranking``)."""
    baseline = next((m for m in ranking["method"] if method_key(m) == method_key(baseline)), baseline)
    eff = setting_efficiency(rounds, baseline, key=key)
    eff = eff[eff["target"] == "baseline final"].set_index("method") if len(eff) else pd.DataFrame()
    out = ranking.copy()
    for col, src in ((SAVED, "labels_saved"), (SAVED + "_lo", "saved_lo"), (SAVED + "_hi", "saved_hi")):
        out[col] = [float(eff.loc[m, src]) if m in eff.index else np.nan for m in out["method"]]
    aubc = per_seed.pivot_table(index="seed", columns="method", values="aubc", aggfunc="mean")
    advice = []
    for upper, lower in zip(out["method"], list(out["method"][1:]) + [None]):
        if lower is None or upper not in aubc or lower not in aubc:
            advice.append(np.nan)
            continue
        advice.append(seeds_to_separate((aubc[upper] - aubc[lower]).dropna().to_numpy()))
    out[SEEDS_NEXT] = advice
    return out


def _signed(x: float) -> str:
    if np.isposinf(x):
        return "+∞"
    if np.isneginf(x):
        return MISSING
    return f"{x:+.0f}"


def saved_text(is_baseline: bool, saved: float, lo: float, hi: float) -> str:
    """``+40 [+10, +70]``; "—" where the target is never reached (a bound: never reached in that replicate)."""
    if is_baseline:
        return "baseline"
    if not np.isfinite(saved):
        return MISSING
    if np.isnan(lo) or np.isnan(hi):
        return _signed(saved)
    return f"{_signed(saved)} [{_signed(lo)}, {_signed(hi)}]"


def seeds_text(n: float) -> str:
    """Seeds a paired t-test needs (``∞``: no difference observed; "" for the last row or too few seeds)."""
    if np.isnan(n):
        return ""
    return "∞" if np.isinf(n) else f"{int(n)}"


def saved_name(baseline: str) -> str:
    return f"labels saved vs {baseline} ({LEVEL:.0%} CI)"


SEEDS_NAME = f"seeds for {POWER:.0%} power vs next"


def display_columns(r: pd.DataFrame, baseline: str, is_baseline: list[bool]) -> dict[str, list[str]]:
    """The two columns as ``ranking_display`` shows them (none for a ranking built without them)."""
    if SAVED not in r:
        return {}
    return {saved_name(baseline): [saved_text(b, s, lo, hi) for b, s, lo, hi in
                                   zip(is_baseline, r[SAVED], r[SAVED + "_lo"], r[SAVED + "_hi"])],
            SEEDS_NAME: [seeds_text(n) for n in r[SEEDS_NEXT]]}


def sort_keys(r: pd.DataFrame, baseline: str, is_baseline: list[bool]) -> dict[str, list[float]]:
    """What the HTML table sorts the two columns by (the point values; "—" sorts last)."""
    if SAVED not in r:
        return {}
    return {saved_name(baseline): [0.0 if b else float(s) for b, s in zip(is_baseline, r[SAVED])],
            SEEDS_NAME: [float(n) for n in r[SEEDS_NEXT]]}


def help_text(baseline: str) -> dict[str, str]:
    """Column tooltips for the HTML page."""
    return {saved_name(baseline): f"labels {baseline} needs to reach its own final balanced accuracy minus the "
                                  f"labels this method needs (mean curve over seeds, linearly interpolated); {LEVEL:.0%} "
                                  "bootstrap interval over seeds; — never reached",
            SEEDS_NAME: f"seeds a two-sided paired t-test (α = {ALPHA:g}) on per-seed AUBC would need to separate this "
                        f"row from the next at {POWER:.0%} power, given the differences observed (∞: no difference)"}
