"""Per-phase cost profile of a suite: where a cell's time, passes and memory go.

The CVPR 2020 FK paper (Table 1) compares methods by forward and backward passes per round in the
AL phase (infer + select) and in the retraining phase. Per method (mean over seeds), this gives
the seconds of every phase of a whole cell, their total against the cell's measured wall time,
forward/backward passes of every phase, and the cell's peak memory (CPU RSS since the cell
started; on a GPU, ``torch.cuda.max_memory_allocated``).

Cells that ran on a GPU also carry ``<phase>_gpu_seconds`` (the seconds the device was busy in the
phase: NVML utilisation integrated over it, see ``benchmark.core.profiling.PhaseTimer``); then the
table adds, per method, the GPU-busy seconds of every phase, their sum (``GPU s``), its share of the
cell's wall time (``GPU busy %``) and the peak allocated GPU memory of every phase (``<phase> GPU
MB``). ``to_markdown`` puts these GPU columns in a second table under each setting. Without those
columns (CPU suites) the profile is what it always was.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from benchmark.core.profiling import PHASES
from benchmark.report.consolidate import describe_setting, setting_columns

if TYPE_CHECKING:
    from pandas.api.typing import DataFrameGroupBy


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
        cols.update(_gpu_busy(g, per_cell, cols.get("cell wall s")))
        if gpu.any():
            cols["peak GPU MB"] = gpu.groupby(g["method"]).max()
            cols.update(_gpu_phase_peaks(g, per_cell))
        df = pd.DataFrame(cols).sort_values("phases s")
        out.append((describe_setting(key), df.reset_index()))
    return out


def _gpu_busy(g: pd.DataFrame, per_cell: DataFrameGroupBy, wall: pd.Series | None) -> dict[str, pd.Series]:
    """GPU-busy seconds per phase, their sum and its share of the cell's wall time; nothing where no cell
    of the setting measured GPU-busy time."""
    busy = [p for p in _present(g, "gpu_seconds") if g[f"{p}_gpu_seconds"].notna().any()]
    if not busy:
        return {}
    cols: dict[str, pd.Series] = {}
    for p in busy:
        cols[f"{p} GPU s"] = per_cell[f"{p}_gpu_seconds"].sum().groupby("method").mean()
    total = per_cell[[f"{p}_gpu_seconds" for p in busy]].sum().sum(axis=1).groupby("method").mean()
    cols["GPU s"] = total
    if wall is not None:
        cols["GPU busy %"] = 100 * total / wall
    return cols


def _gpu_phase_peaks(g: pd.DataFrame, per_cell: DataFrameGroupBy) -> dict[str, pd.Series]:
    """Per phase that allocated GPU memory: its peak, the maximum over rounds and seeds."""
    cols: dict[str, pd.Series] = {}
    for p in _present(g, "gpu_peak_mb"):
        peak = per_cell[f"{p}_gpu_peak_mb"].max().groupby("method").max()
        if peak.any():
            cols[f"{p} GPU MB"] = peak
    return cols


def _is_gpu_column(name: str) -> bool:
    """The columns ``to_markdown`` shows in a setting's second, GPU table."""
    return name in ("GPU s", "GPU busy %") or name.endswith((" GPU s", " GPU MB"))


def to_markdown(suite_name: str, profiles: list[tuple[str, pd.DataFrame]]) -> str:
    lines = [f"# Cost profile: {suite_name}", "",
             "Per cell (summed over its rounds), mean over seeds. Seconds per phase: load (data, splits), "
             "pretrain (rotation, cached after the first cell), train, evaluate, infer (what the method needs, "
             "including the passes it triggers inside select), select, label. `phases s` is their sum, "
             "`cell wall s` the cell's measured time, `accounted %` the share the phases explain; `store s` is "
             "the result store writing the cell afterwards (its files and checksums). Passes count "
             "one per sample and pass (forward + backward). Peak memory is per cell: CPU RSS since the cell "
             "started and, on a GPU, the allocator's peak."]
    if any(_is_gpu_column(c) for _, df in profiles for c in df.columns):
        lines += ["", "GPU (cells that ran on CUDA): `<phase> GPU s` is the seconds the GPU was busy during the "
                  "phase, NVML's utilisation (the share of time one or more kernels ran) integrated over it, "
                  "summed over the cell's rounds; it is device-wide, so with several workers on one GPU it "
                  "counts their kernels too, and it is smoothed over NVML's sample period (up to 1 s). "
                  "`GPU s` is their sum and `GPU busy %` its share of the cell's wall time. `<phase> GPU MB` "
                  "is the highest memory the PyTorch allocator held during the phase (the phases nested in it "
                  "included), the maximum over rounds and seeds."]
    for title, df in profiles:
        gpu = [c for c in df.columns if _is_gpu_column(c)]
        lines += ["", f"## {title}", "", df.drop(columns=gpu).to_markdown(index=False, floatfmt=".2f")]
        if gpu:
            lines += ["", "GPU:", "", df[["method", *gpu]].to_markdown(index=False, floatfmt=".2f")]
    return "\n".join(lines) + "\n"
