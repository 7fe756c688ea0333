"""Write a comparison to ``reports/compare/<name>/``: ``compare.md``, ``penalty.csv``, ``ranks.csv``,
``efficiency.csv``, ``seeds.csv``, ``penalty.png``, ``cd.png``, ``index.html`` (the same, as a page
that links back to each suite's leaderboard page) and ``suites.txt`` (the suites compared, one a line:
how a suite's leaderboard page finds the comparisons that include it). No timestamps: the same
results give the same bytes."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.report.colors import MethodPalette
from benchmark.report.compare.analysis import Comparison
from benchmark.report.compare.efficiency import LEVEL, N_BOOT
from benchmark.report.compare.figures import plot_cd, plot_penalty
from benchmark.report.compare.power import POWER

SUITES_FILE = "suites.txt"
COLUMN_SUM = "column sum (times beaten)"


def penalty_csv(c: Comparison) -> pd.DataFrame:
    """Winners × losers, least beaten first, with the column sums as a last row."""
    m = c.penalty.ordered()
    out = pd.concat([m, m.sum(axis=0).to_frame(COLUMN_SUM).T])
    out.index.name = "winner \\ loser"
    return out.round(6)


def ranks_csv(c: Comparison) -> pd.DataFrame:
    r = c.ranks
    if r is None:
        return pd.DataFrame(columns=["method", "average_rank"])
    per_block = r.ranks.T.reindex(r.average.index)
    per_block.columns = [" · seed ".join(map(str, b)) if isinstance(b, tuple) else str(b) for b in per_block.columns]
    out = pd.concat([r.average.rename("average_rank"), per_block], axis=1)
    out.index.name = "method"
    return out.reset_index().round(6)


def _labels(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.0f}"


def _signed(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:+.0f}"


def efficiency_display(c: Comparison, setting: str) -> pd.DataFrame:
    e = c.efficiency
    if e.empty:
        return pd.DataFrame()
    e = e[e["setting"] == setting]
    rows = []
    for method, g in e.groupby("method", sort=True):
        row: dict[str, str] = {"method": method}
        for _, t in g.iterrows():
            name = (f"labels to {c.baseline}'s final ({t['target_accuracy'] * 100:.1f}%)" if t["target"] == "baseline final"
                    else f"labels to {t['target_accuracy'] * 100:.1f}%")
            row[name] = f"{_labels(t['labels'])} [{_labels(t['labels_lo'])}, {_labels(t['labels_hi'])}]"
            if t["target"] == "baseline final" and method == c.baseline:
                row[f"saved vs {c.baseline}"] = "baseline"
            elif t["target"] == "baseline final":
                row[f"saved vs {c.baseline}"] = (f"{_signed(t['labels_saved'])} [{_signed(t['saved_lo'])}, "
                                                 f"{_signed(t['saved_hi'])}]" if np.isfinite(t["labels_saved"]) else "—")
        row["seeds"] = str(int(g["seeds"].iloc[0]))
        rows.append(row)
    return pd.DataFrame(rows)


def seeds_display(c: Comparison, setting: str) -> pd.DataFrame:
    s = c.seeds[c.seeds["setting"] == setting]
    return pd.DataFrame({
        "#": s["rank"], "method": s["method"], "next": s["next"],
        "Δ AUBC (pp)": [f"{g * 100:+.2f}" if np.isfinite(g) else "–" for g in s["aubc_gap"]],
        "sd of Δ (pp)": [f"{v * 100:.2f}" if np.isfinite(v) else "–" for v in s["gap_sd"]],
        "common seeds": s["common_seeds"],
        "paired t p now": [f"{p:.3g}" if np.isfinite(p) else "–" for p in s["p_now"]],
        f"seeds for {POWER:.0%} power": ["∞" if np.isinf(n) else "–" if np.isnan(n) else f"{int(n)}"
                                         for n in s["seeds_needed"]],
    })


def _ranks_text(c: Comparison) -> list[str]:
    r = c.ranks
    if r is None:
        return ["No ranks: see the skipped list above."]
    test = ("Nemenyi test: two methods differ when their average ranks differ by at least the critical difference "
            f"CD = {r.cd:.3f} (k = {r.k}, N = {r.n}, α = {r.alpha:g})" if r.posthoc == "nemenyi" else
            f"Wilcoxon signed-rank test per pair over the {r.n} blocks, p-values adjusted by Holm's procedure "
            f"(α = {r.alpha:g})")
    verdict = "rejects" if r.friedman_p < r.alpha else "does not reject"
    cliques = "; ".join("{" + ", ".join(cl) + "}" for cl in r.cliques()) or "none (every adjacent pair is separated)"
    table = pd.DataFrame({"method": r.average.index, "average rank": [f"{v:.3f}" for v in r.average]})
    caveat = (" The seeds of one setting are repeated runs of it, not the independent data sets Demšar's tests "
              "assume: these ranks and tests describe the settings compared here, not data sets in general (they "
              "become across-data-set statements from 5 settings on, when the blocks are settings)."
              if r.blocks != "settings" else "")
    total = len(c.data.settings)
    over = (f" Settings: all {total}." if len(r.settings) == total else
            f" Settings: {len(r.settings)} of {total} ({'; '.join(r.settings)}): the largest block in which every "
            f"ranked method ran in every setting; the methods and settings left out are listed above.")
    out = [f"Blocks: **{r.blocks}** ({r.n}); methods ranked: {r.k}. Rank 1 = highest AUBC (ties share the mean "
           f"rank).{over}{caveat}",
           f"Friedman test (scipy.stats.friedmanchisquare): χ²_F = {r.friedman_statistic:.3f}, p = {r.friedman_p:.3g}: "
           f"it {verdict} that all methods rank alike at α = {r.alpha:g}"
           + ("" if r.friedman_p < r.alpha else " (Demšar runs a post-hoc test only after a rejection; it is shown "
                                                "for reference)") + ".",
           f"Post-hoc: {test}. Groups no test separates (bars of the diagram): {cliques}.", "",
           table.to_markdown(index=False, disable_numparse=True)]
    if r.pvalues is not None:
        out += ["", "Holm-adjusted Wilcoxon p-values:", "", r.pvalues.map(lambda v: "" if np.isnan(v) else f"{v:.3g}")
                .reset_index(names="method").to_markdown(index=False, disable_numparse=True)]
    return out


def to_markdown(c: Comparison, figures: dict[str, str]) -> str:
    d = c.data
    lines = [f"# Comparison: {c.name}", "",
             f"Suites: {', '.join(c.suites)}. {len(d.settings)} setting(s), {len(d.methods)} method label(s), "
             f"{d.aubc.groupby(['setting', 'method', 'seed']).ngroups} finished cell(s) (each counted once). "
             f"Accuracy is test accuracy averaged over classes (balanced accuracy); AUBC is the leaderboard's area "
             f"under the budget curve.", ""]
    if c.skipped:
        lines += ["**Skipped:**", ""] + [f"- {s}" for s in c.skipped] + [""]
    lines += ["## Pairwise penalty matrix (Ash et al., ICLR 2020, §5)", "",
              f"For every setting and every labelled-set size after a selection (rounds ≥ 1; round 0's labelled set "
              f"is the same for every method), a two-sided paired t-test across seeds (scipy.stats.ttest_rel, "
              f"α = {c.alpha:g}) on balanced accuracy; when the row method beats the column method, the cell gains "
              f"1/L, L = that setting's number of labelled-set sizes, so each setting weighs at most 1. Pairs are "
              f"tested on the seeds both methods have (at least {c.min_seeds}). Rows are winners, columns losers; methods in "
              f"order of the column sum (how often a method is beaten; lower is better). Settings that "
              f"contributed: {len(c.penalty.settings)}.", "",
              penalty_csv(c).map(lambda v: f"{v:.2f}").to_markdown(disable_numparse=True), ""]
    if "penalty" in figures:
        lines += [f"![pairwise penalty matrix]({figures['penalty']})", ""]
    lines += ["## Average ranks and critical-difference diagram (Demšar, JMLR 2006)", ""] + _ranks_text(c) + [""]
    if "cd" in figures:
        lines += [f"![critical-difference diagram]({figures['cd']})", ""]
    lines += ["## Label efficiency", "",
              f"Labels a method needs to reach {c.baseline}'s final balanced accuracy"
              + (f" and {', '.join(f'{t * 100:g}%' for t in c.targets)}" if c.targets else "")
              + f", on its mean curve over seeds, linearly interpolated between rounds; [{LEVEL:.0%} percentile bootstrap "
              f"interval, {N_BOOT} resamples of the seeds it shares with {c.baseline}, seeded]. Saved = {c.baseline}'s "
              "labels minus the method's. — = never reached within the budget (a bound: in some resamples).", ""]
    for s in d.settings:
        e = efficiency_display(c, s)
        if len(e):
            lines += [f"### {s}", "", e.to_markdown(index=False, disable_numparse=True), ""]
    lines += ["## Seeds advice", "",
              f"Each setting's ranking by mean AUBC, adjacent pairs: the paired per-seed AUBC difference, its paired "
              f"t-test now, and the seeds a two-sided paired t-test (α = {c.alpha:g}) would need to separate the pair "
              f"at {POWER:.0%} power given the observed effect size mean(Δ)/sd(Δ) (noncentral t; ∞: no difference "
              "observed). Where it exceeds the seeds run, the data cannot yet carry that ordering.", ""]
    for s in d.settings:
        t = seeds_display(c, s)
        if len(t):
            lines += [f"### {s}", "", t.to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines).rstrip() + "\n"


def to_html(c: Comparison, markdown_tables: dict[str, pd.DataFrame], figures: dict[str, str], palette: MethodPalette,
            suite_pages: dict[str, str]) -> str:
    from benchmark.report.html import figure_html, inline_markup, page_html, table_html

    body = [f"<h1>Comparison: {html.escape(c.name)}</h1>",
            "<p>Suites: " + ", ".join(f'<a href="{html.escape(href)}">{html.escape(s)}</a>' if href else html.escape(s)
                                      for s, href in suite_pages.items())
            + f". {len(c.data.settings)} setting(s), {len(c.data.methods)} method label(s). The same numbers as "
              "<code>compare.md</code> next to this page; click a column header to sort.</p>"]
    if c.skipped:
        body.append('<ul class="notes">' + "".join(f"<li>{inline_markup(s)}</li>" for s in c.skipped) + "</ul>")
    for title, key in (("Pairwise penalty matrix (Ash et al. 2020)", "penalty"),
                       ("Average ranks (Demšar 2006)", "ranks")):
        body.append(f"<h2>{html.escape(title)}</h2>")
        if key in markdown_tables:
            t = markdown_tables[key]
            body.append(table_html(t, table_id=key, palette=palette, method_col=str(t.columns[0])))
        if key in figures or (key == "ranks" and "cd" in figures):
            src = figures.get(key, figures.get("cd", ""))
            body.append(figure_html(src, title, html.escape(title)))
    body.append("<h2>Label efficiency and seeds advice</h2>")
    for i, s in enumerate(c.data.settings, start=1):
        body.append(f"<h3>{html.escape(s)}</h3>")
        e, t = efficiency_display(c, s), seeds_display(c, s)
        if len(e):
            body.append(table_html(e, table_id=f"efficiency-{i}", palette=palette))
        if len(t):
            body.append(table_html(t, table_id=f"seeds-{i}", palette=palette))
    return page_html(f"Comparison: {c.name}", body)


def write(c: Comparison, out: Path, reports_root: Path | None = None) -> list[Path]:
    """Write every file; returns their paths. ``reports_root``: where the suites' own reports are (for links)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("penalty.png", "cd.png"):
        (out / stale).unlink(missing_ok=True)
    palette = MethodPalette(c.data.methods, c.baseline)
    figures: dict[str, str] = {}
    if c.penalty.settings:
        plot_penalty(c.penalty, out / "penalty.png", palette)
        figures["penalty"] = "penalty.png"
    if c.ranks is not None:
        plot_cd(c.ranks, out / "cd.png", palette)
        figures["cd"] = "cd.png"
    penalty = penalty_csv(c)
    penalty.to_csv(out / "penalty.csv")
    ranks_csv(c).to_csv(out / "ranks.csv", index=False)
    c.efficiency.round(6).to_csv(out / "efficiency.csv", index=False)
    c.seeds.round(6).to_csv(out / "seeds.csv", index=False)
    (out / "compare.md").write_text(to_markdown(c, figures), encoding="utf-8")
    (out / SUITES_FILE).write_text("".join(f"{s}\n" for s in c.suites), encoding="utf-8")
    tables = {"penalty": penalty.map(lambda v: f"{v:.2f}").reset_index()}  # first column: winner \ loser
    if c.ranks is not None:
        tables["ranks"] = pd.DataFrame({"method": c.ranks.average.index,
                                        "average rank": [f"{v:.3f}" for v in c.ranks.average]})
    pages = {}
    for s in c.suites:
        page = (reports_root / s / "html" / "index.html") if reports_root is not None else None
        pages[s] = f"../../{s}/html/index.html" if page is not None and page.exists() else ""
    (out / "index.html").write_text(to_html(c, tables, figures, palette, pages), encoding="utf-8")
    return [out / n for n in ("compare.md", "penalty.csv", "ranks.csv", "efficiency.csv", "seeds.csv", *figures.values(),
                              "index.html", SUITES_FILE)]


def including(compare_root: Path, suite: str) -> list[tuple[str, Path]]:
    """(name, page) of every comparison under ``compare_root`` whose suites include ``suite``, by name."""
    if not compare_root.is_dir():
        return []
    out = []
    for listing in sorted(compare_root.glob(f"*/{SUITES_FILE}")):
        if suite in listing.read_text(encoding="utf-8").split():
            out.append((listing.parent.name, listing.parent / "index.html"))
    return out
