"""Leaderboard v1: rank methods per setting by area under the budget curve (AUBC).

For each setting (dataset, imbalance, learner, scenario) and method: AUBC of balanced accuracy
(mean ± std over seeds), the paired gap to random (mean and 95% t-interval over the seeds both
share), final balanced and minority-class accuracy, classes discovered and labelled-set ir; then
the same quantities at each budget. A row whose label ends in "(tuned, N trials)" (``albench tune``'s
suite fragments write such labels) is a tuned method; the notes state the trial budget.
"""
from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.metrics import area_under_budget_curve
from benchmark.report.colors import MethodPalette
from benchmark.report.compare import columns as stats_columns
from benchmark.report.consolidate import describe_setting, setting_columns

ORACLE_MARK = "†"  # reads hidden labels: an oracle ablation
EXTRA_LABELS_MARK = "‡"  # reads labelled data outside the budget (the FK methods' validation set)
MIN_SEEDS = 3
TUNED = re.compile(r"\(tuned, (\d+) trials?\)")  # the label albench tune gives a tuned method


def tuned_label(method: str, trials: int) -> str:
    """How a tuned method is labelled in a suite (and so in every table): ``X (tuned, N trials)``."""
    return f"{method} (tuned, {int(trials)} trial{'' if int(trials) == 1 else 's'})"


def tuned_trials(label: str) -> int:
    """The optuna trials a row's label says were spent tuning it (0: not tuned, its defaults or the suite's)."""
    found = TUNED.search(label)
    return int(found.group(1)) if found else 0


def mark(method: str, oracle: bool, extra_labels: int) -> str:
    """A method's name as tables show it: † for oracle ablations, ‡ for labels outside the budget."""
    return method + (ORACLE_MARK if oracle else "") + (EXTRA_LABELS_MARK if extra_labels else "")


def unmark(name: str) -> str:
    return name.rstrip(ORACLE_MARK + EXTRA_LABELS_MARK)


@dataclass
class SettingBoard:
    title: str
    ranking: pd.DataFrame
    per_budget: pd.DataFrame
    curves: pd.DataFrame  # method, labels_used, mean, std
    baseline: str = "random"


def _ci95(values: np.ndarray) -> float:
    from scipy import stats

    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _fmt(mean: float, std: float, scale: float = 100.0, digits: int = 1) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(std):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def per_seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, method, seed): AUBC and final-round metrics."""
    if "extra_labels" not in table:
        table = table.assign(extra_labels=0)
    keys = setting_columns() + ["method", "seed", "uses_hidden_labels", "extra_labels"]
    rows = []
    for key, g in table.groupby(keys, sort=False):
        g = g.sort_values("round")
        last = g.iloc[-1]
        rows.append({**dict(zip(keys, key)),
                     "aubc": area_under_budget_curve(g["labels_used"], g["balanced_accuracy"]),
                     "final_balanced_accuracy": last["balanced_accuracy"],
                     "final_accuracy": last["accuracy"],
                     "final_minority_accuracy": last["minority_accuracy"],
                     "classes_discovered": last["classes_discovered"],
                     "labelled_ir": last["labelled_ir"]})
    return pd.DataFrame(rows)


def build(table: pd.DataFrame, baseline: str = "random") -> list[SettingBoard]:
    if table.empty:
        return []
    seeds = per_seed_summary(table)
    boards = []
    for key, g in seeds.groupby(setting_columns(), sort=False):
        sub = table.merge(g[setting_columns()].drop_duplicates(), on=setting_columns())
        # what each method row selects in, in this setting (it depends on the scenario kind; tables
        # consolidated before the column existed have none)
        embeddings = sub.groupby("method")["embedding"].first().to_dict() if "embedding" in sub else {}
        base = g[g["method"] == baseline].set_index("seed")["aubc"]
        rows = []
        for method, m in g.groupby("method", sort=False):
            paired = m.set_index("seed")["aubc"].sub(base).dropna() if len(base) else pd.Series(dtype=float)
            name = mark(str(method), bool(m["uses_hidden_labels"].any()), int(m["extra_labels"].max()))
            rows.append({
                "method": name, "extra_labels": int(m["extra_labels"].max()),
                "aubc_mean": m["aubc"].mean(), "aubc_std": m["aubc"].std(ddof=1),
                "gap_mean": paired.mean() if len(paired) else np.nan,
                "gap_ci95": _ci95(paired.to_numpy()) if len(paired) else np.nan,
                "final_mean": m["final_balanced_accuracy"].mean(), "final_std": m["final_balanced_accuracy"].std(ddof=1),
                "minority_mean": m["final_minority_accuracy"].mean(),
                "classes": m["classes_discovered"].mean(), "ir": m["labelled_ir"].mean(),
                "seeds": len(m), "embedding": embeddings.get(method, "–"),
            })
        ranking = pd.DataFrame(rows).sort_values("aubc_mean", ascending=False).reset_index(drop=True)
        ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
        extra = sub["extra_labels"] if "extra_labels" in sub else pd.Series(0, index=sub.index)
        sub = sub.assign(method=[mark(m, bool(o), int(e)) for m, o, e in
                                 zip(sub["method"], sub["uses_hidden_labels"], extra)])
        curves = (sub.groupby(["method", "labels_used"])
                  .agg(mean=("balanced_accuracy", "mean"), std=("balanced_accuracy", "std"),
                       classes=("classes_discovered", "mean"), ir=("labelled_ir", "mean"))
                  .reset_index())
        per_budget = curves.pivot(index="method", columns="labels_used", values="mean")
        marked = g.assign(method=[mark(str(m), bool(o), int(e)) for m, o, e in
                                  zip(g["method"], g["uses_hidden_labels"], g["extra_labels"])])
        ranking = stats_columns.add(ranking, marked, sub, baseline, key)  # labels saved, seeds advice
        boards.append(SettingBoard(describe_setting(key), ranking, per_budget, curves, baseline))
    return boards


def _fmt_gap(is_baseline: bool, mean: float, ci: float) -> str:
    if is_baseline:
        return "baseline"
    if not np.isfinite(mean):
        return "–"
    return f"{mean * 100:+.1f}" + (f" ± {ci * 100:.1f}" if np.isfinite(ci) else "")


def gap_column(baseline: str) -> str:
    """The ranking's paired-gap column, named after its baseline."""
    return f"Δ {baseline} (95% CI)"


def ranking_display(r: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    return pd.DataFrame({
        "#": r["rank"],
        "method": r["method"],
        "AUBC (bal. acc %)": [_fmt(m, s) for m, s in zip(r["aubc_mean"], r["aubc_std"])],
        gap_column(baseline): [_fmt_gap(unmark(name) == baseline, m, c)
                              for name, m, c in zip(r["method"], r["gap_mean"], r["gap_ci95"])],
        "final bal. acc %": [_fmt(m, s) for m, s in zip(r["final_mean"], r["final_std"])],
        "minority acc %": [_fmt(m, np.nan) for m in r["minority_mean"]],
        "classes": [_num(c, 1) for c in r["classes"]],
        "ir": [_num(v, 3) for v in r["ir"]],
        "embedding": r["embedding"],
        "seeds": r["seeds"],
        **stats_columns.display_columns(r, baseline, [unmark(m) == baseline for m in r["method"]]),
    })


def _num(value: float, digits: int) -> str:
    """A number with ``digits`` decimals, "–" where there is none (no model yet at 0 labels)."""
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def per_budget_display(b: SettingBoard) -> pd.DataFrame:
    c = b.curves
    cell = c.assign(text=[f"{_num(m * 100, 1)} · {_num(k, 1)} · {_num(i, 2)}"
                          for m, k, i in zip(c["mean"], c["classes"], c["ir"])])
    out = cell.pivot(index="method", columns="labels_used", values="text")
    out = out.reindex([m for m in b.ranking["method"] if m in out.index])
    out.columns = [f"{int(x)} labels" for x in out.columns]
    return out.reset_index()


def notes(boards: list[SettingBoard]) -> list[str]:
    """What a careful reader must know: oracle rows, labels outside the budget, too few seeds, tuned rows."""
    out = []
    tuned = sorted({n for b in boards for m in b.ranking["method"] if (n := tuned_trials(str(m)))})
    if tuned:
        counts = str(tuned[0]) if len(tuned) == 1 else f"{', '.join(map(str, tuned[:-1]))} or {tuned[-1]}"
        out.append(f"**Tuned:** tuned rows used {counts} optuna trials on the validation split; untuned rows use "
                   f"their defaults (or the suite's parameters), so a gap between a tuned and an untuned row "
                   f"partly measures the tuning budget.")
    if any(ORACLE_MARK in m for b in boards for m in b.ranking["method"]):
        out.append(f"{ORACLE_MARK} uses hidden labels (oracle ablation): an upper limit, not a competitor.")
    extra = sorted({int(e) for b in boards for e in b.ranking["extra_labels"] if e})
    if extra:
        out.append(f"{EXTRA_LABELS_MARK} also reads {', '.join(map(str, extra))} labelled validation images outside "
                   f"the labelling budget (weak supervision, CVPR 2020 Alg. 1 line 3): not a same-budget comparison.")
    few = sorted({int(s) for b in boards for s in b.ranking["seeds"] if s < MIN_SEEDS})
    if few:
        out.append(f"**Few seeds:** some rows have only {', '.join(map(str, few))} seed(s); their ± and 95% "
                   f"intervals rest on too few runs to separate methods. Use at least {MIN_SEEDS} (5-10 to cite a gap).")
    return out


def to_markdown(suite_name: str, boards: list[SettingBoard], missing: int, failed: int) -> str:
    lines = [f"# Leaderboard: {suite_name}", ""]
    baseline = boards[0].baseline if boards else "random"
    lines.append("Ranked by area under the budget curve (AUBC) of test accuracy averaged over classes; "
                 f"mean ± std over seeds. Δ {baseline} is the paired per-seed AUBC difference to {baseline} "
                 "(the baseline) with a 95% t-interval, in percentage points. Final columns are at the last budget. "
                 "ir = σ/μ of the labelled set's class counts. "
                 "embedding: what a method selects in (self-supervised: the pool's self-supervised embedding; "
                 "learner: the task model's features; source: the one-shot source model's; –: scores only).")
    lines += notes(boards)
    if missing or failed:
        lines.append(f"**Incomplete:** {missing} cell(s) not run yet, {failed} failed (see `albench status`).")
    for b in boards:
        lines += ["", f"## {b.title}", "", ranking_display(b.ranking, b.baseline).to_markdown(index=False), "",
                  "Balanced accuracy % · classes discovered · labelled ir, at each budget:", "",
                  per_budget_display(b).to_markdown(index=False)]
    return "\n".join(lines) + "\n"


def ranking_csv(boards: Sequence[SettingBoard]) -> pd.DataFrame:
    """The rankings of every setting as one flat table for ``leaderboard.csv``: the paired-gap columns
    name their baseline (``gap_vs_random_mean``, ``gap_vs_random_ci95``) and ``baseline`` says it again."""
    frames = []
    for b in boards:
        r = b.ranking.rename(columns={"gap_mean": f"gap_vs_{b.baseline}_mean", "gap_ci95": f"gap_vs_{b.baseline}_ci95"})
        frames.append(r.assign(baseline=b.baseline, setting=b.title))
    return pd.concat(frames) if frames else pd.DataFrame()


def band_label(seeds: Iterable[int]) -> str:
    """What a curve's shaded band is: ± 1 std over the seeds (with their number)."""
    n = sorted({int(s) for s in seeds})
    if not n:
        return "band: ± 1 std over seeds"
    if n == [1]:
        return "1 seed: no band"
    count = str(n[0]) if len(n) == 1 else f"{n[0]}–{n[-1]}"
    return f"band: ± 1 std over {count} seeds"


def plot_panels(panels: list[tuple[str, pd.DataFrame, list[str]]], path: Path, ylabel: str, *,
                palette: MethodPalette | None = None, bands: Sequence[str] | None = None,
                xlabel: str = "labels used (count)") -> None:
    """One learning-curve panel per (title, curves, method order); curves has method, labels_used,
    mean and std (fractions). Mean ± std bands (``bands``: one label per panel, e.g. from
    :func:`band_label`); oracle ablations (†) dashed. One colour per method (``palette``: pass the
    suite's so that every figure agrees; default, one over the methods shown). Up to three panels a
    row; more than ten methods move the legend out of the panels into one shared legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels:
        return
    palette = palette or MethodPalette([m for _, _, order in panels for m in order])
    bands = list(bands) if bands is not None else ["band: ± 1 std over seeds"] * len(panels)
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    shared = max(len(order) for _, _, order in panels) > 10
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols + (2.5 if shared else 0), 4.8 * nrows), squeeze=False)
    handles: dict[str, Any] = {}
    for ax, (title, curves, order), band in zip(axes.flat, panels, bands):
        for method in order:
            c = curves[curves["method"] == method].sort_values("labels_used")
            x, m, s = c["labels_used"], c["mean"] * 100, c["std"].fillna(0) * 100
            color = palette.color(method)
            (line,) = ax.plot(x, m, marker=palette.marker(method), ms=3.5, lw=1.5, color=color,
                              ls=palette.linestyle(method), label=method)
            ax.fill_between(x, m - s, m + s, color=color, alpha=0.12, lw=0)
            handles.setdefault(method, line)
        ax.set_title(textwrap.fill(title, 80), fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if shared:
            ax.text(0.99, 0.01, band, transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
        else:
            ax.legend(fontsize=7, title=band, title_fontsize=7, loc="best")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    if shared:
        fig.legend(list(handles.values()), list(handles), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_curves(boards: list[SettingBoard], path: Path, palette: MethodPalette | None = None) -> None:
    palette = palette or MethodPalette([m for b in boards for m in b.ranking["method"]],
                                       boards[0].baseline if boards else "random")
    plot_panels([(b.title, b.curves, list(b.ranking["method"])) for b in boards], path,
                "test accuracy averaged over classes (%)", palette=palette,
                bands=[band_label(b.ranking["seeds"]) for b in boards])


def print_terminal(suite_name: str, boards: list[SettingBoard], missing: int, failed: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    for b in boards:
        disp = ranking_display(b.ranking, b.baseline)
        t = Table(title=f"{suite_name}: {b.title}", title_justify="left")
        for col in disp.columns:
            t.add_column(str(col), justify="left" if col == "method" else "right")
        for row in disp.itertuples(index=False):
            t.add_row(*[str(v) for v in row])
        console.print(t)
    for note in notes(boards):
        console.print(note)
    if missing or failed:
        console.print(f"[yellow]Incomplete: {missing} cell(s) not run, {failed} failed.[/yellow]")


# LaTeX: pdflatex reads ASCII; the symbols the tables use become their LaTeX commands.
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_SYMBOLS = {"Δ": r"$\Delta$", "±": r"$\pm$", "σ": r"$\sigma$", "μ": r"$\mu$", "–": "--", "·": r"$\cdot$",
                  "×": r"$\times$", ORACLE_MARK: r"\textsuperscript{\dag}",
                  EXTRA_LABELS_MARK: r"\textsuperscript{\ddag}", "ŷ": r"$\hat{y}$", "≤": r"$\leq$", "≥": r"$\geq$", "∘": r"$\circ$", "—": "---", "∞": r"$\infty$", "≈": r"$\approx$"}


def latex_text(text: str) -> str:
    """``text`` as LaTeX source: specials escaped, the tables' symbols (Δ ± † ‡ σ μ ŷ …) as commands."""
    out = []
    for ch in str(text):
        out.append(_LATEX_SPECIALS.get(ch) or _LATEX_SYMBOLS.get(ch) or ch)
    return "".join(out)


def to_latex(suite_name: str, boards: Sequence[SettingBoard]) -> str:
    """``leaderboard.tex``: per setting, the ranking of ``leaderboard.md`` (same rows, same marks) as a
    booktabs table with its caption; needs ``\\usepackage{booktabs}``."""
    from pandas.io.formats.style import Styler

    parts = [f"% Leaderboard: {latex_text(suite_name)} (written by albench leaderboard; needs \\usepackage{{booktabs}})"]
    notes_text = notes(list(boards))
    for n in notes_text:
        parts.append("% " + n.replace("\n", " ").replace("**", "").replace("`", ""))
    for i, b in enumerate(boards, start=1):
        display = ranking_display(b.ranking, b.baseline)
        table = pd.DataFrame({latex_text(c): [latex_text(v) for v in display[c]] for c in display.columns})
        caption = (f"{latex_text(b.title)}. AUBC of balanced accuracy (\\%), mean $\\pm$ std over seeds; "
                   f"$\\Delta$ {latex_text(b.baseline)}: paired per-seed AUBC difference to {latex_text(b.baseline)} "
                   f"with the half-width of its 95\\% t-interval (points).")
        align = "".join("l" if c == "method" else "r" for c in display.columns)
        styler = Styler(table).hide(axis="index")
        parts.append(styler.to_latex(hrules=True, column_format=align, caption=caption,
                                     label=f"tab:{_latex_label(suite_name)}-{i}", position="ht"))
    return "\n".join(parts)


def _latex_label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "suite"
