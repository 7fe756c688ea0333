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


SHARED = "pretrain"  # the phase of shared one-time artifacts: computed once per (setting, seed), then cached
SHARED_WHAT = "rotation pretraining, self-supervised embedding or source-model features"


def _shared_computed(g: pd.DataFrame) -> pd.Series:
    """Per cell of ``g``: whether it computed a shared artifact itself (it counted passes in the shared
    phase) rather than loading it from the cache or waiting for the cell that computed it."""
    col = f"{SHARED}_forward"
    if col not in g:
        return pd.Series(False, index=pd.Index(g["cell_id"].unique(), name="cell_id"))
    return g.groupby("cell_id")[col].sum() > 0


def profile_table(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per setting: one row per method, each cell's own phases summed over its rounds, averaged over seeds.

    The shared phase (``pretrain``: artifacts computed once per setting and seed and reused by every
    method, see :func:`shared_cost_table`) is not a cell's own cost: it is left out of the method's
    phases and of its wall time. What a cell spent in that phase without computing the artifact (loading
    it, or waiting while a concurrent cell computed it) stays its own, as ``shared wait s``.
    """
    out = []
    phases = [p for p in _present(table, "seconds") if p != SHARED]
    for key, g in table.groupby(setting_columns(), sort=False):
        per_cell = g.groupby(["method", "cell_id"])
        cols: dict[str, pd.Series] = {}
        for p in phases:
            cols[f"{p} s"] = per_cell[f"{p}_seconds"].sum().groupby("method").mean()
        computed_shared = pd.Series(0.0, index=pd.MultiIndex.from_frame(g[["method", "cell_id"]].drop_duplicates()))
        if f"{SHARED}_seconds" in g:
            shared = per_cell[f"{SHARED}_seconds"].sum()
            computed = _shared_computed(g).reindex(shared.index.get_level_values("cell_id")).to_numpy()
            computed_shared = shared.where(computed, 0.0)
            if shared.any():
                cols["shared wait s"] = shared.where(~computed, 0.0).groupby("method").mean()
        total_phases = sum(cols.values())
        cols["phases s"] = total_phases
        if "cell_seconds" in g:
            wall = (per_cell["cell_seconds"].first() - computed_shared.reindex(per_cell["cell_seconds"].first().index)
                    .fillna(0.0)).groupby("method").mean()
            cols["cell wall s"] = wall
            cols["accounted %"] = 100 * total_phases / wall
        if "store_seconds" in g and g["store_seconds"].notna().any():
            cols["store s"] = per_cell["store_seconds"].first().groupby("method").mean()
        for p in _present(g, "forward"):
            if p == SHARED:
                continue
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


def shared_cost_table(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per setting that has a shared phase: the one-time artifacts' cost, counted once per seed.

    One row per setting: ``seeds computed`` (seeds whose artifact a cell of this store computed),
    ``seeds from cache`` (seeds where every cell found it cached by an earlier run), the seconds and
    forward+backward passes of computing it (mean over the seeds that computed it) and the method of
    the cell that happened to compute it (whichever ran first: the cost is not that method's)."""
    out: dict[str, pd.DataFrame] = {}
    if f"{SHARED}_seconds" not in table:
        return out
    for key, g in table.groupby(setting_columns(), sort=False):
        computed = _shared_computed(g)
        cells = g.groupby("cell_id").agg(seed=("seed", "first"), method=("method", "first"),
                                         seconds=(f"{SHARED}_seconds", "sum"))
        passes = g.groupby("cell_id")[[c for c in (f"{SHARED}_forward", f"{SHARED}_backward") if c in g]].sum().sum(axis=1)
        cells = cells.assign(passes=passes, computed=computed.reindex(cells.index).fillna(False).astype(bool))
        if not (cells["computed"].any() or cells["seconds"].gt(0.5).any()):
            continue
        done = cells[cells["computed"]]
        by_seed = done.groupby("seed").agg(seconds=("seconds", "sum"), passes=("passes", "sum"))
        seeds = cells["seed"].nunique()
        counts = done["method"].value_counts()
        out[describe_setting(key)] = pd.DataFrame([{
            "what": SHARED_WHAT,
            "seeds computed": len(by_seed), "seeds from cache": seeds - len(by_seed),
            "seconds per seed": by_seed["seconds"].mean() if len(by_seed) else float("nan"),
            "fwd+bwd per seed": by_seed["passes"].mean() if len(by_seed) else float("nan"),
            "computed in the cell of": ", ".join(f"{m} ×{n}" for m, n in counts.items()) or "–",
        }])
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


PROFILE_INTRO = (
    "Per cell: each phase summed over all the cell's rounds, then the mean over seeds ("
    "`albench curves` gives each round's passes and seconds). A cell's own phases: load (data, splits, "
    "set-up), train, evaluate, infer (what the method needs, including the passes it triggers inside "
    "select), select, label; `shared wait s` is the time a cell spent loading a shared one-time artifact "
    f"({SHARED_WHAT}) or waiting for the concurrent cell that computed it. Computing such an artifact is "
    "not any method's cost: it is shown once per setting, in the shared-cost table, and left out of the "
    "cell wall time of the cell that happened to compute it. `phases s` is the sum of the cell's own phases, "
    "`cell wall s` the cell's measured time (without the shared computation), `accounted %` the share the "
    "phases explain; `store s` is the result store writing the cell afterwards (its files and checksums). "
    "Passes count one per sample and pass (forward + backward). Peak memory is per cell: CPU RSS since the "
    "cell started and, on a GPU, the allocator's peak.")

SHARED_INTRO = (
    "Shared one-time cost, once per seed of the setting (computed by the first cell of the seed that "
    "needed it, then read from the cache by every other cell of that seed, whatever its method):")


def column_digits(name: str) -> int:
    """Decimals a profile column is shown with: passes and counts are whole numbers (a mean over seeds is
    rounded to one pass), percentages one decimal, seconds and megabytes two."""
    if name.endswith(("fwd+bwd", "fwd+bwd per seed")) or name.startswith("seeds "):
        return 0
    return 1 if name.endswith("%") else 2


def _md(df: pd.DataFrame) -> str:
    formats = tuple(f".{column_digits(str(c))}f" for c in df.columns)
    return df.to_markdown(index=False, floatfmt=formats)


def to_markdown(suite_name: str, profiles: list[tuple[str, pd.DataFrame]],
                shared: dict[str, pd.DataFrame] | None = None) -> str:
    shared = shared or {}
    lines = [f"# Cost profile: {suite_name}", "", PROFILE_INTRO]
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
        lines += ["", f"## {title}", "", "Per cell (sum over its rounds), mean over seeds:", "",
                  _md(df.drop(columns=gpu))]
        if gpu:
            lines += ["", "GPU:", "", _md(df[["method", *gpu]])]
        if title in shared:
            lines += ["", SHARED_INTRO, "", _md(shared[title])]
    return "\n".join(lines) + "\n"
