"""Per-phase cost profile of a suite: seconds and forward/backward passes per AL round.

The CVPR 2020 FK paper (Table 1) compares methods by passes per round in the AL phase
(infer + select) and in the retraining phase; this table gives both, measured.
"""
from __future__ import annotations

import pandas as pd

from benchmark.core.profiling import PHASES
from benchmark.report.consolidate import describe_setting, setting_columns


def profile_table(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per setting: one row per method, mean over seeds and selection rounds (all but the last)."""
    out = []
    for key, g in table.groupby(setting_columns(), sort=False):
        selecting = g[g["round"] < g.groupby("cell_id")["round"].transform("max")]
        selecting = selecting.assign(train_passes=selecting["train_forward"] + selecting["train_backward"])
        cols = {}
        for p in ("train", "infer", "select"):
            cols[f"{p} s"] = selecting.groupby("method")[f"{p}_seconds"].mean()
        cols["infer fwd"] = selecting.groupby("method")["infer_forward"].mean()
        cols["train fwd+bwd"] = selecting.groupby("method")["train_passes"].mean()
        cols["peak RSS MB"] = g.groupby("method")[[f"{p}_peak_rss_mb" for p in PHASES]].max().max(axis=1)
        cols["peak GPU MB"] = g.groupby("method")[[f"{p}_gpu_peak_mb" for p in PHASES]].max().max(axis=1)
        df = pd.DataFrame(cols).sort_values("infer s")
        out.append((describe_setting(key), df.reset_index()))
    return out


def to_markdown(suite_name: str, profiles: list[tuple[str, pd.DataFrame]]) -> str:
    lines = [f"# Cost profile: {suite_name}", "",
             "Mean per AL round (rounds that select), over seeds. Passes count one per sample; "
             "`infer fwd` is the AL phase's forward passes, `train fwd+bwd` the retraining phase's."]
    for title, df in profiles:
        lines += ["", f"## {title}", "", df.to_markdown(index=False, floatfmt=".3f")]
    return "\n".join(lines) + "\n"
