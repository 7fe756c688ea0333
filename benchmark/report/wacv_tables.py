"""WACV 2020 Tables 2-5 from the one-shot cells of a suite, in the paper's layout (md and LaTeX).

- Table 2: accuracy (%) of each acquisition function per dataset and budget, and G_AL, without balancing;
- Table 3: the same with the balancing step (``<method>+bal``);
- Table 4: classes discovered / ir of the labelled set, without balancing;
- Table 5: the same with balancing.

Accuracy is averaged over every test class (undiscovered classes score 0) and over seeds.
G_AL (eq. 10) = (1/c) Σ_i (acc_i − acc_full) / (acc_max − acc_full) over the c (dataset, budget)
configurations, acc_full = the same M_T trained on the whole imbalanced pool (its own cell), acc_max = 100.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.core.spec import CellSpec
from benchmark.execute.store import ResultStore
from benchmark.report.consolidate import component_label
from benchmark.scenarios.oneshot import FULL_METHOD, OneShotScenario
from benchmark.scenarios.runner import scenario_of

BAL = "+bal"


def collect(cells: Sequence[CellSpec], store: ResultStore) -> pd.DataFrame:
    rows = []
    for spec in cells:
        if not isinstance(scenario_of(spec), OneShotScenario) or not store.is_done(spec.cell_id):
            continue
        r = store.read_rounds(spec.cell_id).iloc[-1]
        summary = store.read_summary(spec.cell_id)
        label = component_label(spec.method)
        rows.append({"dataset": component_label(spec.dataset), "budget": spec.scenario["budget"],
                     "method": label, "method_name": spec.method.name, "balanced": spec.method.name.endswith(BAL),
                     "seed": spec.seed, "accuracy": 100 * float(r["balanced_accuracy"]),
                     "classes": int(r["classes_discovered"]), "ir": float(r["labelled_ir"]),
                     "num_classes": summary.get("num_classes", len(summary.get("induced", {}).get("counts", []))) or np.nan,
                     "oracle": bool(summary.get("uses_hidden_labels", False))})
    return pd.DataFrame(rows)


def g_al(acc: pd.DataFrame, acc_full: pd.Series, acc_max: float = 100.0) -> pd.Series:
    """Eq. 10 per method: acc (method × (dataset, budget)) in %, acc_full per dataset in %. A method
    missing any configuration gets NaN: a mean over fewer configurations would not compare."""
    full = np.array([acc_full[d] for d, _ in acc.columns])
    gaps = (acc.to_numpy(dtype=float) - full) / (acc_max - full)
    return pd.Series(gaps.mean(axis=1), index=acc.index)


def build(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if table.empty:
        return {}
    full = table[table["method_name"] == FULL_METHOD]
    acc_full = full.groupby("dataset")["accuracy"].mean()
    runs = table[table["method_name"] != FULL_METHOD]
    budgets = sorted(runs["budget"].unique())
    datasets = list(dict.fromkeys(runs["dataset"]))
    cols = pd.MultiIndex.from_tuples([(d, b) for d in datasets for b in budgets], names=["dataset", "budget"])
    mean = runs.groupby(["method", "dataset", "budget"]).agg(accuracy=("accuracy", "mean"), std=("accuracy", "std"),
                                                              classes=("classes", "mean"), ir=("ir", "mean"))
    order = list(dict.fromkeys(runs["method"]))
    out: dict[str, pd.DataFrame] = {}
    for balanced, acc_name, disc_name in ((False, "table2", "table4"), (True, "table3", "table5")):
        methods = [m for m in order if m.endswith(BAL) == balanced]
        if not methods:
            continue
        acc = pd.DataFrame(index=methods, columns=cols, dtype=float)
        disc = pd.DataFrame(index=methods, columns=cols, dtype=object)
        for m in methods:
            for d, b in cols:
                if (m, d, b) in mean.index:
                    row = mean.loc[(m, d, b)]
                    acc.loc[m, (d, b)] = row["accuracy"]
                    disc.loc[m, (d, b)] = f"{row['classes']:.1f} / {row['ir']:.3f}"
        shown = acc.round(1).astype(object)
        if set(datasets) <= set(acc_full.index):
            shown[("", "G_AL")] = g_al(acc, acc_full).round(3)
        out[acc_name] = shown
        out[disc_name] = disc.fillna("–")
    full_row = pd.DataFrame({"dataset": acc_full.index, "acc_full": acc_full.round(1).to_numpy()})
    out["acc_full"] = full_row.set_index("dataset")
    ir = runs.groupby(["method"])["ir"].mean()
    pairs = [(m, m + " " + BAL if (m + " " + BAL) in ir.index else m + BAL) for m in order if not m.endswith(BAL)]
    out["ir_change"] = pd.DataFrame([{"method": m, "ir": ir[m], "ir +bal": ir.get(b, np.nan),
                                      "classes": runs[runs["method"] == m]["classes"].mean(),
                                      "classes +bal": runs[runs["method"] == b]["classes"].mean() if b in ir.index else np.nan}
                                     for m, b in pairs]).set_index("method").round(3)
    return out


TITLES = {
    "table2": "Table 2 — accuracy (%) without balancing, and G_AL",
    "table3": "Table 3 — accuracy (%) with the balancing step, and G_AL",
    "table4": "Table 4 — classes discovered / ir of the labelled set, without balancing",
    "table5": "Table 5 — classes discovered / ir of the labelled set, with balancing",
    "acc_full": "acc_full — M_T trained on the whole imbalanced pool (the G_AL reference)",
    "ir_change": "Mean labelled-set ir and classes discovered, before → after balancing (all cells)",
}


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if isinstance(df.columns, pd.MultiIndex):
        df.columns = [f"{d} b={b}" if d else str(b) for d, b in df.columns]
    return df


def write(tables: dict[str, pd.DataFrame], out: Path, suite_name: str, description: str,
          missing_datasets: Sequence[str] = (), pending: int = 0, failed: int = 0) -> Path:
    from tabulate import tabulate

    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {suite_name}: WACV 2020 tables", "", description.strip(), ""]
    if missing_datasets:
        md += ["**Datasets not present (not in these tables):**", ""] + [f"- {m}" for m in missing_datasets] + [""]
    if pending or failed:
        md += [f"**Incomplete: {pending} cells pending, {failed} failed.**", ""]
    latex = []
    for key in ("table2", "table3", "table4", "table5", "acc_full", "ir_change"):
        if key not in tables:
            continue
        df = _flat(tables[key])
        md += [f"## {TITLES[key]}", "", df.to_markdown(), ""]
        latex += [f"% {TITLES[key]}", tabulate(df, headers="keys", tablefmt="latex_booktabs"), ""]
    (out / "tables.md").write_text("\n".join(md))
    (out / "tables.tex").write_text("\n".join(latex))
    return out / "tables.md"
