"""Per-phase cost profile of a suite: where a cell's time, passes and memory go.

The CVPR 2020 FK paper (Table 1) compares methods by forward and backward passes per round in the
AL phase (infer + select) and in the retraining phase. Per method (mean over seeds), this gives
the seconds of every phase of a whole cell, their total against the cell's measured wall time,
forward/backward passes of every phase, and the cell's peak memory (CPU RSS since the cell
started; on a GPU, ``torch.cuda.max_memory_allocated``).
"""
from __future__ import annotations

import pandas as pd

from benchmark.core.profiling import PHASES
from benchmark.report.consolidate import describe_setting, setting_columns


def _present(table: pd.DataFrame, suffix: str) -> list[str]:
    return [p for p in PHASES if f"{p}_{suffix}" in table]


def profile_table(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per setting: one row per method, per-cell sums over rounds, averaged over seeds."""
    out = []
    phases = _present(table, "seconds")
    for key, g in table.groupby(setting_columns(), sort=False):
        per_cell = g.groupby(["method", "cell_id"])
        cols: dict[str, pd.Series] = {}
        for p in phases:
            cols[f"{p} s"] = per_cell[f"{p}_seconds"].sum().groupby("method").mean()
        total_phases = sum(cols.values())
        cols["phases s"] = total_phases
        if "cell_seconds" in g:
            wall = per_cell["cell_seconds"].first().groupby("method").mean()
            cols["cell wall s"] = wall
            cols["accounted %"] = 100 * total_phases / wall
        if "store_seconds" in g and g["store_seconds"].notna().any():
            cols["store s"] = per_cell["store_seconds"].first().groupby("method").mean()
        for p in _present(g, "forward"):
            fwd = per_cell[f"{p}_forward"].sum()
            bwd = per_cell[f"{p}_backward"].sum() if f"{p}_backward" in g else 0
            passes = (fwd + bwd).groupby("method").mean()
            if passes.any():
                cols[f"{p} fwd+bwd"] = passes
        rss_cols = [f"{p}_peak_rss_mb" for p in _present(g, "peak_rss_mb")]
        if rss_cols:
            cols["peak RSS MB"] = g[rss_cols].max(axis=1).groupby(g["method"]).max()
        gpu_cols = [f"{p}_gpu_peak_mb" for p in _present(g, "gpu_peak_mb")]
        gpu = g[gpu_cols].max(axis=1) if gpu_cols else pd.Series(0.0, index=g.index)
        if gpu.any():
            cols["peak GPU MB"] = gpu.groupby(g["method"]).max()
        df = pd.DataFrame(cols).sort_values("phases s")
        out.append((describe_setting(key), df.reset_index()))
    return out


def to_markdown(suite_name: str, profiles: list[tuple[str, pd.DataFrame]]) -> str:
    lines = [f"# Cost profile: {suite_name}", "",
             "Per cell (summed over its rounds), mean over seeds. Seconds per phase: load (data, splits), "
             "pretrain (rotation, cached after the first cell), train, evaluate, infer (what the method needs, "
             "including the passes it triggers inside select), select, label. `phases s` is their sum, "
             "`cell wall s` the cell's measured time, `accounted %` the share the phases explain; `store s` is "
             "the result store writing the cell afterwards (its files and checksums). Passes count "
             "one per sample and pass (forward + backward). Peak memory is per cell: CPU RSS since the cell "
             "started and, on a GPU, the allocator's peak."]
    for title, df in profiles:
        lines += ["", f"## {title}", "", df.to_markdown(index=False, floatfmt=".2f")]
    return "\n".join(lines) + "\n"
